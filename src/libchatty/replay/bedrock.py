"""A scripted answer rendered the way Bedrock Converse sends it (the replay server's side).

:data:`RENDERER` is the :class:`~libchatty.replay.base.Renderer` for dialect ``bedrock``
(``POST /model/{modelId}/converse-stream`` and ``/converse``). Its stream items are
whole event stream messages (:func:`~libchatty.eventstream.encode_message`), served as
``application/vnd.amazon.eventstream``, in the order Bedrock sends them:
``messageStart``; a reasoning block (text deltas, then its signature); a text block
(Bedrock opens text and reasoning blocks with their first delta, no
``contentBlockStart``); one block per tool call (``contentBlockStart`` with id and name,
then ``input`` fragments); ``messageStop``; ``metadata`` (usage and latency).

HTTP errors are ``{"message": ...}``; Bedrock names the error in the
``x-amzn-ErrorType`` header, which :data:`ERROR_TYPES` gives by status for the server
to send. An error inside a 200 stream is a ``modelStreamErrorException`` message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import unquote

from ..events import Usage
from ..eventstream import encode_message
from .base import Renderer, arguments_object, dumps, request_path
from .script import FinishReasons, Script

__all__ = ["ERROR_TYPES", "RENDERER", "BedrockRenderer", "event", "exception"]

# Bedrock's stopReason for each Script finish reason.
_STOP_REASONS: Final = FinishReasons(
    stop="end_turn", length="max_tokens", tool_calls="tool_use", content_filter="content_filtered"
)
#: HTTP status -> the error type Bedrock names in ``x-amzn-ErrorType``.
ERROR_TYPES: Final[Mapping[int, str]] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
# Any non-empty base64 will do: clients send it back, nobody checks it here.
_SIGNATURE: Final = "c2lnbmF0dXJl"
# Arguments are streamed in pieces of this many characters.
_ARGUMENT_PIECE: Final = 12
_LATENCY_MS: Final = 321


def event(name: str, payload: Mapping[str, Any]) -> bytes:
    """One Converse event message, with the three headers Bedrock sends."""
    headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, dumps(payload))


def exception(name: str, message: str) -> bytes:
    """One exception message (``:message-type: exception``) of type ``name``."""
    headers = {
        ":exception-type": name,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, dumps({"message": message}))


def _usage(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
    inputs, outputs = usage.input_tokens or 0, usage.output_tokens or 0
    total = usage.total_tokens if usage.total_tokens is not None else inputs + outputs
    out = {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": total}
    if usage.cached_tokens is not None:
        out["cacheReadInputTokens"] = usage.cached_tokens
    return out


def _call_id(script: Script, n: int) -> str:
    return script.tool_calls[n].id or f"tooluse_replay{n}"


def render_stream(script: Script) -> list[bytes]:
    """The answer as ConverseStream sends it: one encoded message per item."""
    out = [event("messageStart", {"role": "assistant"})]
    index = 0
    if script.reasoning:
        for piece in script.reasoning_pieces():
            delta = {"reasoningContent": {"text": piece}}
            out.append(event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        signed = {"reasoningContent": {"signature": _SIGNATURE}}
        out.append(event("contentBlockDelta", {"contentBlockIndex": index, "delta": signed}))
        out.append(event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    if script.text or not script.tool_calls:
        for piece in script.text_pieces():
            text = {"contentBlockIndex": index, "delta": {"text": piece}}
            out.append(event("contentBlockDelta", text))
        out.append(event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    for n, call in enumerate(script.tool_calls):
        start = {"toolUse": {"toolUseId": _call_id(script, n), "name": call.name}}
        out.append(event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        args = call.arguments
        for at in range(0, len(args), _ARGUMENT_PIECE):
            delta = {"toolUse": {"input": args[at : at + _ARGUMENT_PIECE]}}
            out.append(event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        out.append(event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    reason = _STOP_REASONS.of(script)
    out.append(event("messageStop", {"stopReason": reason}))
    metadata = {"usage": _usage(script.usage), "metrics": {"latencyMs": _LATENCY_MS}}
    out.append(event("metadata", metadata))
    return out


def render_body(script: Script) -> bytes:
    """The answer as one ``/converse`` response."""
    content: list[dict[str, Any]] = []
    if script.reasoning:
        text = {"text": script.reasoning, "signature": _SIGNATURE}
        content.append({"reasoningContent": {"reasoningText": text}})
    if script.text or not script.tool_calls:
        content.append({"text": script.text})
    for n, call in enumerate(script.tool_calls):
        tool_use = {"toolUseId": _call_id(script, n), "name": call.name}
        content.append(
            {"toolUse": {**tool_use, "input": arguments_object(call.arguments, call.name)}}
        )
    return dumps(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": _STOP_REASONS.of(script),
            "usage": _usage(script.usage),
            "metrics": {"latencyMs": _LATENCY_MS},
        }
    )


def render_error(status: int, message: str) -> bytes:
    """Bedrock's error body for any status (the type goes in ``x-amzn-ErrorType``)."""
    return dumps({"message": message})


def render_stream_error(message: str) -> bytes:
    """A failure after the stream began: a ``modelStreamErrorException`` message."""
    return exception("modelStreamErrorException", message)


def _action(target: str) -> tuple[str, str] | None:
    """(model id, ``converse``/``converse-stream``) of a Converse request target."""
    parts = request_path(target).split("/")
    if len(parts) >= 4 and parts[-3] == "model" and parts[-1] in ("converse", "converse-stream"):
        return unquote(parts[-2]), parts[-1]
    return None


class BedrockRenderer(Renderer):
    """Bedrock Converse, as bedrock-runtime answers it."""

    name = "bedrock"
    framing = "eventstream"

    def matches(self, method: str, target: str) -> bool:
        return method == "POST" and _action(target) is not None

    def is_stream_request(self, target: str, body: Mapping[str, Any]) -> bool:
        action = _action(target)
        return action is not None and action[1] == "converse-stream"

    def model_of(self, target: str, body: Mapping[str, Any]) -> str | None:
        action = _action(target)
        return action[0] if action is not None and action[0] else None

    def render_stream(self, script: Script) -> list[bytes]:
        return render_stream(script)

    def render_body(self, script: Script) -> bytes:
        return render_body(script)

    def render_error(self, status: int, message: str) -> bytes:
        return render_error(status, message)

    def render_stream_error(self, message: str) -> bytes:
        return render_stream_error(message)

    def error_headers(self, status: int) -> list[tuple[bytes, bytes]]:
        """Bedrock names the error in ``x-amzn-ErrorType`` (the client reads it first)."""
        name = ERROR_TYPES.get(
            status, "InternalServerException" if status >= 500 else "ValidationException"
        )
        return [
            (
                b"x-amzn-ErrorType",
                name.encode() + b":http://internal.amazon.com/coral/com.amazon.bedrock/",
            )
        ]


RENDERER: Final = BedrockRenderer()
