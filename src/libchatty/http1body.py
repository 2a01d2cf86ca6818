"""HTTP/1.1 response body framing: chunked, ``Content-Length`` and close-delimited.

h11 reads the response head (status line, headers, keep-alive); this module reads the
body that follows, a whole read at a time. h11 turns every chunk into a ``Data`` event
through two ``next_event`` calls and a receive buffer; a live model sends one token per
read, so that machinery is most of the per-token cost. Here one ``feed`` costs a
``bytes.find``, a regex match and a slice per chunk, and returns the body bytes of the
whole read as one ``bytes``.

The contract (the same for the three readers; :func:`reader_for` picks one from the head)::

    body = reader.feed(data)   # body bytes this read completes (b"" if none)
    reader.feed(b"")           # the peer closed: same as reader.end_of_input()
    reader.done                # the body's end was reached
    reader.trailing            # bytes after the body's end (pipelined or garbage)

* ``feed`` never holds back body bytes: a chunk's data is returned as it arrives, so
  nothing grows with the size of a chunk; only an incomplete chunk-size line or trailer
  section is held, and each is bounded by :data:`MAX_LINE` (a larger one is
  :class:`~libchatty.exceptions.LimitExceeded`).
* Malformed framing raises :class:`~libchatty.exceptions.RemoteProtocolError` whose
  message says what was wrong and quotes at most :data:`QUOTE` bytes of the peer's data;
  its ``items`` holds the body bytes the same read carried before the fault (``[body]``
  or ``[]``), so nothing received is lost. A failed reader raises
  :class:`~libchatty.exceptions.LocalProtocolError` on any further call.
* End of input before the body's end is a ``RemoteProtocolError`` (incomplete body);
  for a close-delimited body it is the normal end (``done`` becomes true).
* Once ``done``, ``feed`` returns ``b""`` and keeps what it was given in ``trailing``;
  end of input is then a no-op. A connection may be reused only if ``done`` and
  ``trailing`` is empty (and the head allowed keep-alive: :func:`keeps_alive`).
* Any split of the same bytes gives the same body bytes, the same verdict and the same
  trailing bytes.

h11 (0.14-0.16) is the oracle: ``tests/test_http1body.py`` and
``fuzz/fuzz_http1body.py`` feed the same responses to both and require the same body
bytes, the same verdict on errors and the same verdict on reuse. The grammar it accepts:

* chunk-size line: 1 to 20 hex digits, then optionally ``;`` and anything but LF
  (extensions, ignored), then optional spaces/tabs, then CRLF. A bare LF does not end
  it; no ``0x``, no sign, no space before the size or before ``;``.
* after each chunk's data exactly CRLF.
* after the ``0`` chunk, the trailer section: an immediate LF or CRLF, else everything
  up to the first LF (CR) LF; lines are header fields (obsolete line folding joined
  with one space); a ``Content-Length`` trailer must be digits and agree with any other,
  a ``Transfer-Encoding`` trailer must be ``chunked`` and appear once (h11 checks trailer
  fields as it checks header fields).

Deliberate differences from h11, each pinned by a test:

* h11 bounds only what it holds *incomplete* (16 KiB): a longer chunk-size line or
  trailer section passes when it arrives in one read and fails when it trickles in. This
  reader applies h11's byte-at-a-time verdict to every split: a size line is refused when
  its bytes up to and including its CR exceed :data:`MAX_LINE`, a trailer section when
  its bytes before its final LF do.
* An invalid size line is refused once :data:`MAX_LINE` bytes of it are held even if no
  CRLF came; h11 does the same, but only at that bound or at EOF -- the same verdict.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import h11

from .exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError

__all__ = [
    "MAX_LINE",
    "BodyReader",
    "ChunkedBody",
    "CloseDelimitedBody",
    "LengthBody",
    "keeps_alive",
    "reader_for",
]

# h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE: what h11 holds of a size line or trailer
# section that trickles in byte by byte. Real size lines are under 10 bytes.
MAX_LINE: Final = 16 * 1024
# Bytes of the peer's data an error message may quote.
QUOTE: Final = 8

# The grammar's patterns are sources, not compiled ones: compiling them at import cost
# every program ~0.3 ms of start-up (issue 14), and most bodies never need them. The
# size line's is compiled on first use and kept (_size_line: it can be needed on every
# read); the trailer's come from re's own cache when a trailer section is read.

# The chunk-size line without its CRLF; h11's ``chunk_header`` (the extension is
# ``;`` and any byte but LF, as h11's ``;.*``).
_SIZE_LINE: Final = rb"([0-9A-Fa-f]{1,20})(?:;[^\n]*)?[ \t]*"
# The common size line is bare hex: ``line.strip(_HEX)`` empties it, about half the cost
# of the regex; anything else (extensions, whitespace, errors) goes to the regex.
_HEX: Final = b"0123456789abcdefABCDEF"
# The end of a trailer section (after its first bytes: see ChunkedBody._trailer_end).
_BLANK_LINE: Final = rb"\n\r?\n"
# h11's header_field: token ":" OWS value OWS, value runs of non-NUL non-space bytes.
_FIELD: Final = rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*((?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?)[ \t]*"
_FOLD: Final = rb"[ \t]+"
_DIGITS: Final = rb"[0-9]{1,20}"


@functools.cache
def _size_line() -> re.Pattern[bytes]:
    return re.compile(_SIZE_LINE)


def _quote(data: bytes) -> str:
    return repr(data[:QUOTE]) + ("..." if len(data) > QUOTE else "")


class BodyReader:
    """What the three readers share: ``done``, ``trailing``, the after-end and failed
    states. See the module docstring for the contract."""

    __slots__ = ("_failed", "_trailing", "done")

    def __init__(self) -> None:
        self.done = False
        self._failed = False
        self._trailing: list[bytes] = []

    @property
    def trailing(self) -> bytes:
        """Bytes received after the body's end (``b""`` if none)."""
        parts = self._trailing
        if len(parts) > 1:
            parts[:] = [b"".join(parts)]
        return parts[0] if parts else b""

    def feed(self, data: bytes) -> bytes:
        """The body bytes ``data`` completes; ``b""`` is end of input."""
        raise NotImplementedError

    def end_of_input(self) -> None:
        """The peer closed the connection."""
        self.feed(b"")

    def _after_end(self, data: bytes) -> bytes:
        if self._failed:
            raise LocalProtocolError("the body reader already failed")
        if data:
            self._trailing.append(data)
        return b""

    def _fail(self, exc: RemoteProtocolError, body: list[bytes]) -> RemoteProtocolError:
        self._failed = True
        self.done = False
        if body:
            exc.items = [b"".join(body)]
        return exc


