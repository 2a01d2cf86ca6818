"""Exceptions: whose fault it is, said by the type.

* :class:`LocalProtocolError` -- the caller misused the API (feeding a finished
  :class:`~libchatty.call.Call`, starting it twice, an invalid request). Raised.
* :class:`RemoteProtocolError` -- the peer sent bytes that break the protocol. The
  decoders raise it; :class:`~libchatty.call.Call` turns it into an ``Error`` event, so
  a user of ``Call`` never sees it raised.
* :class:`LimitExceeded` -- a bound was exceeded (a line, an event, a body). A kind of
  remote protocol error: the peer sent more than we agreed to hold.
* :class:`ChatError` -- raised by the bindings when a response ended with an ``Error``
  event; it carries that event (and so the partial text).

Decoder exceptions carry ``items``: what the same ``feed`` call decoded before the
failure, so nothing received is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import Error

__all__ = [
    "ChatError",
    "LibchattyError",
    "LimitExceeded",
    "LocalProtocolError",
    "RemoteProtocolError",
]


class LibchattyError(Exception):
    """Base class of every exception libchatty raises on purpose."""


class LocalProtocolError(LibchattyError):
    """The caller used the API in a way it does not allow."""


class RemoteProtocolError(LibchattyError):
    """The peer sent something the protocol does not allow.

    ``items`` holds what was decoded from the same input before the fault.
    """

    def __init__(self, message: str, items: list[Any] | None = None) -> None:
        super().__init__(message)
        self.items: list[Any] = items if items is not None else []


class LimitExceeded(RemoteProtocolError):
    """A configured bound (line, event or body size) was exceeded."""


class ChatError(LibchattyError):
    """A chat call ended with an :class:`~libchatty.events.Error` event.

    ``error`` is that event; ``partial`` the text received before it; ``kind``,
    ``status`` and ``retry_after`` are copied from it for convenience.

    ``str`` and ``repr`` are built from the event's kind, status and message only -- text
    the :class:`~libchatty.call.Call` already stripped of every credential -- never from
    anything else the binding may know (the request, its headers). The partial answer is
    left out of both: it can be long, and it is on ``partial``.
    """

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.kind}: {error.message}")
        self.error = error
        self.kind = error.kind
        self.status = error.status
        self.retry_after = error.retry_after
        self.partial = error.partial

    def __str__(self) -> str:
        return f"{self.error.kind}: {self.error.message}"

    def __repr__(self) -> str:
        return (
            f"ChatError(kind={self.error.kind!r}, status={self.error.status!r}, "
            f"message={self.error.message!r})"
        )
