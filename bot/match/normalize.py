"""One normal form for text and terms, so ＡＩ, AI and ai meet, and ｻｲﾊﾞｰ meets サイバー.

- Unicode NFKC: full-width Latin and digits become ASCII (ＡＩ -> AI, ５Ｇ -> 5G), half-width
  katakana become full-width (ｻｲﾊﾞｰ -> サイバー), the ideographic space becomes a space;
- dashes unified: any dash after a katakana character is the long-vowel mark ー (サ―バ ->
  サーバ), any other dash is "-";
- whitespace collapsed to single spaces;
- :func:`fold` lowercases Latin letters for case-insensitive terms, keeping offsets intact.
"""

from __future__ import annotations

import re
import unicodedata

# After NFKC the full-width hyphen (－) is "-" and the half-width prolonged mark (ｰ) is ー;
# these dashes remain to unify.
_OTHER_DASHES = re.compile("[\u2010-\u2015\u2212]")
# A dash after katakana is a long-vowel mark typed with the wrong key (サ-バ, サ―バ).
_KATAKANA_HYPHEN = re.compile("(?<=[\u30a1-\u30fa\u30fc])-")


def normalize(text: str) -> str:
    """NFKC, unified dashes and long-vowel marks, collapsed whitespace. Case is kept."""
    text = unicodedata.normalize("NFKC", text)
    # Each pass only when it can change something: most Japanese text has ー (already
    # right) and no other dash; str.translate would be 2x slower on CJK text.
    if _OTHER_DASHES.search(text):
        text = _OTHER_DASHES.sub("-", text)
    if "-" in text:
        text = _KATAKANA_HYPHEN.sub("ー", text)
    # split/join: the same result as re.sub(r"\s+", " ").strip(), three times faster
    return " ".join(text.split())


def fold(text: str) -> str:
    """Lowercase for matching, with the same length as ``text`` so offsets still line up."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    # A few characters lowercase to two (İ -> i̇): keep those as they are.
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
