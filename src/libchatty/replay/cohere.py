"""A scripted answer rendered the way Cohere's v2 chat sends it (the replay server's side).

:data:`RENDERER` is the :class:`~libchatty.replay.base.Renderer` for dialect ``cohere``
(``POST /v2/chat``). It delegates to pure functions of a
:class:`~libchatty.replay.script.Script`: :func:`render_stream` (one item per wire event,
``data: [DONE]`` last, as api.cohere.com ends its streams), :func:`render_body` (the
``stream: false`` response), :func:`render_error` (an HTTP error body) and
:func:`render_stream_error` (a failed generation inside a 200 stream). ``citations``
(dicts in the wire shape: ``start``, ``end``, ``text``, ``sources``) are rendered as
``citation-start``/``citation-end`` pairs after the text, and in ``message.citations``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .base import Renderer, dumps
from .script import FinishReasons, Script

if TYPE_CHECKING:
    from ..events import Usage

__all__ = [
    "RENDERER",
    "CohereRenderer",
    "render_body",
    "render_error",
    "render_stream",
    "render_stream_error",
]

# What Cohere sends for each Script finish reason. No v2 reason means "filtered": v1's
# ERROR_TOXIC is the nearest, and what the dialect reads as content_filter.
_FINISH_REASONS: Final = FinishReasons(
    stop="COMPLETE", length="MAX_TOKENS", tool_calls="TOOL_CALL", content_filter="ERROR_TOXIC"
)
# Arguments are streamed in pieces of this many characters.
_ARGUMENT_PIECE: Final = 12


def _event(payload: Mapping[str, Any]) -> bytes:
    return b"event: " + str(payload["type"]).encode() + b"\ndata: " + dumps(payload) + b"\n\n"


def _usage(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {}
    tokens = {
        key: value
        for key, value in (
            ("input_tokens", usage.input_tokens),
            ("output_tokens", usage.output_tokens),
        )
        if value is not None
    }
    out: dict[str, Any] = {"billed_units": dict(tokens), "tokens": tokens}
    if usage.cached_tokens is not None:
        out["cached_tokens"] = usage.cached_tokens
    return out


def _tool_call(script: Script, n: int, arguments: str) -> dict[str, Any]:
    call = script.tool_calls[n]
    function = {"name": call.name, "arguments": arguments}
    return {"id": call.id or f"{call.name}_replay{n}", "type": "function", "function": function}


def render_stream(script: Script, citations: Sequence[Mapping[str, Any]] = ()) -> list[bytes]:
    """The answer as Cohere streams it: tool plan (the script's reasoning), tool calls,
    text, citations, ``message-end``, then ``data: [DONE]``."""
    message = {
        "role": "assistant",
        "content": [],
        "tool_plan": "",
        "tool_calls": [],
        "citations": [],
    }
    out = [
        _event({"id": script.response_id, "type": "message-start", "delta": {"message": message}})
    ]
    for piece in script.reasoning_pieces():
        out.append(_event({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}}))
    for n, call in enumerate(script.tool_calls):
        start = {"tool_calls": _tool_call(script, n, "")}
        out.append(_event({"type": "tool-call-start", "index": n, "delta": {"message": start}}))
        args = call.arguments
        for at in range(0, len(args), _ARGUMENT_PIECE):
            fragment = {"tool_calls": {"function": {"arguments": args[at : at + _ARGUMENT_PIECE]}}}
            delta = {"message": fragment}
            out.append(_event({"type": "tool-call-delta", "index": n, "delta": delta}))
        out.append(_event({"type": "tool-call-end", "index": n}))
    if script.text or not script.tool_calls:
        opening = {"content": {"type": "text", "text": ""}}
        out.append(_event({"type": "content-start", "index": 0, "delta": {"message": opening}}))
        for piece in script.text_pieces():
            content = {"content": {"text": piece}}
            out.append(_event({"type": "content-delta", "index": 0, "delta": {"message": content}}))
        for n, citation in enumerate(citations):
            cited = {"citations": dict(citation)}
            out.append(_event({"type": "citation-start", "index": n, "delta": {"message": cited}}))
            out.append(_event({"type": "citation-end", "index": n}))
        out.append(_event({"type": "content-end", "index": 0}))
    reason = _FINISH_REASONS.of(script)
    end = {"finish_reason": reason, "usage": _usage(script.usage)}
    out.append(_event({"type": "message-end", "delta": end}))
    out.append(b"data: [DONE]\n\n")
    return out


def render_body(script: Script, citations: Sequence[Mapping[str, Any]] = ()) -> bytes:
    """The answer as one ``/v2/chat`` response (``stream`` false)."""
    message: dict[str, Any] = {"role": "assistant"}
    if script.reasoning:
        message["tool_plan"] = script.reasoning
    if script.tool_calls:
        calls = script.tool_calls
        message["tool_calls"] = [_tool_call(script, n, c.arguments) for n, c in enumerate(calls)]
    if script.text or not script.tool_calls:
        message["content"] = [{"type": "text", "text": script.text}]
    if citations:
        message["citations"] = [dict(c) for c in citations]
    reason = _FINISH_REASONS.of(script)
    body = {"id": script.response_id, "message": message, "finish_reason": reason}
    return dumps({**body, "usage": _usage(script.usage)})


def render_error(status: int, message: str) -> bytes:
    """Cohere's error body for any HTTP status: ``{"id", "message"}``."""
    return dumps({"id": "replay-error", "message": message})


def render_stream_error(message: str) -> bytes:
    """A generation that failed after the stream began: ``message-end`` with finish
    reason ``ERROR`` and the ``error`` text."""
    return _event({"type": "message-end", "delta": {"finish_reason": "ERROR", "error": message}})


class CohereRenderer(Renderer):
    """Cohere v2 chat, as api.cohere.com answers it."""

    name = "cohere"
    paths = ("/v2/chat",)

    # The module's functions are the renderer (without citations: a Script has none).
    render_stream = staticmethod(render_stream)
    render_body = staticmethod(render_body)
    render_error = staticmethod(render_error)
    render_stream_error = staticmethod(render_stream_error)


RENDERER: Final = CohereRenderer()
