"""The threads binding: chat calls on worker threads, for programs that must not block
(GUIs, synchronous servers).

::

    from libchatty.bindings.threads import ThreadedClient

    with ThreadedClient("openai", max_workers=8) as client:
        future = client.submit("Say hi", "gpt-4o-mini", on_delta=show)  # show() runs on
        ...                                                            # the worker thread
        print(future.result(timeout=60).text)

        with client.stream("Tell a story", "gpt-4o-mini", queue_size=32) as events:
            for event in events:          # on this thread: Delta..., then Done or Error
                if enough(event):
                    events.stop()         # closes the socket at once

``ThreadedClient`` takes the blocking ``Client``'s arguments (see
:mod:`libchatty.bindings.blocking`) plus ``max_workers`` (threads running ``submit``
calls). Calls share one keep-alive pool.

* ``submit(messages, model, *, on_delta=None, on_event=None, **options) -> ChatFuture``:
  a :class:`concurrent.futures.Future` of the :class:`~libchatty.bindings._api.Completion`.
  Callbacks run on the worker thread. A failure is the future's exception
  (:class:`~libchatty.exceptions.ChatError`, or whatever a callback raised).
  ``future.cancel()`` works at any time until the call ends -- the future stays *pending*
  while the call runs so that it can -- and closes the socket at once; ``future.partial``
  is the answer text received before that.
* ``stream(messages, model, *, queue_size=64, **options) -> EventStream``: the call runs
  on its own thread and hands its events to the calling thread through a bounded queue:
  when the consumer falls behind, the worker stops reading from the socket
  (backpressure, not unbounded memory). Iterating gives ``Delta`` events then one
  ``Done`` or ``Error``. ``stop()`` (from any thread; or leaving the ``with`` block, or
  closing the iterator) closes the socket at once; an iteration still running then ends
  with ``Error("cancelled")`` carrying the partial text.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from libchatty.events import Done, Error, Event

from ._api import (
    STOP,
    ChatOptions,
    ClientConfig,
    Completion,
    MissingAPIKeyError,
    OnDelta,
    OnEvent,
    Timeout,
)
from ._driver import Exchange, IOFailure, Op, Receive, Send, StartTLS, drive
from .blocking import Client, Messages, SocketBackend, SocketConn, run_exchange

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

__all__ = [
    "STOP",
    "ChatFuture",
    "Completion",
    "EventStream",
    "MissingAPIKeyError",
    "ThreadedClient",
    "Timeout",
]

#: Events buffered between the worker and the consumer of ``stream()``.
DEFAULT_QUEUE_SIZE: Final = 64
# How often a worker blocked on a full queue looks whether it was stopped (seconds).
_PUT_POLL: Final = 0.25


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


_END: Final = object()


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class EventStream:
    """The events of one call, produced on a worker thread; see the module docstring.

    Iterate it (once) on one thread. ``stop()`` may be called from any thread.
    """

    def __init__(self, exchange: Exchange, backend: CancellableBackend, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._exchange = exchange
        self._backend = backend
        self._queue: queue.Queue[object] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._produce, name="libchatty-stream", daemon=True)
        self._thread.start()

    @property
    def partial(self) -> str:
        """The answer text received so far."""
        return self._exchange.text

    def _produce(self) -> None:
        try:
            for event in drive(self._exchange.run(), self._backend):
                if not self._put(event):
                    return
        except Cancelled:
            return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Raised(exc))
            return
        self._put(_END)

    def _put(self, item: object) -> bool:
        """Queue ``item``, waiting while the queue is full; False once stopped."""
        while not self._backend.cancelled:
            try:
                self._queue.put(item, timeout=_PUT_POLL)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Event]:
        ended = False
        try:
            while True:
                if self._backend.cancelled:
                    item: object = _END
                else:
                    try:
                        item = self._queue.get(timeout=_PUT_POLL)
                    except queue.Empty:
                        continue
                if item is _END:
                    if not ended:  # stopped: still end with one terminal event
                        yield Error("cancelled", "the stream was stopped", partial=self.partial)
                    return
                if isinstance(item, _Raised):
                    raise item.exc
                if type(item) is Done or type(item) is Error:
                    ended = True
                yield item  # type: ignore[misc]
        finally:
            self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the call: close its socket, end the iteration, and wait (up to
        ``timeout`` seconds) for the worker thread to finish."""
        self._backend.cancel()
        with contextlib.suppress(queue.Empty):  # unblock a worker waiting to put
            for _ in range(self._queue.maxsize + 1):
                self._queue.get_nowait()
        with contextlib.suppress(queue.Full):  # wake a consumer waiting on another thread
            self._queue.put_nowait(_END)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ThreadedClient:
    """A chat client that runs its calls on threads; see the module docstring."""

    def __init__(
        self,
        provider: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int = 2,
        ssl_context: ssl.SSLContext | None = None,
        headers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        max_workers: int = 8,
    ) -> None:
        self._client = Client(
            provider,
            base_url=base_url,
            api_key=api_key,
            dialect=dialect,
            timeout=timeout,
            max_retries=max_retries,
            ssl_context=ssl_context,
            headers=headers,
            env=env,
        )
        self._ssl_context = ssl_context
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="libchatty")

    @property
    def config(self) -> ClientConfig:
        return self._client.config

    def __repr__(self) -> str:
        return f"<ThreadedClient {self._client.config.endpoint!r}>"

    def submit(
        self,
        messages: Messages,
        model: str,
        *,
        on_delta: OnDelta | None = None,
        on_event: OnEvent | None = None,
        **options: Unpack[ChatOptions],
    ) -> ChatFuture:
        """Start a call on a worker thread; see the module docstring."""
        streaming = on_delta is not None or on_event is not None
        exchange = self._client.exchange(messages, model, streaming, options)
        backend = CancellableBackend(self._ssl_context)
        future = ChatFuture(exchange, backend)
        self._executor.submit(_work, future, exchange, backend, on_delta, on_event)
        return future

    def stream(
        self,
        messages: Messages,
        model: str,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        **options: Unpack[ChatOptions],
    ) -> EventStream:
        """Start a streaming call on its own thread; see the module docstring."""
        exchange = self._client.exchange(messages, model, True, options)
        return EventStream(exchange, CancellableBackend(self._ssl_context), queue_size)

    def close(self, wait: bool = True) -> None:
        """Stop accepting calls, wait for running ones (when ``wait``), and close the
        idle connections."""
        self._executor.shutdown(wait=wait)
        self._client.close()

    def __enter__(self) -> ThreadedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _work(
    future: ChatFuture,
    exchange: Exchange,
    backend: CancellableBackend,
    on_delta: OnDelta | None,
    on_event: OnEvent | None,
) -> None:
    if future.cancelled():
        return
    try:
        result = run_exchange(exchange, backend, on_delta, on_event)
    except Cancelled:
        return  # the future is already cancelled
    except BaseException as exc:
        if future.set_running_or_notify_cancel():
            future.set_exception(exc)
        return
    if future.set_running_or_notify_cancel():
        future.set_result(result)