class CloseDelimitedBody(BodyReader):
    """A body that ends when the peer closes (no length, not chunked). Never reusable."""

    __slots__ = ()

    def feed(self, data: bytes) -> bytes:
        if self.done or self._failed:
            return self._after_end(data)
        if not data:
            self.done = True
        return data


class LengthBody(BodyReader):
    """A body of exactly ``length`` bytes (``Content-Length``)."""

    __slots__ = ("_left", "length")

    def __init__(self, length: int) -> None:
        super().__init__()
        if length < 0:
            raise LocalProtocolError("a body length cannot be negative")
        self.length = length
        self._left = length
        self.done = length == 0

    def feed(self, data: bytes) -> bytes:
        if self.done or self._failed:
            return self._after_end(data)
        left = self._left
        n = len(data)
        if not n:
            raise self._fail(
                RemoteProtocolError(
                    f"the peer closed after {self.length - left} of {self.length} body bytes"
                ),
                [],
            )
        if n < left:
            self._left = left - n
            return data
        self._left = 0
        self.done = True
        if n == left:
            return data
        self._trailing.append(data[left:])
        return data[:left]


# ChunkedBody's states. The hot loop tests them in order of frequency; the table of
# what may follow is: SIZE -> DATA | TRAILER (| SIZE when a whole chunk is in the read),
# DATA -> CRLF, CRLF -> SIZE, TRAILER -> END; any fault -> END.
_SIZE: Final = 0  # reading a chunk-size line
_DATA: Final = 1  # inside a chunk's data (_left bytes to go)
_CRLF: Final = 2  # the CRLF after a chunk's data (_left: bytes of it already seen)
_TRAILER: Final = 3  # the trailer section after the last chunk
_END: Final = 4  # done or failed


