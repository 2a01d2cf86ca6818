"""Ollama's completion API (``"ollama-generate"``): ``POST /api/generate``, NDJSON.

Chosen by name: ``Endpoint(..., dialect="ollama-generate")`` (or ``Client("ollama",
dialect="ollama-generate")``). It is a *prompt* dialect, not a conversation one, so it is
not in :data:`~libchatty.dialects.DIALECT_NAMES`: a generate request carries one prompt.

Request (docs/api.md, "Generate a completion"): ``{"model", "prompt", "system"?,
"images"?, "stream", "format"?, "think"?, "options"?}``. A ``ChatRequest`` maps onto it
when its messages are an optional ``system`` (or ``developer``) message followed by
exactly one ``user`` message: the user text is ``prompt``, the system text ``system``, the
user message's images ``images`` (bare base64, as ``/api/chat``). ``format``, ``think``,
``options`` (sampling, ``seed``), ``n`` and headers are rendered as in
:mod:`libchatty.dialects.ollama` (see there). Anything generate cannot carry is a
``ValueError`` naming why, before anything is sent: several turns, an assistant or tool
message, tools, images in the system message. ``ChatRequest.extra`` is merged last
(``raw``, ``suffix``, ``keep_alive``...; ``extra['options']`` into ``options``).

Response: each line's ``response`` is answer text and ``thinking`` reasoning; the line
with ``"done": true`` ends it (``done_reason``, ``prompt_eval_count``/``eval_count`` as
usage, ``model`` as ``Done.model``; its ``context`` token array is not kept). Decoding is
:class:`~libchatty.dialects.ollama.OllamaStreamDecoder`, which reads both shapes.
"""

from __future__ import annotations

from typing import Any, Final

from ..endpoint import Endpoint
from ..request import ChatRequest, Message
from .base import HTTPRequest
from .ollama import OllamaDialect, message_images, ollama_request

__all__ = ["DIALECT", "OllamaGenerateDialect", "prompt_fields"]

_PROVIDER: Final = "Ollama /api/generate"
_SYSTEM: Final = frozenset({"system", "developer"})


def _refuse(why: str) -> ValueError:
    return ValueError(
        f"{_PROVIDER} takes one prompt (an optional system message, then one user "
        f"message): {why}; use the 'ollama' dialect (/api/chat) for a conversation"
    )


def _plain(message: Message, what: str) -> None:
    if message.tool_calls or message.tool_call_id:
        raise _refuse(f"the {what} message carries tool calls or a tool result")


def prompt_fields(messages: tuple[Message, ...]) -> dict[str, Any]:
    """``prompt``, and ``system`` and ``images`` when there are any, from the messages;
    ``ValueError`` for any other shape of conversation."""
    system: Message | None = None
    rest = messages
    if rest and rest[0].role in _SYSTEM:
        system, rest = rest[0], rest[1:]
    if len(rest) != 1:
        raise _refuse(f"this request has {len(rest)} messages after the system message")
    user = rest[0]
    if user.role != "user":
        raise _refuse(f"the last message has role {user.role!r}, not 'user'")
    _plain(user, "user")
    out: dict[str, Any] = {"prompt": user.text}
    if system is not None:
        _plain(system, "system")
        if message_images(system, _PROVIDER):
            raise _refuse("the system message carries images")
        out["system"] = system.text
    images = message_images(user, _PROVIDER)
    if images:
        out["images"] = images
    return out


class OllamaGenerateDialect(OllamaDialect):
    """Ollama's ``/api/generate``: one prompt in, a completion out. Only the request
    differs from ``/api/chat``: the responses are decoded alike."""

    name = "ollama-generate"

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
        if request.tool_list:
            raise _refuse("it has no tools")
        body: dict[str, Any] = {"model": request.model}
        body.update(prompt_fields(tuple(request.messages)))
        body["stream"] = request.stream
        return ollama_request(endpoint, request, "/api/generate", body, _PROVIDER)


DIALECT: Final = OllamaGenerateDialect()
