"""Line splitting for streamed text protocols (SSE, NDJSON): bytes in, complete lines out.

CR, LF and CRLF each end a line, including a CR at the end of one chunk and an LF at
the start of the next (one terminator, not two). Work is done with ``bytes.find``,
``replace`` and ``split``; there is no Python loop per byte. A partial line is kept as
fragments that are joined once when the line completes, so one huge line fed in tiny
pieces costs time proportional to its length. A line longer than ``max_line_size``
raises :class:`~libchatty.exceptions.LimitExceeded` before the buffer grows past it.
"""

from __future__ import annotations

from typing import ClassVar

from .exceptions import LimitExceeded, LocalProtocolError

__all__ = ["BufferedDecoder", "Fragments", "LineSplitter"]

_CR = b"\r"
_LF = b"\n"
_CRLF = b"\r\n"

# Fragments are merged in groups of this many so that a line fed one byte at a time
# does not hold millions of tiny bytes objects (each ~33 bytes of overhead). Each byte
# is copied at most twice (once when its group is merged, once at the final join).
_MERGE_EVERY = 512


class Fragments:
    """The pieces of one incomplete line; ``join()`` copies them once.

    ``size`` is the number of payload bytes held.
    """

    __slots__ = ("_merged", "_parts", "size")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._merged = 0  # how many leading parts are already merged groups
        self.size = 0

    def __bool__(self) -> bool:
        return self.size > 0

    def append(self, piece: bytes) -> None:
        parts = self._parts
        parts.append(piece)
        self.size += len(piece)
        if len(parts) - self._merged >= _MERGE_EVERY:
            # Merge only the recent small pieces, never what was merged before:
            # re-joining the whole buffer here would make tiny feeds quadratic.
            parts[self._merged :] = [b"".join(parts[self._merged :])]
            self._merged += 1

    def join(self, tail: bytes = b"") -> bytes:
        """All pieces followed by ``tail``, as one bytes object; the buffer is emptied."""
        parts = self._parts
        if not parts:
            return tail
        parts.append(tail)
        joined = b"".join(parts)
        self.clear()
        return joined

    def clear(self) -> None:
        self._parts = []
        self._merged = 0
        self.size = 0