class ChunkedBody(BodyReader):
    """A ``Transfer-Encoding: chunked`` body (RFC 9112 section 7.1, as h11 reads it)."""

    __slots__ = ("_held", "_held_len", "_left", "_state", "_tail")

    def __init__(self) -> None:
        super().__init__()
        self._state = _SIZE
        self._left = 0
        # An incomplete size line or trailer section: fragments, joined once complete.
        self._held: list[bytes] = []
        self._held_len = 0
        self._tail = b""  # the last (up to) two bytes held

    def feed(self, data: bytes) -> bytes:
        if self._state == _SIZE and not self._held:
            # The live shape: this read is exactly one chunk, ``<hex>\r\n<data>\r\n``.
            end = data.find(b"\r\n", 0, 22)
            if end > 0:
                line = data[:end]
                if not line.strip(_HEX):
                    size = int(line, 16)
                    n = len(data)
                    if size and end + 4 + size == n and data.endswith(b"\r\n"):
                        return data[end + 2 : n - 2]
        return self._feed(data)

    def _feed(self, data: bytes) -> bytes:
        state = self._state
        if state == _END:
            return self._after_end(data)
        n = len(data)
        if not n:
            self._state = _END
            raise self._fail(
                RemoteProtocolError("the peer closed before the end of the chunked body"), []
            )
        out: list[bytes] = []
        pos = 0
        left = self._left
        try:
            while pos < n:
                if state == _SIZE:
                    if self._held:
                        pos, left = self._size_continued(data, pos)
                        if left < 0:  # still no CRLF: held
                            left = 0
                            break
                    else:
                        end = data.find(b"\r\n", pos)
                        if end < 0:
                            self._hold(data, pos, n, "chunk-size line")
                            break
                        line = data[pos:end]
                        if pos < end <= pos + 20 and not line.strip(_HEX):
                            left = int(line, 16)
                        else:
                            if end - pos >= MAX_LINE:
                                raise LimitExceeded("the chunk-size line is too long")
                            match = _size_line().fullmatch(line)
                            if match is None:
                                raise RemoteProtocolError(f"invalid chunk-size line {_quote(line)}")
                            left = int(match.group(1), 16)
                        pos = end + 2
                    if not left:
                        state = _TRAILER
                        continue
                    stop = pos + left
                    if data.startswith(b"\r\n", stop):  # the whole chunk is here
                        out.append(data[pos:stop])
                        pos = stop + 2
                        left = 0
                        continue
                    state = _DATA
                elif state == _DATA:
                    if n - pos < left:
                        out.append(data[pos:] if pos else data)
                        left -= n - pos
                        break
                    out.append(data[pos : pos + left])
                    pos += left
                    left = 0
                    state = _CRLF
                elif state == _CRLF:
                    if left == 0 and data.startswith(b"\r\n", pos):
                        pos += 2
                        state = _SIZE
                        continue
                    # The CRLF split across reads: left counts its bytes already seen.
                    want = b"\r\n"[left:]
                    got = data[pos : pos + len(want)]
                    if not want.startswith(got):
                        raise RemoteProtocolError("chunk data not followed by CRLF")
                    pos += len(got)
                    left += len(got)
                    if left == 2:
                        left = 0
                        state = _SIZE
                else:  # _TRAILER
                    end = self._trailer_end(data, pos, n)
                    if end < 0:
                        break
                    self._trailers(data, pos, end)
                    state = _END
                    self.done = True
                    if end < n:
                        self._trailing.append(data[end:])
                    break
        except RemoteProtocolError as exc:
            self._state = _END
            raise self._fail(exc, out) from None
        self._state = state
        self._left = left
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    # --- what is held across reads: a size line, a trailer section ---------------------
    def _hold(self, data: bytes, pos: int, n: int, what: str) -> None:
        piece = data[pos:] if pos else data
        self._held.append(piece)
        self._held_len += n - pos
        self._tail = (self._tail + piece[-2:])[-2:]
        if self._held_len > MAX_LINE:
            raise LimitExceeded(f"the {what} is too long")

    def _take_held(self, data: bytes, pos: int, end: int) -> bytes:
        held = self._held
        held.append(data[pos:end])
        whole = b"".join(held)
        held.clear()
        self._held_len = 0
        self._tail = b""
        return whole

    def _size_continued(self, data: bytes, pos: int) -> tuple[int, int]:
        """Finish a size line begun in an earlier read: (new position, chunk size), or
        (end of data, -1) when this read does not finish it either."""
        if self._tail.endswith(b"\r") and data.startswith(b"\n", pos):
            line = self._take_held(data, pos, pos)[:-1]
            pos += 1
        else:
            end = data.find(b"\r\n", pos)
            if end < 0:
                self._hold(data, pos, len(data), "chunk-size line")
                return len(data), -1
            line = self._take_held(data, pos, end)
            pos = end + 2
        if len(line) >= MAX_LINE:
            raise LimitExceeded("the chunk-size line is too long")
        match = _size_line().fullmatch(line)
        if match is None:
            raise RemoteProtocolError(f"invalid chunk-size line {_quote(line)}")
        return pos, int(match.group(1), 16)

    def _trailer_end(self, data: bytes, pos: int, n: int) -> int:
        """Where in ``data`` the trailer section ends, or -1 (then ``data[pos:]`` is held).

        h11's rule: a section starting with LF or CRLF is empty; otherwise it runs to the
        end of the first LF (CR) LF."""
        held = self._held_len
        if held == 0 and data.startswith(b"\n", pos):
            end = pos + 1
        elif (held == 0 and data.startswith(b"\r\n", pos)) or (
            held == 1 and self._tail == b"\r" and data.startswith(b"\n", pos)
        ):
            end = pos + (2 - held)
        else:
            end = -1
            tail = self._tail
            blank_line = re.compile(_BLANK_LINE)
            if tail:  # a blank line straddling the previous read and this one
                probe = tail + data[pos : pos + 2]
                match = blank_line.search(probe)
                if match is not None and match.end() > len(tail):
                    end = pos + match.end() - len(tail)
            if end < 0:
                match = blank_line.search(data, pos)
                if match is not None:
                    end = match.end()
        if end < 0:
            self._hold(data, pos, n, "trailer section")
            return -1
        if held + (end - pos) - 1 > MAX_LINE:
            raise LimitExceeded("the trailer section is too long")
        return end

    def _trailers(self, data: bytes, pos: int, end: int) -> None:
        """Check the trailer section ``held + data[pos:end]`` as h11 does; the fields
        themselves are dropped (nothing in libchatty reads trailers)."""
        section = self._take_held(data, pos, end)
        if section in (b"\n", b"\r\n"):
            return
        lines = [line[:-1] if line.endswith(b"\r") else line for line in section.split(b"\n")]
        del lines[-2:]  # the blank line that ended the section
        fields: list[bytes] = []
        fold_pattern = re.compile(_FOLD)
        for line in lines:
            fold = fold_pattern.match(line)
            if fold is None:
                fields.append(line)
            elif not fields:
                raise RemoteProtocolError("a trailer section starts with a continuation line")
            else:
                fields[-1] = fields[-1] + b" " + line[fold.end() :]
        length: bytes | None = None
        chunked = False
        field_pattern = re.compile(_FIELD)
        for field in fields:
            match = field_pattern.fullmatch(field)
            if match is None:
                raise RemoteProtocolError(f"invalid trailer field {_quote(field)}")
            name = match.group(1).lower()
            value = match.group(2)
            if name == b"content-length":
                values = {part.strip() for part in value.split(b",")}
                only = values.pop()
                if values or re.fullmatch(_DIGITS, only) is None or length not in (None, only):
                    raise RemoteProtocolError("invalid Content-Length trailer")
                length = only
            elif name == b"transfer-encoding":
                if chunked or value.lower() != b"chunked":
                    raise RemoteProtocolError("invalid Transfer-Encoding trailer")
                chunked = True


def reader_for(request_method: bytes, response: h11.Response) -> BodyReader:
    """The body reader for ``response`` to a ``request_method`` request: h11's framing
    rules (RFC 9112 section 6.3). h11 has already checked the head: a
    ``Transfer-Encoding`` is ``chunked``, a ``Content-Length`` is one valid number."""
    status = response.status_code
    if (
        status in (204, 304)
        or request_method == b"HEAD"
        or (request_method == b"CONNECT" and 200 <= status < 300)
    ):
        return LengthBody(0)
    length: bytes | None = None
    for name, value in response.headers:
        if name == b"transfer-encoding":
            return ChunkedBody()
        if name == b"content-length":
            length = value
    if length is not None:
        return LengthBody(int(length))
    return CloseDelimitedBody()


def keeps_alive(response: h11.Response) -> bool:
    """Whether the server lets the connection be reused after this response (HTTP/1.1
    and no ``Connection: close``): h11's rule."""
    if response.http_version < b"1.1":
        return False
    for name, value in response.headers:
        if name == b"connection" and b"close" in (
            part.strip().lower() for part in value.split(b",")
        ):
            return False
    return True
