"""The ``AsyncClient`` of the trio and asyncio bindings, but for its backend: they differ
in nothing else. Not imported by the blocking binding."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, TypeVar, overload

from libchatty.events import Event

from ._api import Completion, Messages
from ._chat_run import arun_exchange, arun_parts
from ._client import ClientShell
from ._runners import AsyncBackend, adrive

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

    from libchatty.partial_objects import PartialObject

    from ._api import AsyncChatArguments, ChatOptions, EventStreamOptions, PartialStreamOptions

__all__ = ["AsyncClientBase"]

Self = TypeVar("Self", bound="AsyncClientBase")


class AsyncClientBase(ClientShell[AsyncBackend]):
    """``AsyncClient`` of the trio and asyncio bindings: everything but the backend.
    See :mod:`libchatty.bindings.trio` for the API."""

    async def aclose(self) -> None:
        """Close the idle keep-alive connections. The client stays usable."""
        self.pool.close()

    async def __aenter__(self: Self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def chat(
        self, messages: Messages, model: str, **arguments: Unpack[AsyncChatArguments]
    ) -> Completion:
        """Send one chat request and return its :class:`Completion`; raises
        :class:`~libchatty.exceptions.ChatError` on failure (and
        :class:`~libchatty.structured.StructuredOutputError` for a structured answer
        that is not what ``response_format`` describes)."""
        exchange, (on_delta, on_event, on_partial) = self.chat_exchange(
            messages, model, arguments
        )
        if on_partial is not None:
            return await arun_exchange(exchange, self.backend, on_delta, on_event, on_partial)
        # arun_exchange's loop run in this frame: one frame less in every read of
        # thousands of calls. Only the run and its callbacks are kept while it waits.
        events, callbacks = arun_parts(exchange, self.backend, on_delta, on_event)
        del messages, arguments, exchange, on_delta, on_event
        async for _ in events:
            pass  # nothing is yielded: every delivery went to the callbacks
        return callbacks.result()

    @overload
    def stream(
        self, messages: Messages, model: str, **options: Unpack[EventStreamOptions]
    ) -> AbstractAsyncContextManager[AsyncGenerator[Event, None]]: ...

    @overload
    def stream(
        self, messages: Messages, model: str, **options: Unpack[PartialStreamOptions]
    ) -> AbstractAsyncContextManager[AsyncGenerator[Event | PartialObject, None]]: ...

    def stream(
        self, messages: Messages, model: str, *, partial: bool = False,
        **options: Unpack[ChatOptions],
    ) -> AbstractAsyncContextManager[AsyncGenerator[Event | PartialObject, None]]:
        """Stream one chat request: ``async with client.stream(...) as events: async for
        event in events`` -- ``Delta`` events, then one ``Done`` or ``Error`` (yielded,
        not raised); with ``partial=True``, ``PartialObject`` events among them (see
        :mod:`libchatty.bindings.blocking`). Leaving the block early closes the
        connection."""
        return self._stream(messages, model, partial, options)

    @asynccontextmanager
    async def _stream(
        self, messages: Messages, model: str, partial: bool, options: ChatOptions
    ) -> AsyncGenerator[AsyncGenerator[Event | PartialObject, None], None]:
        exchange, partials = self.stream_exchange(messages, model, partial, options)
        events = adrive(exchange.run(), self.backend)
        if partials is None:
            items: AsyncGenerator[Event | PartialObject, None] = events
        else:
            from ._partials import apartial_stream  # only a call that asks for partials

            items = apartial_stream(events, partials)
        try:
            yield items
        finally:
            await items.aclose()
            await events.aclose()  # when items wraps it (closing twice does nothing)
