"""The events of one call, produced on a worker thread and consumed on another through
a bounded queue (the threads binding's ``stream()``)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from libchatty.events import Done, Error

from ._exchange import Exchange
from ._partials import partial_stream
from ._runners import drive
from ._worker import CancellableBackend, Cancelled

if TYPE_CHECKING:
    from libchatty.partial_objects import PartialObjects

__all__ = ["DEFAULT_QUEUE_SIZE", "EventStream"]

#: What an :class:`EventStream` yields: events, and with partials ``PartialObject`` too.
T = TypeVar("T")

#: Events buffered between the worker and the consumer of ``stream()``.
DEFAULT_QUEUE_SIZE: Final = 64
# How often a worker blocked on a full queue looks whether it was stopped (seconds).
_PUT_POLL: Final = 0.25


_END: Final = object()


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class EventStream(Generic[T]):
    """The events of one call, produced on a worker thread; see the module docstring.

    Iterate it (once) on one thread. ``stop()`` may be called from any thread. With
    ``partials`` the worker also hands over the partial objects the events make (see
    :mod:`libchatty.bindings._partials`).
    """

    def __init__(
        self,
        exchange: Exchange,
        backend: CancellableBackend,
        queue_size: int,
        partials: PartialObjects | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._exchange = exchange
        self._backend = backend
        self._partials = partials
        self._queue: queue.Queue[object] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._produce, name="libchatty-stream", daemon=True)
        self._thread.start()

    @property
    def partial(self) -> str:
        """The answer text received so far."""
        return self._exchange.text

    def _produce(self) -> None:
        events = drive(self._exchange.run(), self._backend)
        items = events if self._partials is None else partial_stream(events, self._partials)
        try:
            for event in items:
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

    def __iter__(self) -> Iterator[T]:
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
                        yield Error(  # type: ignore[misc]
                            "cancelled", "the stream was stopped", partial=self.partial
                        )
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

    def __enter__(self) -> EventStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
