"""Content-Encoding decoding that never inflates more than a small step at a time.

httpx's brotli and multi-layer decoders inflate a whole network chunk at once, so 1.7 KB of
``Content-Encoding: br`` (or ``gzip, gzip``) becomes a gigabyte in memory before any size
cap can look at it (issue 8). Here every layer hands out at most ``STEP`` bytes per call and
is asked again only while the caller keeps reading, so the caller's cap stops a bomb after
at most one step past it, whatever the compression ratio.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

import brotli

#: the most one decoder produces per call
STEP = 64 * 1024


class DecodeError(ValueError):
    """The body does not decode with the encoding the server declared."""


class _Layer(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (possibly several members) or deflate (zlib-wrapped, or raw as some servers
    send it)."""

    def __init__(self, gzip: bool) -> None:
        self.gzip = gzip
        self.wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self.inflater = zlib.decompressobj(self.wbits)
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self.inflater.decompress(data, STEP)
            except zlib.error as e:
                if not self.gzip and not self.started:
                    # "deflate" without the zlib header: try raw deflate once
                    self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    self.started = True
                    continue
                raise DecodeError(f"invalid {'gzip' if self.gzip else 'deflate'} data: {e}") from e
            self.started = True
            if out:
                yield out
            if self.inflater.eof:
                rest = self.inflater.unused_data
                if not (self.gzip and rest.strip(b"\0")):
                    return  # trailing garbage after the stream is ignored, as browsers do
                self.inflater = zlib.decompressobj(self.wbits)  # another gzip member
                data = rest
            else:
                data = self.inflater.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        out = self.inflater.flush(STEP)
        if out:
            yield out


class _Brotli:
    def __init__(self) -> None:
        self.inflater = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self.inflater.process(data, output_buffer_limit=STEP)
            if out:
                yield out
            while not self.inflater.can_accept_more_data():
                out = self.inflater.process(b"", output_buffer_limit=STEP)
                if not out:
                    break
                yield out
        except brotli.error as e:
            raise DecodeError(f"invalid brotli data: {e}") from e

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


_LAYERS: dict[str, Callable[[], _Layer]] = {
    "gzip": lambda: _Zlib(gzip=True),
    "x-gzip": lambda: _Zlib(gzip=True),
    "deflate": lambda: _Zlib(gzip=False),
    "br": _Brotli,
    "identity": _Identity,
}
#: more layers than this is not a real server: refuse rather than unwrap forever
MAX_LAYERS = 3


class Decoder:
    """Decodes a body declared with ``content_encoding`` (``"gzip"``, ``"gzip, br"``...),
    chunk by chunk, in pieces of at most STEP bytes."""

    def __init__(self, content_encoding: str | None) -> None:
        names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
        if len(names) > MAX_LAYERS:
            raise DecodeError(f"{len(names)} content encodings ({content_encoding}) is too many")
        unknown = [n for n in names if n not in _LAYERS]
        if unknown:
            raise DecodeError(f"unsupported content encoding {', '.join(unknown)}")
        # Encodings are listed in the order they were applied: undo the last one first.
        self.layers: list[_Layer] = [_LAYERS[n]() for n in reversed(names)]

    def _through(self, index: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        if index == len(self.layers):
            yield from pieces
            return
        layer = self.layers[index]
        for piece in pieces:
            yield from self._through(index + 1, layer.feed(piece))

    def feed(self, data: bytes) -> Iterator[bytes]:
        yield from self._through(0, iter((data,)))

    def finish(self) -> Iterator[bytes]:
        for index, layer in enumerate(self.layers):
            yield from self._through(index + 1, layer.finish())
