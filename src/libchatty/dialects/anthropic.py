"""Anthropic Messages (``POST /v1/messages``), streamed as named server-sent events.

A stream is ``message_start`` (input usage), then content blocks -- each a
``content_block_start`` / ``content_block_delta``... / ``content_block_stop`` -- with
``ping`` events anywhere, then ``message_delta`` (stop reason and the cumulative output
count: the last one wins) and ``message_stop``. Only ``message_stop`` makes a ``Done``;
a body that ends before it is ``Error("incomplete")``. ``event: error`` inside the 200
stream (e.g. ``overloaded_error``) becomes ``Error("overloaded")`` or ``Error("provider")``
with ``status=200``.

What callers may rely on:

* text blocks give ``Delta(kind="text")``, thinking blocks ``Delta(kind="reasoning")``;
  signatures and redacted thinking are opaque and never text. A thinking block's
  ``signature`` (``signature_delta`` fragments, or the block's field in a whole body) is
  ``Done.reasoning_signature``; with several thinking blocks their signatures are joined
  in order, like their text in ``Done.reasoning`` (one signed block -- the usual case --
  round-trips exactly);
* request (built in :mod:`~libchatty.dialects.anthropic_request`, which documents
  content parts, structured output, reasoning and Vertex AI): an assistant
  :class:`~libchatty.request.Message` with ``reasoning_signature`` is sent with a
  ``thinking`` block (its ``reasoning`` and signature) first in its content, as extended
  thinking with tool use requires; without a signature no thinking block is sent (the
  API rejects unsigned thinking);
* JSON mode (``response_format="json"``): the input of the forced ``json_answer`` tool
  is the answer: its fragments are ``Delta(kind="text")``, it is not a tool call, and a
  ``tool_use`` stop reason becomes ``end_turn`` (``Done.finish_reason`` ``"stop"``);
* ``Done.response_id`` and ``Done.model`` are the message's ``id`` and ``model``
  (``message_start.message`` in a stream, the body otherwise); absent, null or empty is
  None, any other non-string a ``RemoteProtocolError``;
* ``tool_use`` blocks give ``Delta(kind="tool_call")`` whose ``index`` counts tool calls
  (0, 1, ...), not content blocks; arguments are the exact concatenation of the
  ``partial_json`` fragments (``"{}"`` when the model sent none). ``server_tool_use``
  blocks (tools Anthropic runs itself, e.g. web search) are not tool calls for the caller;
* usage: ``input_tokens`` as sent (cache reads and writes are not added in),
  ``cached_tokens`` is ``cache_read_input_tokens``; no total is sent, so it is derived;
* unknown event and block types are ignored, as Anthropic asks clients to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..accumulate import Accumulator
from ..events import Error, Event, Usage
from ..exceptions import RemoteProtocolError
from ..sse import ServerSentEvent
from .anthropic_request import DEFAULT_MAX_TOKENS, JSON_TOOL, PROVIDER, build_request
from .base import (
    Dialect,
    compact_json,
    get_int,
    json_object,
    make_usage,
)
from .plumbing import (
    MAX_TOOL_CALLS,
    MessageStreamDecoder,
    event_kind,
    event_payload,
    response_meta,
    stream_error,
    with_meta,
)

__all__ = ["DEFAULT_MAX_TOKENS", "DIALECT", "AnthropicDialect", "AnthropicStreamDecoder"]

# In-stream error types -> (kind, retryable); any other type is a final "provider" error.
_ERRORS: Final = {
    "overloaded_error": ("overloaded", True),
    "api_error": ("provider", True),
    "rate_limit_error": ("provider", True),
    "timeout_error": ("provider", True),
}


# --- decoding helpers -------------------------------------------------------------------
def _string(mapping: Mapping[str, Any], key: str, what: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str):
        raise RemoteProtocolError(f"Anthropic {what} has no string {key!r}")
    return value


def _provider_error(acc: Accumulator, payload: Mapping[str, Any]) -> Error:
    """The ``Error`` for an ``{"type": "error", "error": {...}}`` payload (status 200)."""
    error = payload.get("error")
    if type(error) is not dict:
        error = {}
    default = "Anthropic reported an error in the stream"
    return stream_error(acc, error.get("message"), error.get("type"), _ERRORS, default=default)


class _Usage:
    """Token counts as they arrive: input from ``message_start`` (repeated by newer
    ``message_delta`` events), output cumulative in each ``message_delta``."""

    __slots__ = ("cached", "input", "output")

    def __init__(self) -> None:
        self.input: int | None = None
        self.output: int | None = None
        self.cached: int | None = None

    def update(self, usage: Any) -> None:
        for key, attr in (
            ("input_tokens", "input"),
            ("output_tokens", "output"),
            ("cache_read_input_tokens", "cached"),
        ):
            value = get_int(usage, key)
            if value is not None:
                setattr(self, attr, value)

    def result(self) -> Usage | None:
        return make_usage(self.input, self.output, cached_tokens=self.cached)


class AnthropicStreamDecoder(MessageStreamDecoder):
    """The state of one Messages stream."""

    provider = PROVIDER
    opening = "message_start"
    closing = "message_stop"

    def __init__(self) -> None:
        super().__init__()
        self._usage = _Usage()
        self._stop_reason: str | None = None
        # content block index -> tool-call index, and what each tool call has received
        self._tools: dict[int, int] = {}
        self._tool_input: dict[int, Any] = {}
        self._tool_fragments: set[int] = set()
        # server_tool_use blocks (web search...): Anthropic runs them, the caller must not
        self._server_tools: set[int] = set()
        # JSON mode's json_answer block -> its start input, and whether fragments came
        self._json_blocks: dict[int, Any] = {}
        self._json_fragments = False
        self._metadata: tuple[str | None, str | None] = (None, None)

    def sse_event(self, event: ServerSentEvent) -> list[Event]:
        payload = event_payload(event, PROVIDER)
        # The hot path: nearly every event of a long answer is a text_delta. Read it with
        # exact type checks and no dispatch; anything else takes the general path.
        if payload.get("type") == "content_block_delta":
            delta = payload.get("delta")
            if type(delta) is dict and delta.get("type") == "text_delta":
                text = delta.get("text")
                if type(text) is str:
                    return [self.acc.text(text)]
        kind = event_kind(payload, event)
        handler = _HANDLERS.get(kind)
        if handler is None:
            return []  # ping and event types added after this was written
        return handler(self, payload)

    # --- one method per event type ------------------------------------------------------
    def _message_start(self, payload: Mapping[str, Any]) -> list[Event]:
        message = json_object(payload.get("message"), PROVIDER, "message_start.message")
        self._started = True
        self._metadata = response_meta(message, "Anthropic message")
        self._usage.update(message.get("usage"))
        return []

    def _block_start(self, payload: Mapping[str, Any]) -> list[Event]:
        index = get_int(payload, "index")
        block = json_object(
            payload.get("content_block"), PROVIDER, "content_block_start.content_block"
        )
        block_type = block.get("type")
        if index is None or not isinstance(block_type, str):
            raise RemoteProtocolError("Anthropic content_block_start lacks an index or a type")
        if block_type == "text":
            text = block.get("text")
            return [self.acc.text(text)] if isinstance(text, str) and text else []
        if block_type == "thinking":
            thinking = block.get("thinking")
            signature = block.get("signature")
            if isinstance(signature, str) and signature:  # streams open with "" and send deltas
                self.acc.add_reasoning_signature(signature)
            return [self.acc.reasoning(thinking)] if isinstance(thinking, str) and thinking else []
        if block_type == "server_tool_use":
            self._server_tools.add(index)
            return []
        if block_type == "tool_use" and block.get("name") == JSON_TOOL:
            self._json_blocks[index] = block.get("input")
            return []
        if block_type == "tool_use":
            if len(self._tools) >= MAX_TOOL_CALLS:
                raise RemoteProtocolError(f"more than {MAX_TOOL_CALLS} tool calls")
            tool = self._tools[index] = len(self._tools)
            self._tool_input[tool] = block.get("input", {})
            call_id = block.get("id") if isinstance(block.get("id"), str) else None
            name = _string(block, "name", "tool_use block")
            return [self.acc.tool_call(tool, "", call_id, name)]
        # redacted_thinking is ignored: its encrypted ``data`` has no place in Done or
        # Message, so a turn that had one cannot be replayed whole. Server tool results...:
        # nothing to show.
        return []

    def _block_delta(self, payload: Mapping[str, Any]) -> list[Event]:
        index = get_int(payload, "index")
        delta = json_object(payload.get("delta"), PROVIDER, "content_block_delta.delta")
        delta_type = delta.get("type")
        if delta_type == "text_delta":
            return [self.acc.text(_string(delta, "text", "text_delta"))]
        if delta_type == "thinking_delta":
            return [self.acc.reasoning(_string(delta, "thinking", "thinking_delta"))]
        if delta_type == "signature_delta":
            # Opaque: kept for the replay of this turn, never shown as text.
            self.acc.add_reasoning_signature(_string(delta, "signature", "signature_delta"))
            return []
        if delta_type == "input_json_delta":
            if index in self._json_blocks:  # JSON mode: the tool input is the answer
                fragment = _string(delta, "partial_json", "input_json_delta")
                self._json_fragments = self._json_fragments or bool(fragment)
                return [self.acc.text(fragment)] if fragment else []
            tool = self._tools.get(index) if index is not None else None
            if tool is None:
                if index in self._server_tools:
                    return []
                raise RemoteProtocolError(
                    f"Anthropic input_json_delta for block {index} which is not a tool_use"
                )
            fragment = _string(delta, "partial_json", "input_json_delta")
            if not fragment:
                return []  # the API opens every tool input with an empty fragment
            self._tool_fragments.add(tool)
            return [self.acc.tool_call(tool, fragment)]
        return []  # citations_delta, future types

    def _block_stop(self, payload: Mapping[str, Any]) -> list[Event]:
        index = get_int(payload, "index")
        if index in self._json_blocks and not self._json_fragments:
            # No fragment at all: the start block's input is the whole answer.
            start_input = self._json_blocks[index]
            answer = start_input if start_input is not None else {}
            return [self.acc.text(compact_json(answer, PROVIDER, "JSON answer"))]
        tool = self._tools.get(index) if index is not None else None
        if tool is not None and tool not in self._tool_fragments:
            # No input_json_delta at all: the start block's input is the whole input.
            start_input = self._tool_input.get(tool)
            arguments = compact_json(
                start_input if start_input is not None else {}, PROVIDER, "tool input"
            )
            self.acc.set_tool_arguments(tool, arguments)
        return []

    def _message_delta(self, payload: Mapping[str, Any]) -> list[Event]:
        delta = payload.get("delta")
        if isinstance(delta, Mapping):
            reason = delta.get("stop_reason")
            if isinstance(reason, str):
                self._stop_reason = reason
        self._usage.update(payload.get("usage"))
        return []

    def _message_stop(self, payload: Mapping[str, Any]) -> list[Event]:
        reason = self._stop_reason
        if self._json_blocks and not self._tools and reason == "tool_use":
            reason = "end_turn"  # JSON mode: the forced tool call was the answer
        return [with_meta(self.acc.done(reason, self._usage.result()), self._metadata)]

    def _error(self, payload: Mapping[str, Any]) -> list[Event]:
        return [_provider_error(self.acc, payload)]


_HANDLERS: Final = {
    "message_start": AnthropicStreamDecoder._message_start,
    "content_block_start": AnthropicStreamDecoder._block_start,
    "content_block_delta": AnthropicStreamDecoder._block_delta,
    "content_block_stop": AnthropicStreamDecoder._block_stop,
    "message_delta": AnthropicStreamDecoder._message_delta,
    "message_stop": AnthropicStreamDecoder._message_stop,
    "error": AnthropicStreamDecoder._error,
}


class AnthropicDialect(Dialect):
    """Anthropic Messages. ``Endpoint.base_url`` is ``https://api.anthropic.com`` (a
    trailing ``/v1`` is accepted); the key goes in ``x-api-key``."""

    name = "anthropic"
    decoder = AnthropicStreamDecoder
    build_request = staticmethod(build_request)

    def decode_body(self, body: Any) -> list[Event]:
        decoder = AnthropicStreamDecoder()
        message = json_object(body, PROVIDER, "response body")
        if message.get("type") == "error":
            return [_provider_error(decoder.acc, message)]
        content = message.get("content")
        if not isinstance(content, list):
            raise RemoteProtocolError("Anthropic response body has no content list")
        acc = decoder.acc
        events: list[Event] = []
        tools = 0
        answered = False  # JSON mode's json_answer block was seen
        for block in content:
            block = json_object(block, PROVIDER, "content block")
            block_type = block.get("type")
            if block_type == "text":
                events.append(acc.text(_string(block, "text", "text block")))
            elif block_type == "thinking":
                events.append(acc.reasoning(_string(block, "thinking", "thinking block")))
                signature = block.get("signature")
                if isinstance(signature, str) and signature:
                    acc.add_reasoning_signature(signature)
            elif block_type == "tool_use" and block.get("name") == JSON_TOOL:
                answer = block.get("input", {})
                events.append(acc.text(compact_json(answer, PROVIDER, "JSON answer")))
                answered = True
            elif block_type == "tool_use":
                call_id = block.get("id") if isinstance(block.get("id"), str) else None
                arguments = compact_json(block.get("input", {}), PROVIDER, "tool_use.input")
                name = _string(block, "name", "tool_use block")
                events.append(acc.tool_call(tools, arguments, call_id, name))
                tools += 1
            # redacted_thinking (encrypted, nothing to show or keep) and unknown blocks are
            # skipped, as in a stream.
        usage = _Usage()
        usage.update(message.get("usage"))
        reason = message.get("stop_reason")
        if answered and not tools and reason == "tool_use":
            reason = "end_turn"
        done = acc.done(reason if isinstance(reason, str) else None, usage.result())
        events.append(with_meta(done, response_meta(message, "Anthropic message")))
        return events


DIALECT: Final = AnthropicDialect()