class BufferedDecoder:
    """What the byte decoders that hold one incomplete item as :class:`Fragments` share:
    the item's limit, the fragments, and failing for good at the first fault.

    ``buffered`` is the number of bytes held (never more than the limit). ``_fail()``
    drops them and marks the decoder failed; a subclass then raises ``_failed_earlier()``
    (a :class:`LocalProtocolError`) from every later call.
    """

    __slots__ = ("_failed", "_max", "pending")

    #: What the decoder is, for the error after a failure ("the line splitter").
    _name: ClassVar[str]

    def __init__(self, limit: int) -> None:
        self._max = limit
        # The incomplete item. Public so that a decoder's per-feed bookkeeping reads
        # ``pending.size`` (what ``buffered`` reports) without a call; do not modify it.
        self.pending = Fragments()
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes held for the incomplete item (never more than the limit)."""
        return self.pending.size

    def _fail(self) -> None:
        self._failed = True
        self.pending.clear()

    def _failed_earlier(self) -> LocalProtocolError:
        return LocalProtocolError(f"the {self._name} failed earlier; start a new one")


class LineSplitter(BufferedDecoder):
    """Split a byte stream into lines; terminators (CR, LF, CRLF) are not included.

    ``feed(data)`` returns the lines completed by ``data``; ``close()`` returns the
    final unterminated line, if any. A line longer than ``max_line_size`` bytes raises
    :class:`LimitExceeded` whose ``items`` are the lines completed earlier in that same
    ``feed``; the splitter is then failed and any further call raises
    :class:`LocalProtocolError`. ``buffered`` is the size of the incomplete line.
    """

    __slots__ = ("_skip_lf",)
    _name = "line splitter"

    def __init__(self, max_line_size: int) -> None:
        if max_line_size < 1:
            raise ValueError("max_line_size must be at least 1")
        super().__init__(max_line_size)
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF is its pair

    @property
    def max_line_size(self) -> int:
        return self._max

    @property
    def at_line_start(self) -> bool:
        """Nothing is held: no partial line, and no LF awaited as the pair of a CR."""
        return not self.pending.size and not self._skip_lf and not self._failed

    def feed(self, data: bytes) -> list[bytes]:
        """The lines completed by ``data``, in order."""
        try:
            joined = self.feed_joined(data)
        except LimitExceeded as exc:
            done = exc.items[0] if exc.items else b""
            raise LimitExceeded(str(exc), items=_split_joined(done)) from None
        return _split_joined(joined)

    def feed_joined(self, data: bytes) -> bytes:
        """The lines completed by ``data`` as one bytes object, each ended by LF.

        Returns ``b""`` when no line completed. Every terminator is normalised to a
        single LF, so ``result.split(b"\\n")`` yields the lines plus a final ``b""``.
        This is the fast interface for decoders that split on blank lines themselves.
        Any bytes-like ``data`` (bytearray, memoryview) is accepted and copied.
        On :class:`LimitExceeded`, ``items`` is ``[prefix]``: the lines completed before
        the long one, in the same joined form.
        """
        if self._failed:
            raise self._failed_earlier()
        if not data:
            return b""
        if type(data) is not bytes:
            # h11 hands out bytearrays, sockets may give memoryviews: copy, so that a
            # buffer the caller reuses cannot change the fragments kept here.
            data = bytes(data)
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == _LF:
                data = data[1:]
                if not data:
                    return b""
        if _CR in data:
            # Normalise once at C speed; a trailing CR already ends its line, and an LF
            # opening the next chunk must not end another.
            self._skip_lf = data[-1:] == _CR
            data = data.replace(_CRLF, _LF).replace(_CR, _LF)
        limit = self._max
        pending = self.pending
        end = data.rfind(_LF) + 1
        if end == 0:
            size = pending.size + len(data)
            if size > limit:
                self._fail()  # empties ``pending``: the size was taken before
                raise LimitExceeded(
                    f"line longer than {limit} bytes (no line end after {size} bytes)",
                    items=[b""],
                )
            pending.append(data)
            return b""
        if end == len(data):
            complete = pending.join(data) if pending.size else data
            tail = b""
        else:
            complete = pending.join(data[:end])
            tail = data[end:]
        # No line can exceed the limit when the whole completed span is within it (the
        # common case); otherwise find the first long line, keeping the lines before it.
        if len(complete) > limit + 1:
            self._check_lines(complete)
        if len(tail) > limit:
            self._fail()
            raise LimitExceeded(
                f"line longer than {limit} bytes (no line end after {len(tail)} bytes)",
                items=[complete],
            )
        if tail:
            pending.append(tail)
        return complete

    def close(self) -> list[bytes]:
        """End of stream: the final unterminated line (``[]`` if there is none)."""
        if self._failed:
            raise self._failed_earlier()
        self._skip_lf = False
        if not self.pending:
            return []
        return [self.pending.join()]

    def _check_lines(self, complete: bytes) -> None:
        # map/len/max run in C: no Python-level loop per line unless a line is too long.
        limit = self._max
        lines = complete.split(_LF)
        if max(map(len, lines)) <= limit:
            return
        start = 0
        for line in lines:
            if len(line) > limit:
                self._fail()
                raise LimitExceeded(
                    f"line of {len(line)} bytes is longer than the limit of {limit} bytes",
                    items=[complete[:start]],
                )
            start += len(line) + 1


def _split_joined(joined: bytes) -> list[bytes]:
    """Lines of a ``feed_joined`` result (LF-terminated lines, or ``b""``)."""
    if not joined:
        return []
    lines = joined.split(_LF)
    lines.pop()  # the empty string after the final LF
    return lines
