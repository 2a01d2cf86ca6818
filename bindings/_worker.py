"""What runs a call on a worker thread, and how another thread stops it: a backend
whose blocked socket can be shut down from outside, the future of the call's result,
and the worker's body."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ._api import Completion, OnDelta, OnEvent, OnPartial
from ._chat_run import run_exchange
from ._exchange import Exchange
from ._ops import IOFailure, Op, Receive, Send, StartTLS
from ._sockets import SocketBackend, SocketConn

if TYPE_CHECKING:
    import ssl

__all__ = ["CancellableBackend", "Cancelled", "ChatFuture", "run_in_worker"]


class Cancelled(Exception):
    """Raised inside a worker once its call was cancelled (never reaches the user)."""


class CancellableBackend(SocketBackend):
    """Blocking sockets that another thread can stop: :meth:`cancel` shuts down the
    socket an operation is blocked on (which wakes ``recv`` at once), and every
    operation after that raises :class:`Cancelled`.

    Only a socket *in use by an operation* is shut down: between operations the worker
    may have handed its connection back to the shared pool, and another call's socket
    must not be touched.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(ssl_context)
        self._stop = threading.Event()
        self._busy: SocketConn | None = None

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        # Set the flag first: a worker about to block checks it after marking _busy.
        self._stop.set()
        busy = self._busy
        if busy is not None:
            busy.interrupt()

    def perform(self, op: Op) -> Any:
        conn = op.conn if isinstance(op, (Receive, Send, StartTLS)) else None
        self._busy = conn  # type: ignore[assignment]
        try:
            if self._stop.is_set():
                raise Cancelled
            try:
                result = super().perform(op)
            except IOFailure:
                if self._stop.is_set():
                    raise Cancelled from None
                raise
        finally:
            self._busy = None
        if self._stop.is_set():
            if isinstance(result, SocketConn):  # a new connection nobody holds yet
                result.abort()
            raise Cancelled
        return result

    def sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Cancelled


class ChatFuture(Future[Completion]):
    """A :class:`concurrent.futures.Future` of a :class:`Completion` whose ``cancel()``
    stops a running call. It stays pending (``running()`` is False) until the call
    ends, so that ``cancel()`` keeps working."""

    def __init__(self, exchange: Exchange, backend: CancellableBackend) -> None:
        super().__init__()
        self._exchange = exchange
        self._backend = backend

    @property
    def partial(self) -> str:
        """The answer text received so far."""
        return self._exchange.text

    def cancel(self) -> bool:
        """Cancel the call, whether it is waiting for a worker or already running.

        Unlike :meth:`concurrent.futures.Future.cancel`, a running call *can* be
        cancelled: the future stays pending until the call ends. Returns True (and the
        future is cancelled: ``result()`` raises ``CancelledError``) unless the call had
        already ended with a result or an exception, then False and nothing changes.
        A socket blocked in a read or write is shut down at once; otherwise the call
        stops at its next I/O operation or backoff sleep, and its connection is closed,
        never reused. It does not wait for the worker: a callback running at that moment
        finishes, and the events of the read already made may still reach the callbacks;
        nothing more is read. ``partial`` keeps the text received before the cancel."""
        cancelled = super().cancel()
        if cancelled:
            self._backend.cancel()
        return cancelled


def run_in_worker(
    future: ChatFuture,
    exchange: Exchange,
    backend: CancellableBackend,
    on_delta: OnDelta | None,
    on_event: OnEvent | None,
    on_partial: OnPartial | None = None,
) -> None:
    """The worker's body for ``future``: run the call, then settle the future (unless
    it was cancelled meanwhile)."""
    if future.cancelled():
        return
    try:
        result = run_exchange(exchange, backend, on_delta, on_event, on_partial)
    except Cancelled:
        return  # the future is already cancelled
    except BaseException as exc:
        if future.set_running_or_notify_cancel():
            future.set_exception(exc)
        return
    if future.set_running_or_notify_cancel():
        future.set_result(result)
