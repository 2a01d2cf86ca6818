"""OpenAI chat completions, as the server sends them (and every compatible server)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..events import Usage
from .base import Renderer, dumps
from .script import Script, split_tokens

__all__ = ["RENDERER", "OpenAIChatRenderer"]

# Error ``type`` and ``code`` OpenAI uses per status.
_ERROR_TYPES: Final[dict[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


def _sse(value: Any) -> bytes:
    return b"data: " + dumps(value) + b"\n\n"


def _envelope(script: Script, kind: str, choices: list[Any], usage: Usage | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": script.response_id,
        "object": kind,
        "created": script.created,
        "model": script.model,
        "choices": choices,
    }
    if usage is not None:
        wire: dict[str, Any] = {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        }
        if usage.reasoning_tokens is not None:
            wire["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
        if usage.cached_tokens is not None:
            wire["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
        out["usage"] = wire
    return out


def _chunk(script: Script, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return _sse(_envelope(script, "chat.completion.chunk", [choice], None))


def error_body(status: int, message: str, table: Mapping[int, tuple[str, str | None]]) -> bytes:
    """An OpenAI-shaped error body: ``type`` and ``code`` from ``table`` by status."""
    error_type, code = table.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return dumps({"error": {"message": message, "type": error_type, "param": None, "code": code}})


class OpenAIChatRenderer(Renderer):
    name = "openai-chat"
    paths = ("/chat/completions",)

    def render_stream(self, script: Script) -> list[bytes]:
        """Role chunk, reasoning (``reasoning_content``) and text chunks, tool calls (id and
        name, then argument fragments), the finish chunk, a usage chunk with empty
        ``choices`` when the script has usage, and ``data: [DONE]``."""
        events = [_chunk(script, {"role": "assistant", "content": ""})]
        events.extend(
            _chunk(script, {"content": None, "reasoning_content": piece})
            for piece in script.reasoning_pieces()
        )
        events.extend(_chunk(script, {"content": piece}) for piece in script.text_pieces())
        for index, call in enumerate(script.tool_calls):
            head = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(_chunk(script, {"tool_calls": [head]}))
            events.extend(
                _chunk(script, {"tool_calls": [{"index": index, "function": {"arguments": part}}]})
                for part in split_tokens(call.arguments)
            )
        events.append(_chunk(script, {}, finish_reason=script.finish_reason))
        if script.usage is not None:
            events.append(_sse(_envelope(script, "chat.completion.chunk", [], script.usage)))
        events.append(b"data: [DONE]\n\n")
        return events

    def render_body(self, script: Script) -> bytes:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": script.text if script.text or not script.tool_calls else None,
        }
        if script.reasoning:
            message["reasoning_content"] = script.reasoning
        if script.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in script.tool_calls
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": script.finish_reason,
        }
        return dumps(_envelope(script, "chat.completion", [choice], script.usage))

    def render_error(self, status: int, message: str) -> bytes:
        return error_body(status, message, _ERROR_TYPES)

    def render_stream_error(self, message: str) -> bytes:
        error = {"message": message, "type": "server_error", "param": None, "code": None}
        return _sse({"error": error})


RENDERER: Final = OpenAIChatRenderer()
