"""Choose the character encoding of a feed body, and hand feedparser bytes it reads right.

feedparser follows RFC 3023, which goes wrong on real Japanese feeds (see
PLATFORM_FACTS.md section 4): ``text/xml`` without a charset means us-ascii, a header
``charset=ISO-8859-1`` on a Shift_JIS body gives silent mojibake, CP932-only characters
(①, ㈱) in a feed labelled ``Shift_JIS`` make it fall back to iso-8859-2, and a body with
no declaration at all is guessed wrong. So we decide here, with strict decoding trials.

:func:`prepare` tries, in order, and stops at the first that holds:

1. a byte-order mark, the null-byte pattern of a BOM-less UTF-16/UTF-32 ``<``, or the
   EBCDIC ``<?xm`` (whose declared label is then read in EBCDIC);
2. ISO-2022-JP escapes; a body of ASCII bytes only (UTF-8);
3. the labels in the HTTP header and the XML declaration (Shift_JIS read as CP932);
4. UTF-8; then EUC-JP or CP932, whichever reading looks like Japanese (kana share), so a
   Latin-1 English feed is never taken for Shift_JIS;
5. a body that is overwhelmingly valid in UTF-8 (or in its declared multibyte charset) with a
   few broken sequences: decoded with those bytes replaced by U+FFFD;
6. a declared single-byte label (which decodes anything);
7. charset-normalizer, a general detector, for the rest (KOI8-R, EUC-KR, GBK, Big5, ...);
8. UTF-8 with every undecodable byte replaced.

The cheap cases (3-4 and 6 with a clean decode) hand feedparser the original bytes and the
chosen charset; every other case hands it the text re-encoded as UTF-8, so feedparser never
has to guess (its own fallback is windows-1252, then iso-8859-2). Anything that is not what
the feed said about itself is returned as a note for the feed's warnings.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass

# Labels publishers use -> the Python codec that decodes what they actually send.
# Shift_JIS feeds are in practice Windows-31J (CP932): a superset with ①, ㈱, NEC kanji.
# GB2312 and EUC-KR are read as their supersets GB18030 and CP949 (UHC), as browsers do.
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
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
}
# Single-byte labels that decode anything: never trust them over a stricter candidate.
_PERMISSIVE = frozenset({"iso8859-1", "iso8859-2", "iso8859-15", "cp1252", "ascii"})

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
# The encoding pseudo-attribute of a declaration, rewritten when we re-encode as UTF-8.
_DECL_ENCODING = re.compile(r"""\A(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"'>]*\2""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
# UTF-32 marks first: FF FE 00 00 also starts with the UTF-16 little-endian mark.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Without a mark, a document in UTF-16/32 still starts with "<" (perhaps after whitespace),
# and its null bytes say which width and byte order: decode the head each way, keep the one
# that reads as markup without NULs (XML 1.0 appendix F).
_NULL_PATTERN_CODECS = ("utf-32-be", "utf-32-le", "utf-16-be", "utf-16-le")
_MARKUP_START = re.compile(r"\s*<[?!A-Za-z_]")
_EBCDIC_XML = b"\x4c\x6f\xa7\x94"  # "<?xm" in the EBCDIC code pages
_ISO2022_ESCAPE = b"\x1b$"
_ISO2022_VARIANTS = ("iso2022_jp_2004", "iso2022_jp_ext", "iso2022_jp_2")
# Codecs whose bytes for ASCII are not ASCII, or that shift state with ASCII bytes: their
# bodies are always re-encoded as UTF-8 so that byte-level repairs (bot.ingest.xmlrepair) and
# feedparser's ASCII sniffing see real characters.
_NOT_ASCII_SAFE = ("utf_16", "utf_32", "utf_7", "iso2022", "hz")

# The characters byte-level repairs and feedparser's sniffing look for.
_ASCII_PROBE = "<?xml version encoding &#x;[]!-\"'=>"
_MIN_KANA_SHARE = 0.1
# "Overwhelmingly valid": at most one broken sequence per this many good non-ASCII
# characters (1 in 20 without a label; 1 in 2 when the feed declares this very charset).
_REPAIR_RATIO_UNDECLARED = 20
_REPAIR_RATIO_DECLARED = 2


@dataclass(frozen=True)
class Prepared:
    """A body ready for feedparser: ``data`` is in ``charset``; ``codec`` is what the feed
    was actually written in (``data`` is UTF-8 when it had to be re-encoded)."""

    codec: str
    data: bytes
    charset: str
    notes: tuple[str, ...] = ()


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


def _ascii_safe(codec: str) -> bool:
    name = codec.replace("-", "_")
    if name.startswith(_NOT_ASCII_SAFE):
        return False
    try:
        return _ASCII_PROBE.encode(codec) == _ASCII_PROBE.encode("ascii")
    except (UnicodeEncodeError, LookupError):
        return False


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


# Lenient decoding that says how much it replaced. surrogateescape runs at C speed and turns
# each undecodable byte into one lone surrogate (U+DC80-U+DCFF), which no real decoding
# produces; codecs whose errors can cover ASCII bytes (UTF-16/32) need a counting handler.
_ESCAPED = re.compile("[\udc80-\udcff]+")
_tally = threading.local()


def _replace_counting(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _tally.bad += error.end - error.start
    _tally.runs += 1
    return "\ufffd", error.end


codecs.register_error("bot.replace-counting", _replace_counting)


@dataclass(frozen=True)
class _Lenient:
    text: str
    bad_bytes: int
    bad_runs: int
    good_non_ascii: int

    def overwhelming(self, ratio: int) -> bool:
        return self.bad_runs * ratio <= self.good_non_ascii


def _decode_lenient(body: bytes, codec: str) -> _Lenient:
    try:
        text = body.decode(codec, "surrogateescape")
    except UnicodeDecodeError:
        _tally.bad = _tally.runs = 0
        text = body.decode(codec, "bot.replace-counting")
        non_ascii = len(text) - len(text.encode("ascii", "ignore"))
        return _Lenient(text, _tally.bad, _tally.runs, non_ascii - _tally.runs)
    runs = _ESCAPED.findall(text)
    bad = sum(len(run) for run in runs)
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if runs:
        text = _ESCAPED.sub("\ufffd", text)
    return _Lenient(text, bad, len(runs), non_ascii - bad)


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8 bytes for feedparser: no BOM, and a declaration that says UTF-8."""
    text = text.removeprefix("\ufeff")
    text = _DECL_ENCODING.sub(r"\1\2utf-8\2", text, count=1)
    return text.encode("utf-8", "replace")


def _replaced(lenient: _Lenient) -> str:
    return (
        f"{lenient.bad_bytes} undecodable byte(s) in {lenient.bad_runs} place(s) replaced by U+FFFD"
    )


def _transcoded(body: bytes, codec: str, notes: list[str]) -> Prepared:
    """Decode ``body`` as ``codec`` (replacing what does not decode) and re-encode as UTF-8."""
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        lenient = _decode_lenient(body, codec)
        text = lenient.text
        notes = [*notes, f"{_replaced(lenient)} (read as {codec})"]
    return Prepared(codec, _utf8(text), "utf-8", tuple(notes))


def _family(codec: str | None) -> str:
    """utf-16-le -> utf_16: a label that names UTF-16 agrees with either byte order."""
    name = (codec or "").replace("-", "_")
    for family in ("utf_16", "utf_32"):
        if name.startswith(family):
            return family
    return name


def _sniffed(body: bytes, header: str | None) -> Prepared | None:
    """A body whose first bytes say its encoding: a byte-order mark, a BOM-less UTF-16/32
    ``<``, or EBCDIC ``<?xm``. None for everything else (ASCII-compatible bodies)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            if codec == "utf-8" and _decodes(body, codec):
                return Prepared(codec, body, codec)  # feedparser skips the mark itself
            return _transcoded(body[len(bom) :], codec, [])
    if body[:4] == _EBCDIC_XML:
        return _ebcdic(body, header)
    if b"\x00" not in body[:4]:
        return None
    head = body[: min(len(body), 512) // 4 * 4]  # whole code units, room for a declaration
    for codec in _NULL_PATTERN_CODECS:
        text = head.decode(codec, "replace")
        if "\x00" in text or not _MARKUP_START.match(text):
            continue
        match = _XML_DECL_TEXT.match(text)
        labels = [label for label in (header, match.group(1) if match else None) if label]
        if not labels:
            note = f"no charset declared and no byte-order mark; {codec} by its null bytes"
            return _transcoded(body, codec, [note])
        if any(_family(codec_for(label)) == _family(codec) for label in labels):
            return _transcoded(body, codec, [])
        note = f"declared charset {' / '.join(labels)} is wrong; the body is {codec}"
        return _transcoded(body, codec, [note])
    return None


def _ebcdic(body: bytes, header: str | None) -> Prepared:
    """EBCDIC: read the label from the declaration (itself in EBCDIC, any code page reads
    its ASCII letters alike), and use it if it is an EBCDIC code page Python knows."""
    match = _XML_DECL_TEXT.match(body[:512].decode("cp037", "replace"))
    for label in (header, match.group(1) if match else None):
        codec = codec_for(label)
        if codec and not _ascii_safe(codec) and body[:4].decode(codec, "replace") == "<?xm":
            return _transcoded(body, codec, [])
    labels = " / ".join(label for label in (header, match.group(1) if match else None) if label)
    if labels:
        problem = f"declared charset {labels} is not an EBCDIC code page Python knows"
    else:
        problem = "no charset declared"
    return _transcoded(body, "cp037", [f"EBCDIC body; {problem}; read as cp037"])


def _normalizer(body: bytes) -> str | None:
    """The general detector's best guess, or None. Imported here: most polls never get
    this far, and the import costs ~25 ms in every worker process."""
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    return codec_for(best.encoding) if best is not None else None


def prepare(body: bytes, content_type: str | None) -> Prepared:
    """Decide the encoding of ``body`` (see the module docstring) and return bytes for
    feedparser, with a note for each thing that was not as the feed declared it."""
    header = header_charset(content_type)
    sniffed = _sniffed(body, header)
    if sniffed is not None:
        return sniffed
    from_decl = declared_charset(body)
    labels = [label for label in (header, from_decl) if label]
    declared = " / ".join(labels)
    codecs_declared = [c for c in (codec_for(label) for label in labels) if c]

    # ISO-2022-JP is 7-bit, so look for its escapes before calling a body ASCII. Try the
    # variants: JIS X 0213 (2004), then half-width katakana and JIS X 0212 (ext).
    if _ISO2022_ESCAPE in body or b"\x1b(I" in body:
        declared_iso = any(c.startswith("iso2022") for c in codecs_declared)
        for codec in _ISO2022_VARIANTS:
            if _decodes(body, codec):
                missing = [] if declared_iso else ["ISO-2022-JP body was not declared"]
                return _transcoded(body, codec, missing)
    if body.isascii():
        return Prepared("utf-8", body, "utf-8")

    # A label for a code that is not ASCII-compatible (UTF-16 on a body that starts with an
    # ASCII "<") is wrong: such bodies were recognised above by their bytes.
    trusted = [c for c in codecs_declared if c not in _PERMISSIVE and _ascii_safe(c)]
    for codec in trusted:
        if _decodes(body, codec):
            return Prepared(codec, body, codec)
    if _decodes(body, "utf-8"):
        note = f"declared charset {declared} is wrong; the body is UTF-8" if labels else None
        return Prepared("utf-8", body, "utf-8", (note,) if note else ())

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
            note = f"declared charset {declared} does not match the body; read as {best}"
        else:
            note = f"no charset declared; detected {best}"
        return Prepared(best, body, best, (note,))

    # A few broken sequences in a body that is otherwise UTF-8 (or its declared multibyte
    # charset): a truncated character must not turn the whole feed into mojibake.
    repairs = []
    for codec in dict.fromkeys([*trusted, "utf-8"]):
        lenient = _decode_lenient(body, codec)
        ratio = _REPAIR_RATIO_DECLARED if codec in trusted else _REPAIR_RATIO_UNDECLARED
        if lenient.overwhelming(ratio):
            repairs.append((lenient.bad_runs, codec, lenient))
    if repairs:
        _, codec, lenient = min(repairs, key=lambda r: r[0])
        if codec in trusted:
            what = f"read as {codec}"
        elif labels:
            what = f"declared charset {declared} is wrong; read as {codec}"
        else:
            what = f"no charset declared; read as {codec}"
        notes = (f"{what}, {_replaced(lenient)}",)
        return Prepared(codec, _utf8(lenient.text), "utf-8", notes)

    # A declared single-byte label decodes anything (windows-1252 all but five bytes), so
    # it is the publisher's word against a guess: take it. "us-ascii" on a body that is not
    # ASCII is plainly wrong and left to the detector.
    for codec in codecs_declared:
        if codec in _PERMISSIVE and codec != "ascii":
            if _decodes(body, codec):
                return Prepared(codec, body, codec)
            return _transcoded(body, codec, [])

    detected = _normalizer(body)
    if detected:
        if labels:
            what = f"declared charset {declared} does not match the body"
        else:
            what = "no charset declared"
        return _transcoded(body, detected, [f"{what}; charset-normalizer detected {detected}"])
    lenient = _decode_lenient(body, "utf-8")
    what = f"declared charset {declared} does not decode" if labels else "no charset declared"
    note = f"{what} and no detector recognised the body; read as UTF-8, {_replaced(lenient)}"
    return Prepared("utf-8", _utf8(lenient.text), "utf-8", (note,))


def detect(body: bytes, content_type: str | None) -> tuple[str, str | None]:
    """Return ``(codec, note)``: the codec to decode ``body`` with and, if the body's own
    labels were missing or wrong, a human-readable note (see :func:`prepare`)."""
    prepared = prepare(body, content_type)
    return prepared.codec, "; ".join(prepared.notes) or None


_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)


def html_charset(body: bytes) -> str | None:
    """The charset an HTML page declares in a ``<meta>`` tag near its start, if any."""
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None
