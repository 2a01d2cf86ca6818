"""The client shell every binding's client is built on: the constructor (its keywords
written once, as :class:`~libchatty.bindings._config.ClientOptions`), the configuration,
the keep-alive pool, the backend and the clocks, and the :class:`Exchange` for a call.
A binding adds its backend and its ``chat()``/``stream()`` (sync or async)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._api import Messages, build_request, call_settings
from ._config import make_config
from ._exchange import Exchange
from ._ops import Runtime
from ._pool import Pool
from ._transport import system_runtime

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

    from libchatty.partial_objects import PartialObjects

    from ._config import ClientOptions

__all__ = ["ClientShell"]

B = TypeVar("B")


class ClientShell(ABC, Generic[B]):
    """What every client is, whatever its transport: ``config`` (endpoint, timeouts,
    retries, proxy, TLS context), ``pool`` (idle connections, shared by its calls),
    ``backend`` (a ``B``: the binding's I/O) and ``runtime`` (clocks and jitter).

    ``provider`` is a provider name (``"openai"``, ``"groq"``, ...) or None with a
    ``base_url``; the keywords are :class:`~libchatty.bindings._config.ClientOptions`.
    """

    #: The loop a call runs (a stack that frames HTTP itself runs a
    #: :class:`~libchatty.bindings._framed.FramedExchange`).
    exchange_type: type[Exchange] = Exchange

    def __init__(self, provider: str | None = None, **options: Unpack[ClientOptions]) -> None:
        self.config = make_config(provider, **options)
        self.pool = Pool()
        self.backend: B = self.make_backend(self.config.ssl_context)
        self.runtime = self.make_runtime()

    @abstractmethod
    def make_backend(self, ssl_context: ssl.SSLContext | None) -> B:
        """The binding's I/O, with ``ssl_context`` (None: verified, system CAs)."""

    def make_runtime(self) -> Runtime:
        """The clocks the loop reads (a binding with its own clock overrides this)."""
        return system_runtime()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.endpoint!r}>"

    def chat_exchange(
        self, messages: Messages, model: str, arguments: Mapping[str, Any]
    ) -> tuple[Exchange, tuple[Any, Any, Any]]:
        """The loop for one ``chat()`` (or ``submit()``) call, and its ``(on_delta,
        on_event, on_partial)`` as the runners take them (None when not given).
        ``arguments`` are the call's :class:`~libchatty.bindings._api.ChatArguments`,
        whose types the method's signature checks. A call with a callback streams."""
        options = dict(arguments)
        callbacks = (
            options.pop("on_delta", None),
            options.pop("on_event", None),
            options.pop("on_partial", None),
        )
        streaming = callbacks != (None, None, None)
        return self.exchange(messages, model, streaming, options), callbacks

    def stream_exchange(
        self, messages: Messages, model: str, partial: bool, options: Mapping[str, Any]
    ) -> tuple[Exchange, PartialObjects | None]:
        """The loop for one ``stream()`` call and, when it asks for ``partial`` objects,
        the adapter that makes them (None otherwise); ``options`` as for :meth:`exchange`."""
        exchange = self.exchange(messages, model, True, options)
        if not partial:
            return exchange, None
        from ._partials import partial_objects  # only a call that asks for partials

        return exchange, partial_objects(exchange.request)

    def exchange(
        self, messages: Messages, model: str, stream: bool, options: Mapping[str, Any]
    ) -> Exchange:
        """The loop for one call (for bindings built on this client): ``options`` are
        :class:`~libchatty.bindings._api.ChatOptions` (the request's, and this call's
        ``timeout``/``max_retries``)."""
        request = build_request(messages, model, stream, options)
        if "timeout" not in options and "max_retries" not in options:
            return self.exchange_type(self.config, request, self.pool, self.runtime)
        timeout, max_retries = call_settings(options)
        return self.exchange_type(
            self.config, request, self.pool, self.runtime, timeout=timeout, max_retries=max_retries
        )
