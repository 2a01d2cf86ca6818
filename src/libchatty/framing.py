"""How a response body becomes items: the one interface every body mode of ``Call`` uses.

A :class:`Framer` takes body bytes at any split and returns the items they complete;
``close()`` says the body ended and returns what that completes. The SSE, NDJSON and AWS
event stream decoders are framers as they are; this module adds the framers for bodies
that are read whole (a JSON answer, an error body) and for a body read only to reuse the
connection, so that ``Call`` hands every body to one ``feed`` and never asks which mode
it is in to find the code that reads it.

Faults follow the decoders' contract: malformed input raises
:class:`~libchatty.exceptions.RemoteProtocolError` (a bound:
:class:`~libchatty.exceptions.LimitExceeded`), whose ``items`` hold what the same call
decoded before it.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from .exceptions import LimitExceeded

__all__ = ["DISCARD", "Framer", "WholeBody", "eventstream_framer"]


class Framer(Protocol):
    """Body bytes in, items out (SSE events, JSON values, event stream messages, whole
    bodies)."""

    def feed(self, data: bytes) -> list[Any]: ...

    def close(self) -> list[Any]: ...


class WholeBody:
    """A body read whole and bounded: ``close()`` returns ``[body]``.

    Past ``limit`` bytes: with ``truncate`` the rest is dropped (an error body, whose
    start says enough), else :class:`LimitExceeded` (an answer cut short is no answer).
    The pieces are kept in a list and joined once.
    """

    __slots__ = ("_limit", "_parts", "_size", "_truncate")

    def __init__(self, limit: int, *, truncate: bool) -> None:
        self._limit = limit
        self._truncate = truncate
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[Any]:
        room = self._limit - self._size
        if len(data) > room:
            if not self._truncate:
                raise LimitExceeded(f"the response body exceeds {self._limit} bytes")
            data = data[:room]
        if data:
            self._parts.append(data)
            self._size += len(data)
        return []

    def close(self) -> list[Any]:
        body = b"".join(self._parts)
        self._parts = []
        return [body]

    @property
    def full(self) -> bool:
        """True when a truncating body holds all it may: the rest need not be decoded."""
        return self._size >= self._limit


class _Discard:
    """The rest of a body whose answer is complete, read only so that the connection can
    be reused."""

    __slots__ = ()

    def feed(self, data: bytes) -> list[Any]:
        return []

    def close(self) -> list[Any]:
        return []


DISCARD: Final = _Discard()


def eventstream_framer(max_message_size: int) -> Framer:
    """The AWS event stream decoder, except that a body ending inside a message is not a
    framing fault: the stream was cut, and the dialect's ``end()`` says so with the
    partial answer (``Error("incomplete")``), as for a cut SSE stream. Imported here, on
    first use: only Bedrock streams need it."""
    from .eventstream import EventStreamDecoder

    class EventStreamFramer(EventStreamDecoder):
        __slots__ = ()

        def close(self) -> list[Any]:
            return [] if self.buffered else list(super().close())

    return EventStreamFramer(max_message_size)
