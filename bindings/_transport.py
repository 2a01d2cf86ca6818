"""What the backends share: the default TLS context, OSError wording, a look at a socket
without reading it, the system clocks, and the one place where a backend's exceptions
become :class:`~libchatty.bindings._ops.IOFailure` (:func:`map_exceptions`, with the
backend's own table)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ._ops import IOFailure, Runtime

if TYPE_CHECKING:
    import ssl
    from types import TracebackType

__all__ = [
    "ExceptionTable",
    "default_ssl_context",
    "describe",
    "io_failure",
    "map_exceptions",
    "system_runtime",
    "waiting",
]

#: A backend's exceptions and the :class:`IOFailure` kind each one is, most specific
#: first (the first entry the exception is an instance of wins).
ExceptionTable = Mapping[type[BaseException], Literal["timeout", "connection"]]

_default_context: ssl.SSLContext | None = None


def default_ssl_context() -> ssl.SSLContext:
    """``ssl.create_default_context()`` (verification on), made once: loading the CA
    store costs milliseconds, and ``ssl`` itself is imported only for HTTPS."""
    global _default_context
    if _default_context is None:
        import ssl

        _default_context = ssl.create_default_context()
    return _default_context


def describe(exc: BaseException) -> str:
    """An exception in a few words (an ``OSError``'s ``strerror`` without the errno
    noise; else its text, else its type's name)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _certificate_failure(exc: BaseException) -> str | None:
    """Why a certificate check failed, when ``exc`` is that failure. Only ``ssl`` raises
    one, so a program that never imported it has none (and does not pay for the
    import here)."""
    ssl = sys.modules.get("ssl")
    if ssl is None or not isinstance(exc, ssl.SSLCertVerificationError):
        return None
    return str(exc.verify_message or exc.reason)


class map_exceptions:  # lower case: called like the function it replaced
    """Raise what the block raises as an :class:`IOFailure` when ``table`` names its
    type (see :func:`io_failure`); anything else (a cancellation, a bug) goes through.
    A read on the hot path uses ``try``/``except`` with :func:`io_failure` instead:
    entering a context manager per read costs more than the read's own bookkeeping.

    A slotted class, not a ``@contextmanager`` generator: every connect and send of
    thousands of concurrent streams holds one while it waits, and the generator, its
    frame and its wrapper's ``__dict__`` were ~280 bytes more of each."""

    __slots__ = ("doing", "table")

    def __init__(self, table: ExceptionTable, doing: str) -> None:
        self.table = table
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if exc is None or isinstance(exc, IOFailure) or _kind(self.table, exc) is None:
            return False  # nothing raised, or it goes through as it is
        raise io_failure(self.table, exc, self.doing) from None


def io_failure(table: ExceptionTable, exc: BaseException, doing: str) -> IOFailure:
    """``exc``, of a type ``table`` names (any other is a connection failure), as an
    :class:`IOFailure`. The reason is read from its ``__cause__`` when it has one (trio
    wraps OS and TLS errors in ``BrokenResourceError``).

    ``doing`` names the operation ("reading", "connecting to host:443"): the message is
    ``"<doing> timed out"`` or ``"<doing> failed: <reason>"``. A failed certificate check
    is never worth a retry, whatever the backend: ``retryable=False``.
    """
    kind = _kind(table, exc)
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    reason = _certificate_failure(cause)
    if reason is not None:
        message = f"{doing} failed: TLS certificate verification failed: {reason}"
        return IOFailure("connection", message, retryable=False)
    if kind == "timeout":
        return IOFailure("timeout", f"{doing} timed out")
    return IOFailure("connection", f"{doing} failed: {describe(cause)}")


def _kind(table: ExceptionTable, exc: BaseException) -> str | None:
    for exc_type, kind in table.items():
        if isinstance(exc, exc_type):
            return kind
    return None


def waiting(sock: Any) -> bool:
    """Whether bytes, an end of stream or an error wait on ``sock`` (a socket or anything
    with ``fileno()``), looked at without reading or waiting. A TLS socket also counts
    the decrypted bytes it holds (``pending()``). Any failure to look counts as True:
    a connection we cannot vouch for is not reused."""
    try:
        pending = getattr(sock, "pending", None)
        if pending is not None and pending():
            return True
        fd = sock.fileno()
        if fd < 0:
            return True
        import select  # cached after the first reuse

        if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLPRI)
            return bool(poller.poll(0))
        readable, _, errored = select.select([fd], [], [fd], 0)
        return bool(readable or errored)
    except (OSError, ValueError):
        return True


def _random() -> float:
    import random  # only when a retry happens: keeps the import cost off the hot path

    return random.random()


def system_runtime(clock: Callable[[], float] = time.monotonic) -> Runtime:
    """The :class:`Runtime` of a real program: ``clock`` (default ``time.monotonic``,
    the one asyncio's loop uses; trio passes its own), ``random.random`` for jitter and
    ``time.time`` for HTTP dates."""
    return Runtime(clock, _random, time.time)
