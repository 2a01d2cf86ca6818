"""Anthropic Messages, as the server sends them: ``POST /v1/messages``, and Claude on
Vertex AI (``.../publishers/anthropic/models/{model}:streamRawPredict`` or
``:rawPredict``, the model in the path and ``stream`` in the body, as there)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ..events import Usage
from .base import Renderer, arguments_object, dumps, request_path
from .script import FinishReasons, Script

__all__ = ["RENDERER", "AnthropicRenderer"]

# The stop_reason Anthropic sends for each Script finish reason.
_STOP_REASONS: Final = FinishReasons(
    stop="end_turn", length="max_tokens", tool_calls="tool_use", content_filter="refusal"
)

_ERROR_TYPE_BY_STATUS: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# Vertex AI: ".../publishers/anthropic/models/claude-x@2025:streamRawPredict".
_VERTEX_PATH: Final = re.compile(
    r"/publishers/anthropic/models/([^/:]+):(?:streamRawPredict|rawPredict)$"
)

# Any non-empty base64 will do: clients send it back, nobody checks it here.
_SIGNATURE: Final = "c2lnbmF0dXJl"


def _sse(event: str, payload: Mapping[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


def _usage(usage: Usage | None, output: bool) -> dict[str, int]:
    if usage is None:
        return {}
    fields: dict[str, int] = {}
    if usage.input_tokens is not None:
        fields["input_tokens"] = usage.input_tokens
    if usage.cached_tokens is not None:
        fields["cache_read_input_tokens"] = usage.cached_tokens
    if output and usage.output_tokens is not None:
        fields["output_tokens"] = usage.output_tokens
    return fields


def _split_json(arguments: str) -> list[str]:
    """Argument text in pieces, as ``input_json_delta`` fragments arrive."""
    return [arguments[i : i + 12] for i in range(0, len(arguments), 12)]


class _Blocks:
    """Numbers the content blocks of one rendered stream."""

    def __init__(self, out: list[bytes]) -> None:
        self.out = out
        self.index = 0

    def add(self, start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        index, out = self.index, self.out
        head = {"type": "content_block_start", "index": index, "content_block": start}
        out.append(_sse("content_block_start", head))
        for delta in deltas:
            body = {"type": "content_block_delta", "index": index, "delta": delta}
            out.append(_sse("content_block_delta", body))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        self.index += 1


class AnthropicRenderer(Renderer):
    name = "anthropic"
    paths = ("/v1/messages",)

    def matches(self, method: str, target: str) -> bool:
        on_vertex = _VERTEX_PATH.search(request_path(target)) is not None
        return super().matches(method, target) or (method == "POST" and on_vertex)

    def model_of(self, target: str, body: Mapping[str, Any]) -> str | None:
        match = _VERTEX_PATH.search(request_path(target))
        return match.group(1) if match else super().model_of(target, body)

    def render_stream(self, script: Script) -> list[bytes]:
        message: dict[str, Any] = {
            "id": script.response_id,
            "type": "message",
            "role": "assistant",
            "model": script.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(script.usage, output=False),
        }
        out = [
            _sse("message_start", {"type": "message_start", "message": message}),
            _sse("ping", {"type": "ping"}),
        ]
        blocks = _Blocks(out)
        if script.reasoning:
            blocks.add(
                {"type": "thinking", "thinking": "", "signature": ""},
                [{"type": "thinking_delta", "thinking": p} for p in script.reasoning_pieces()]
                + [{"type": "signature_delta", "signature": _SIGNATURE}],
            )
        if script.text or not script.tool_calls:
            blocks.add(
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": p} for p in script.text_pieces()],
            )
        for n, call in enumerate(script.tool_calls):
            start = {
                "type": "tool_use",
                "id": call.id or f"toolu_replay_{n}",
                "name": call.name,
                "input": {},
            }
            fragments = ["", *_split_json(call.arguments)]
            blocks.add(start, [{"type": "input_json_delta", "partial_json": p} for p in fragments])
        delta_usage = {}
        if script.usage is not None and script.usage.output_tokens is not None:
            delta_usage = {"output_tokens": script.usage.output_tokens}
        reason = _STOP_REASONS.of(script)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": delta_usage,
        }
        out.append(_sse("message_delta", delta))
        out.append(_sse("message_stop", {"type": "message_stop"}))
        return out

    def render_body(self, script: Script) -> bytes:
        content: list[dict[str, Any]] = []
        if script.reasoning:
            thinking = {"type": "thinking", "thinking": script.reasoning, "signature": _SIGNATURE}
            content.append(thinking)
        if script.text or not script.tool_calls:
            content.append({"type": "text", "text": script.text})
        for n, call in enumerate(script.tool_calls):
            content.append(
                {
                    "type": "tool_use",
                    "id": call.id or f"toolu_replay_{n}",
                    "name": call.name,
                    "input": arguments_object(call.arguments, call.name),
                }
            )
        return dumps(
            {
                "id": script.response_id,
                "type": "message",
                "role": "assistant",
                "model": script.model,
                "content": content,
                "stop_reason": _STOP_REASONS.of(script),
                "stop_sequence": None,
                "usage": _usage(script.usage, output=True),
            }
        )

    def render_error(self, status: int, message: str) -> bytes:
        error_type = _ERROR_TYPE_BY_STATUS.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        error = {"type": error_type, "message": message}
        return dumps({"type": "error", "error": error, "request_id": "req_replay"})

    def render_stream_error(self, message: str) -> bytes:
        error = {"type": "overloaded_error", "message": message}
        return _sse("error", {"type": "error", "error": error})


RENDERER: Final = AnthropicRenderer()
