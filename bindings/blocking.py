"""The blocking binding: ``Client`` over plain sockets.

::

    from libchatty.bindings.blocking import Client

    with Client("openai") as client:            # OPENAI_API_KEY from the environment
        answer = client.chat("Say hi", "gpt-4o-mini")           # one JSON body
        print(answer.text)

        client.chat([{"role": "user", "content": "Count to 5"}], "gpt-4o-mini",
                    on_delta=lambda text, done: print(text, end="", flush=True))

        with client.stream("Tell a story", "gpt-4o-mini") as events:
            for event in events:                 # Delta..., then Done or Error
                ...

``Client(provider=None, *, base_url=None, api_key=None, dialect=None, timeout=None,
max_retries=2, ssl_context=None, headers=None, env=None)`` (the keywords are
:class:`~libchatty.bindings._config.ClientOptions`, the same for every client): a provider name
(``"openai"``, ``"groq"``, ``"anthropic"``, ...) or a ``base_url`` (with ``dialect`` for a
non-OpenAI wire format); the key and URL overrides come from ``env`` (default
``os.environ``). A provider that needs a key and has none raises
:class:`~libchatty.bindings._api.MissingAPIKeyError` naming the variable to set.
``timeout`` is a :class:`~libchatty.bindings._api.Timeout` or a number (connect and idle
seconds). TLS is verified with the system CAs (``ssl_context`` for your own), HTTPS goes
through ``HTTPS_PROXY`` unless ``NO_PROXY`` says otherwise; connections are kept alive
and reused per host. A client may be shared by threads.

``chat(messages, model, *, on_delta=None, on_event=None, on_partial=None, **options)
-> Completion`` (its keywords are :class:`~libchatty.bindings._api.ChatArguments`, the same
for every client): ``messages`` is a string (one user message) or a list of
``Message``/OpenAI-style dicts; ``options`` (:class:`~libchatty.bindings._api.ChatOptions`)
are ``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``tools``, ``tool_choice``,
``extra``, ``response_format``, ``reasoning``, ``seed``, ``n``, ``headers``, and this
call's ``timeout`` and ``max_retries`` (instead of the client's). Without callbacks the
request is not streamed. With them it streams; see :mod:`libchatty.bindings._api` for
the callbacks (``on_partial`` gets the structured answer and tool-call arguments as they
fill in) and :data:`STOP`. A call that ends in an error raises
:class:`~libchatty.exceptions.ChatError` (``.error`` is the ``Error`` event,
``.partial`` the text received before it). With ``response_format``,
``Completion.parsed`` is the structured answer, and an answer that is not valid JSON
(or that the pydantic model rejects) raises
:class:`~libchatty.structured.StructuredOutputError`, whose ``text`` is the answer.

``stream(messages, model, *, partial=False, **options)``: a context manager giving an
iterator of events: ``Delta`` events, then exactly one ``Done`` or ``Error`` -- the
iterator does not raise for an ``Error``, it yields it, last. With ``partial=True``
:class:`~libchatty.partial_objects.PartialObject` events come among them (after the
``Delta`` that made them; the complete ones before ``Done``). The ``Done`` is yielded as
it is: parse a structured answer with :func:`libchatty.structured.parse_structured`.
Leaving the block early closes the connection.

Retries (``max_retries``, backoff with jitter, ``Retry-After`` honoured) and the fallback
to a non-streaming request happen only before anything was delivered: see
:mod:`libchatty.policy`. Redirects are not followed (a 3xx is ``Error("redirect")``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, overload

from libchatty.events import Event

from ._api import STOP, Completion, Messages, MissingAPIKeyError, Timeout
from ._chat_run import run_exchange
from ._client import ClientShell
from ._runners import SyncBackend, drive
from ._sockets import SocketBackend

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

    from libchatty.partial_objects import PartialObject

    from ._api import ChatArguments, ChatOptions, EventStreamOptions, PartialStreamOptions

__all__ = ["STOP", "Client", "Completion", "MissingAPIKeyError", "Timeout"]


class Client(ClientShell[SyncBackend]):
    """A chat client over blocking sockets; see the module docstring."""

    def make_backend(self, ssl_context: ssl.SSLContext | None) -> SyncBackend:
        return SocketBackend(ssl_context)

    def close(self) -> None:
        """Close the idle keep-alive connections. The client stays usable."""
        self.pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def chat(
        self, messages: Messages, model: str, **arguments: Unpack[ChatArguments]
    ) -> Completion:
        """Send one chat request and return its :class:`Completion` (see the module
        docstring); raises :class:`~libchatty.exceptions.ChatError` on failure."""
        exchange, callbacks = self.chat_exchange(messages, model, arguments)
        return run_exchange(exchange, self.backend, *callbacks)

    @overload
    def stream(
        self, messages: Messages, model: str, **options: Unpack[EventStreamOptions]
    ) -> AbstractContextManager[Generator[Event, None, None]]: ...

    @overload
    def stream(
        self, messages: Messages, model: str, **options: Unpack[PartialStreamOptions]
    ) -> AbstractContextManager[Generator[Event | PartialObject, None, None]]: ...

    def stream(
        self,
        messages: Messages,
        model: str,
        *,
        partial: bool = False,
        **options: Unpack[ChatOptions],
    ) -> AbstractContextManager[Generator[Event | PartialObject, None, None]]:
        """Stream one chat request: yields an iterator of events (see the module
        docstring). Leaving the block early closes the connection."""
        return self._stream(messages, model, partial, options)

    @contextlib.contextmanager
    def _stream(
        self, messages: Messages, model: str, partial: bool, options: ChatOptions
    ) -> Iterator[Generator[Event | PartialObject, None, None]]:
        exchange, partials = self.stream_exchange(messages, model, partial, options)
        events = drive(exchange.run(), self.backend)
        if partials is None:
            items: Generator[Event | PartialObject, None, None] = events
        else:
            from ._partials import partial_stream  # only a call that asks for partials

            items = partial_stream(events, partials)
        try:
            yield items
        finally:
            items.close()
            events.close()  # when items wraps it (closing twice does nothing)
