"""The typed keyword options of ``chat()``/``stream()``/``submit()``: what a type checker
reads to catch a misspelt or mistyped option (``**options: Unpack[ChatOptions]``).

Re-exported by :mod:`libchatty.bindings._api`, which imports this module only when one
of these names is asked for at run time: building the ``TypedDict`` classes costs about
0.4 ms (typing compiles each string annotation), which every program importing a
binding would otherwise pay for names only type checkers need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, Literal

    from typing_extensions import Required  # typing.Required from 3.11

    from libchatty.options import Reasoning, ResponseFormat
    from libchatty.request import Tool

    from ._api import (
        AsyncOnDelta,
        AsyncOnEvent,
        AsyncOnPartial,
        OnDelta,
        OnEvent,
        OnPartial,
        Timeout,
    )

__all__ = [
    "AsyncChatArguments",
    "ChatArguments",
    "ChatOptions",
    "EventStreamOptions",
    "PartialStreamOptions",
]


class ChatOptions(TypedDict, total=False):
    """The keyword options of ``chat()``/``stream()``/``submit()``, typed so that a type
    checker catches a misspelt one: the methods take ``**options: Unpack[ChatOptions]``.

    The :class:`~libchatty.request.ChatRequest` fields (checked there): ``temperature``,
    ``top_p``, ``max_tokens``, ``stop``, ``tools``, ``tool_choice``, ``extra``,
    ``response_format`` (a :class:`~libchatty.options.JSONSchema`, ``"json"``, a pydantic
    model class, or OpenAI's ``response_format`` object), ``reasoning`` (a
    :class:`~libchatty.options.Reasoning`), ``seed``, ``n`` and ``headers`` (this
    request's HTTP headers, after the client's).

    And this call's settings (:data:`~libchatty.bindings._api.CALL_OPTIONS`), instead of the
    client's: ``timeout`` (a :class:`~libchatty.bindings._api.Timeout` or a number: connect
    and idle seconds; None or absent: the client's -- pass ``Timeout(None, None)`` for none
    at all) and ``max_retries`` (a non-negative integer; None or absent: the client's).
    """

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    tools: Sequence[Tool | Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    extra: Mapping[str, Any] | None
    response_format: ResponseFormat | type | Mapping[str, Any] | None
    reasoning: Reasoning | None
    seed: int | None
    n: int | None
    headers: Mapping[str, str] | None
    timeout: Timeout | float | None
    max_retries: int | None


class ChatArguments(ChatOptions, total=False):
    """The keywords of ``chat()`` (and the threads binding's ``submit()``): the callbacks
    (see :mod:`libchatty.bindings._api`; giving one makes the call stream) and the
    :class:`ChatOptions`. Every client takes them as ``**arguments: Unpack[...]``."""

    on_delta: OnDelta | None
    on_event: OnEvent | None
    on_partial: OnPartial | None


class AsyncChatArguments(ChatOptions, total=False):
    """:class:`ChatArguments` of an async client, whose callbacks may be ``async def``."""

    on_delta: AsyncOnDelta | None
    on_event: AsyncOnEvent | None
    on_partial: AsyncOnPartial | None


class EventStreamOptions(ChatOptions, total=False):
    """The keywords of ``stream()`` that yields events only: the :class:`ChatOptions`,
    and ``partial`` absent or False. (Its overloads tell the two streams apart by
    these and :class:`PartialStreamOptions`.)"""

    partial: Literal[False]


class PartialStreamOptions(ChatOptions, total=False):
    """The keywords of ``stream(..., partial=True)``, whose stream has
    :class:`~libchatty.partial_objects.PartialObject` events among the others."""

    partial: Required[Literal[True]]
