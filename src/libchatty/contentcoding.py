"""Undo a ``Content-Encoding`` the server applied although we asked for ``identity``.

Some proxies compress every response. :func:`content_decoder` reads the header value and
returns ``None`` for ``identity`` (or no header): the body is used as it comes, at no
cost. For ``gzip`` (``x-gzip``) and ``deflate`` it returns a :class:`ContentDecoder`,
which inflates incrementally with the standard ``zlib`` module:

* any split of the compressed bytes gives the same decoded bytes (split differently);
* ``deflate`` is accepted both zlib-wrapped (RFC 1950, what the RFC means) and raw
  (RFC 1951, what many servers send): the first two bytes tell which;
* a gzip body may hold several members (RFC 1952 allows it): they are decoded in turn;
* the decoded size is bounded: output comes in pieces of at most ``step`` bytes, each
  produced only when the caller asks for it, and more than ``max_size`` bytes in total
  raises :class:`~libchatty.exceptions.LimitExceeded` -- a zip bomb costs at most
  ``max_size`` bytes of work and one piece of memory, never its inflated size;
* corrupt or truncated data raises :class:`~libchatty.exceptions.RemoteProtocolError`
  whose message names the coding and never quotes the body.

Any other coding (``br``, ``zstd``, ``compress``, an unknown token, or several codings
stacked) is refused by :func:`content_decoder` with
:class:`UnsupportedEncoding` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from .exceptions import LimitExceeded, RemoteProtocolError

if TYPE_CHECKING:
    import zlib

__all__ = ["DEFAULT_STEP", "ContentDecoder", "UnsupportedEncoding", "content_decoder"]

#: The largest piece :meth:`ContentDecoder.feed` hands out at once: a read's worth.
DEFAULT_STEP: Final = 64 * 1024

# zlib itself is imported by the decoder's methods: only a compressed response makes
# one, and the module costs every other program ~0.4 ms of start-up.
_MAX_WBITS: Final = 15  # zlib.MAX_WBITS: the 32 KiB window, the largest RFC 1951 allows
_GZIP_WBITS: Final = 16 + _MAX_WBITS
_ZLIB_WBITS: Final = _MAX_WBITS
_RAW_WBITS: Final = -_MAX_WBITS

_CODINGS: Final = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
# A coding token as RFC 9110 allows it; anything else is reported without its text. A
# pattern, not a compiled one: re compiles it (~0.2 ms) and caches it on first use, which
# only an unsupported coding reaches.
_TOKEN: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}"


class UnsupportedEncoding(RemoteProtocolError):
    """The response uses a content coding libchatty does not decode.

    ``coding`` is the header's value, made printable and short (a token as sent, or
    ``"<unreadable>"``)."""

    def __init__(self, coding: str) -> None:
        super().__init__(
            f"the response body uses Content-Encoding {coding!r}, which libchatty does not "
            "decode (only gzip and deflate)"
        )
        self.coding = coding


def _describe(value: str) -> str:
    tokens = [t.strip() for t in value.split(",")]
    if all(re.fullmatch(_TOKEN, t) for t in tokens):
        return ", ".join(tokens)
    return "<unreadable>"


def content_decoder(
    header: bytes | None, max_size: int, step: int = DEFAULT_STEP
) -> ContentDecoder | None:
    """The decoder for a ``Content-Encoding`` header value (``None``: no header).

    ``None`` back means identity: use the body as it is. Raises
    :class:`UnsupportedEncoding` for anything else than gzip or deflate (``identity``
    entries in a list are ignored; two real codings stacked are refused).
    """
    if header is None:
        return None
    value = header.decode("latin-1")
    codings = [t.strip().lower() for t in value.split(",")]
    codings = [t for t in codings if t and t != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in _CODINGS:
        return ContentDecoder(_CODINGS[codings[0]], max_size, step)
    raise UnsupportedEncoding(_describe(value))


class ContentDecoder:
    """Incremental gzip or deflate decoding with a bound; see the module docstring.

    ``feed(data)`` yields the decoded pieces ``data`` completes (iterate it to the end, or
    stop early and never feed again); ``close()`` checks that the compressed stream
    ended, and raises if it was cut off.
    """

    __slots__ = ("_coding", "_head", "_inflate", "_max", "_size", "_started", "_step")

    def __init__(self, coding: str, max_size: int, step: int = DEFAULT_STEP) -> None:
        import zlib

        if coding not in ("gzip", "deflate"):
            raise ValueError(f"unknown coding {coding!r}")
        if max_size < 0 or step < 1:
            raise ValueError("max_size must be >= 0 and step >= 1")
        self._coding = coding
        self._max = max_size
        self._step = step
        self._size = 0  # decoded bytes handed out
        self._started = False  # any compressed byte seen
        self._head = b""  # deflate only: the first byte, until the second tells the wrapping
        self._inflate: zlib._Decompress | None = (
            zlib.decompressobj(_GZIP_WBITS) if coding == "gzip" else None
        )

    @property
    def coding(self) -> str:
        return self._coding

    @property
    def size(self) -> int:
        """Decoded bytes handed out so far."""
        return self._size

    def feed(self, data: bytes) -> Iterator[bytes]:
        import zlib

        if not data:
            return
        self._started = True
        inflate = self._inflate
        if inflate is None:  # deflate, wrapping still unknown
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            self._head = b""
            inflate = self._inflate = zlib.decompressobj(
                _ZLIB_WBITS if _is_zlib_header(data) else _RAW_WBITS
            )
        while True:
            if inflate.eof:
                if not data:
                    return
                inflate = self._next_member()
            want = min(self._step, self._max - self._size + 1)
            try:
                out = inflate.decompress(data, want)
            except zlib.error as exc:
                raise RemoteProtocolError(f"the {self._coding} body is corrupt ({exc})") from None
            data = inflate.unconsumed_tail
            if inflate.eof:
                data = inflate.unused_data
            if out:
                self._size += len(out)
                if self._size > self._max:
                    raise LimitExceeded(f"the decoded response body exceeds {self._max} bytes")
                yield out
            # A full piece may leave output inside zlib even with no input left: ask again.
            if not data and len(out) < want and not inflate.eof:
                return

    def close(self) -> None:
        """The body ended: raise :class:`RemoteProtocolError` if the compressed stream
        did not (an empty body is fine)."""
        if not self._started:
            return
        if self._inflate is None or not self._inflate.eof:
            raise RemoteProtocolError(f"the {self._coding} body ends before its compressed data")

    def _next_member(self) -> zlib._Decompress:
        import zlib

        if self._coding != "gzip":
            raise RemoteProtocolError(f"the {self._coding} body has data after its end")
        self._inflate = zlib.decompressobj(_GZIP_WBITS)
        return self._inflate


def _is_zlib_header(data: bytes) -> bool:
    """RFC 1950: compression method 8 with a window of at most 32 KiB, and a header whose
    16-bit value is a multiple of 31. A raw deflate stream starts this way by chance only
    rarely (and then fails to decode as zlib: a corrupt-body error, never wrong text)."""
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and ((cmf << 8) | flg) % 31 == 0
