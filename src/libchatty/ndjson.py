"""Newline-delimited JSON (``application/x-ndjson``): one JSON value per line.

:class:`NDJSONDecoder` turns body bytes into parsed values. Lines end at LF, CRLF or CR
(split anywhere across chunks); blank and whitespace-only lines are skipped; a final line
without a terminator is parsed by ``close()``. Each line must be UTF-8 JSON as
:func:`libchatty.jsonload.loads` reads it.
"""

from __future__ import annotations

from typing import Any

from .exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError
from .jsonload import JSONDecodeError, loads
from .lines import LineSplitter

__all__ = ["DEFAULT_MAX_LINE_SIZE", "NDJSONDecoder"]

# One line is one streamed message (an Ollama chunk is a few hundred bytes); 4 MiB leaves
# room for a whole answer in one line while bounding what a broken server can make us hold.
DEFAULT_MAX_LINE_SIZE = 4 * 1024 * 1024

_WHITESPACE = b" \t\n\r"


class NDJSONDecoder:
    """Decode a stream of JSON lines fed in chunks of any size.

    ``feed(data)`` returns the values of the lines completed by ``data``; ``close()`` at
    end of stream returns the value of a final unterminated line (or ``[]``).

    A line that is not valid UTF-8 JSON raises
    :class:`~libchatty.exceptions.RemoteProtocolError` saying which line (1-based, blank
    lines counted) and why; a line longer than ``max_line_size`` bytes raises
    :class:`~libchatty.exceptions.LimitExceeded`. In both cases ``items`` holds the values
    decoded before it in the same call, and the decoder is failed: later calls raise
    :class:`~libchatty.exceptions.LocalProtocolError`.
    """

    __slots__ = ("_closed", "_failed", "_lineno", "_lines")

    def __init__(self, max_line_size: int = DEFAULT_MAX_LINE_SIZE) -> None:
        self._lines = LineSplitter(max_line_size)
        self._lineno = 0  # lines completed so far
        self._failed = False
        self._closed = False

    @property
    def buffered(self) -> int:
        """Bytes held for the incomplete line (at most ``max_line_size``)."""
        return self._lines.buffered

    @property
    def lines(self) -> int:
        """Lines completed so far, blank ones included."""
        return self._lineno

    def feed(self, data: bytes) -> list[Any]:
        """The values of the lines completed by ``data``, in order."""
        self._check_usable()
        try:
            lines = self._lines.feed(data)
        except LimitExceeded as exc:
            self._failed = True
            values = self._parse(exc.items)
            raise LimitExceeded(f"NDJSON line {self._lineno + 1}: {exc}", items=values) from None
        return self._parse(lines)

    def close(self) -> list[Any]:
        """End of stream: the value of a final line without a terminator, if any."""
        self._check_usable()
        self._closed = True
        return self._parse(self._lines.close())

    def _check_usable(self) -> None:
        if self._failed:
            raise LocalProtocolError("NDJSONDecoder failed earlier")
        if self._closed:
            raise LocalProtocolError("NDJSONDecoder already closed")

    def _parse(self, lines: list[bytes]) -> list[Any]:
        values: list[Any] = []
        append = values.append
        for line in lines:
            self._lineno += 1
            try:
                append(loads(line))
            except JSONDecodeError as exc:
                if not line.strip(_WHITESPACE):
                    continue  # a blank line separates nothing; skip it
                self._failed = True
                raise RemoteProtocolError(
                    f"NDJSON line {self._lineno}: {_why(line, exc)}", items=values
                ) from None
        return values


def _why(line: bytes, exc: BaseException) -> str:
    """A short reason for a bad line, without echoing a huge line back."""
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start} of the line"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    pos = getattr(exc, "pos", None)
    msg = getattr(exc, "msg", None) or str(exc).split(":", 1)[0]
    where = f"position {pos} of " if isinstance(pos, int) else ""
    return f"invalid JSON: {msg} ({where}a {len(line)}-byte line)"
