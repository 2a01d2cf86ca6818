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

* ``submit(messages, model, *, on_delta=None, on_event=None, on_partial=None, **options)
  -> ChatFuture``:
  a :class:`concurrent.futures.Future` of the :class:`~libchatty.bindings._api.Completion`.
  Callbacks run on the worker thread. A failure is the future's exception
  (:class:`~libchatty.exceptions.ChatError`, or whatever a callback raised).
  ``future.cancel()`` works at any time until the call ends -- the future stays *pending*
  while the call runs so that it can -- and closes the socket at once; ``future.partial``
  is the answer text received before that.
* ``stream(messages, model, *, queue_size=64, partial=False, **options) -> EventStream``
  (``partial=True``: ``PartialObject`` events among the others): the call runs
  on its own thread and hands its events to the calling thread through a bounded queue:
  when the consumer falls behind, the worker stops reading from the socket
  (backpressure, not unbounded memory). Iterating gives ``Delta`` events then one
  ``Done`` or ``Error``. ``stop()`` (from any thread; or leaving the ``with`` block, or
  closing the iterator) closes the socket at once; an iteration still running then ends
  with ``Error("cancelled")`` carrying the partial text.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, overload

from ._api import Messages
from ._config import ClientConfig
from ._event_queue import DEFAULT_QUEUE_SIZE, EventStream
from ._worker import CancellableBackend, ChatFuture, run_in_worker
from .blocking import STOP, Client, Completion, MissingAPIKeyError, Timeout  # re-exported

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

    from libchatty.events import Event
    from libchatty.partial_objects import PartialObject

    from ._api import ChatArguments, ChatOptions, EventStreamOptions, PartialStreamOptions
    from ._config import ClientOptions

__all__ = [
    "STOP",
    "ChatFuture",
    "Completion",
    "EventStream",
    "MissingAPIKeyError",
    "ThreadedClient",
    "Timeout",
]


class ThreadedClient:
    """A chat client that runs its calls on threads; see the module docstring."""

    def __init__(
        self, provider: str | None = None, *, max_workers: int = 8,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._client = Client(provider, **options)
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="libchatty")

    @property
    def config(self) -> ClientConfig:
        return self._client.config

    def __repr__(self) -> str:
        return f"<ThreadedClient {self._client.config.endpoint!r}>"

    def _backend(self) -> CancellableBackend:
        return CancellableBackend(self._client.config.ssl_context)

    def submit(
        self, messages: Messages, model: str, **arguments: Unpack[ChatArguments]
    ) -> ChatFuture:
        """Start a call on a worker thread; see the module docstring."""
        exchange, callbacks = self._client.chat_exchange(messages, model, arguments)
        backend = self._backend()
        future = ChatFuture(exchange, backend)
        self._executor.submit(run_in_worker, future, exchange, backend, *callbacks)
        return future

    @overload
    def stream(
        self, messages: Messages, model: str, *, queue_size: int = DEFAULT_QUEUE_SIZE,
        **options: Unpack[EventStreamOptions],
    ) -> EventStream[Event]: ...

    @overload
    def stream(
        self, messages: Messages, model: str, *, queue_size: int = DEFAULT_QUEUE_SIZE,
        **options: Unpack[PartialStreamOptions],
    ) -> EventStream[Event | PartialObject]: ...

    def stream(
        self, messages: Messages, model: str, *, queue_size: int = DEFAULT_QUEUE_SIZE,
        partial: bool = False, **options: Unpack[ChatOptions],
    ) -> EventStream[Event] | EventStream[Event | PartialObject]:
        """Start a streaming call on its own thread; see the module docstring."""
        exchange, partials = self._client.stream_exchange(messages, model, partial, options)
        return EventStream(exchange, self._backend(), queue_size, partials)

    def close(self, wait: bool = True) -> None:
        """Stop accepting calls, wait for running ones (when ``wait``), and close the
        idle connections."""
        self._executor.shutdown(wait=wait)
        self._client.close()

    def __enter__(self) -> ThreadedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
