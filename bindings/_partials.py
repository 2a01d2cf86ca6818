"""Partial objects in the bindings: ``chat(..., on_partial=f)`` and
``stream(..., partial=True)``, on the pure adapter
:class:`~libchatty.partial_objects.PartialObjects`.

What is parsed: the answer when the request asked for structured output
(``response_format``), and each tool call's arguments, always. The adapter (and
:mod:`libchatty.partialjson` under it) is imported only by a call that asks for
partials: a call that does not pays nothing.

In a stream, the partials an event made come right after it, except at the end: the
``complete`` partials come before the ``Done`` (which stays the last event).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING

from libchatty.events import Done, Event

if TYPE_CHECKING:
    from libchatty.partial_objects import PartialObject, PartialObjects
    from libchatty.request import ChatRequest

__all__ = ["apartial_stream", "partial_objects", "partial_stream"]


def partial_objects(request: ChatRequest) -> PartialObjects:
    """The adapter for ``request``'s response (see the module docstring)."""
    from libchatty.partial_objects import PartialObjects

    return PartialObjects(answer=request.response_format is not None, tool_calls=True)


def partial_stream(
    events: Iterator[Event], partials: PartialObjects
) -> Generator[Event | PartialObject, None, None]:
    """``events`` with the partials each made (see the module docstring)."""
    for event in events:
        if type(event) is Done:
            yield from partials.feed(event)
            yield event
        else:
            yield event
            yield from partials.feed(event)


async def apartial_stream(
    events: AsyncIterator[Event], partials: PartialObjects
) -> AsyncGenerator[Event | PartialObject, None]:
    """:func:`partial_stream` for async iterators."""
    async for event in events:
        if type(event) is Done:
            for partial in partials.feed(event):
                yield partial
            yield event
        else:
            yield event
            for partial in partials.feed(event):
                yield partial
