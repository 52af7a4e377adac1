"""Choose the character encoding of a feed body before feedparser sees it.

feedparser follows RFC 3023, which goes wrong on real Japanese feeds (see
PLATFORM_FACTS.md section 4): ``text/xml`` without a charset means us-ascii, a header
``charset=ISO-8859-1`` on a Shift_JIS body gives silent mojibake, CP932-only characters
(①, ㈱) in a feed labelled ``Shift_JIS`` make it fall back to iso-8859-2, and a body with
no declaration at all is guessed wrong. So we decide here, with strict decoding trials, and
hand feedparser the raw bytes with a ``charset`` it can trust.
"""

from __future__ import annotations

import codecs
import re

# Labels publishers use -> the Python codec that decodes what they actually send.
# Shift_JIS feeds are in practice Windows-31J (CP932): a superset with ①, ㈱, NEC kanji.
_ALIASES = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "cp932": "cp932",
    "euc-jp": "euc_jis_2004",
    "eucjp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    "euc_jp": "euc_jis_2004",
    "iso-2022-jp": "iso2022_jp_2004",
    "csiso2022jp": "iso2022_jp_2004",
}
# Single-byte labels that decode anything: never trust them over a stricter candidate.
_PERMISSIVE = frozenset({"iso8859-1", "iso8859-2", "iso8859-15", "cp1252", "ascii"})

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ISO2022_ESCAPE = b"\x1b$"
_ISO2022_VARIANTS = ("iso2022_jp_2004", "iso2022_jp_ext", "iso2022_jp_2")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None if Python does not know it."""
    if not label:
        return None
    label = label.strip().lower()
    if label in _ALIASES:
        return _ALIASES[label]
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def declared_charset(body: bytes) -> str | None:
    match = _XML_DECL.match(body[:512])
    return match.group(1).decode("ascii") if match else None


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def kana_share(text: str) -> float:
    """Share of full-width kana among non-ASCII characters. Real Japanese prose is full of
    hiragana particles; Latin-1 or EUC-JP bytes mis-read as CP932 give kanji soup and
    half-width katakana instead, so this tells a right decoding from a wrong one."""
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if not non_ascii:
        return 0.0
    kana = sum(1 for ch in text if "\u3040" <= ch <= "\u30ff")
    return kana / non_ascii


_MIN_KANA_SHARE = 0.1


def detect(body: bytes, content_type: str | None) -> tuple[str, str | None]:
    """Return ``(codec, note)``: the codec to decode ``body`` with and, if the feed's own
    labels were missing or wrong, a human-readable note to record as a warning."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, None
    from_header = header_charset(content_type)
    from_decl = declared_charset(body)
    labels = [label for label in (from_header, from_decl) if label]
    declared = " / ".join(labels)

    # ISO-2022-JP is 7-bit, so look for its escapes before calling a body ASCII. Try the
    # variants: JIS X 0213 (2004), then half-width katakana and JIS X 0212 (ext).
    if _ISO2022_ESCAPE in body or b"\x1b(I" in body:
        declared_iso = any((codec_for(label) or "").startswith("iso2022") for label in labels)
        for codec in _ISO2022_VARIANTS:
            if _decodes(body, codec):
                return codec, None if declared_iso else "ISO-2022-JP body was not declared"
    if body.isascii():
        return "utf-8", None

    for label in labels:
        maybe = codec_for(label)
        if maybe and maybe not in _PERMISSIVE and _decodes(body, maybe):
            return maybe, None
    if _decodes(body, "utf-8"):
        return (
            "utf-8",
            f"declared charset {declared} is wrong; the body is UTF-8" if labels else None,
        )

    # Nothing declared decodes cleanly: try the encodings Japanese feeds really use and keep
    # the reading that looks most like Japanese.
    best, best_share = None, 0.0
    for codec in ("euc_jis_2004", "cp932"):
        try:
            share = kana_share(body.decode(codec))
        except UnicodeDecodeError:
            continue
        if share > best_share:
            best, best_share = codec, share
    if best and best_share >= _MIN_KANA_SHARE:
        if labels:
            return best, f"declared charset {declared} does not match the body; read as {best}"
        return best, f"no charset declared; detected {best}"
    for label in labels:
        fallback = codec_for(label)
        if fallback:
            return fallback, None
    return "cp1252", "body is not UTF-8 or Japanese and declares no charset; read as windows-1252"
