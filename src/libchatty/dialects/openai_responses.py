"""OpenAI's Responses API (``"openai-responses"``): ``POST {base}/responses``.

Request: ``{"model", "instructions", "input", "stream", ...}``. The leading system and
developer messages become ``instructions`` (later ones stay in ``input`` with their role);
the other messages become input items: ``{"role", "content"}`` messages, a
``function_call`` item per tool call an assistant made and a ``function_call_output`` item
per tool result, tied by ``call_id``. ``max_tokens`` is sent as ``max_output_tokens``.
The Responses API has no stop sequences, seed or ``n``: a request with one raises
``ValueError`` rather than being silently answered without them. Content parts,
``text.format`` and ``reasoning`` are rendered by :mod:`.openai_request` (see there).
``Done.response_id``/``model`` are the final response's ``id``/``model``.

Stream: SSE events named by ``event:`` and, authoritatively, by the ``type`` in their data.
Answer text is ``response.output_text.delta``, reasoning
``response.reasoning_summary_text.delta`` (and ``response.reasoning_text.delta`` where a
server streams raw reasoning), refusals ``response.refusal.delta``. A function call opens
with ``response.output_item.added`` (its ``call_id`` is the tool call id to send back, not
the ``fc_`` item id), grows by ``response.function_call_arguments.delta`` and is settled
by ``.done``, whose complete arguments replace the fragments. ``response.completed`` ends
the answer (raw finish ``"completed"``) and ``response.incomplete`` too (raw finish
``incomplete_details.reason``, e.g. ``max_output_tokens``); ``response.failed`` and the
``error`` event end it with an ``Error``. There is no ``[DONE]``: a body that ends without
one of those events is ``Error("incomplete")``. Unknown event types (built-in tools,
annotations, new features) are ignored. When nothing was streamed before the final event
(some compatible servers send only ``response.created`` and ``response.completed``), the
final response's ``output`` is reported as deltas instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..accumulate import Accumulator
from ..events import Delta, Done, Error, Event, Usage
from ..exceptions import RemoteProtocolError
from ..jsonload import JSONDecodeError, loads
from ..sse import ServerSentEvent
from .base import Dialect, StreamDecoder, get_int, make_usage
from .openai_request import responses_request
from .plumbing import (
    MAX_TOOL_CALLS,
    Staged,
    event_kind,
    expect_list,
    incomplete,
    openai_error,
    optional_str,
    response_meta,
    stream_error,
    with_meta,
)

__all__ = ["DIALECT", "OpenAIResponses", "OpenAIResponsesDecoder"]

# The error ``code`` of an ``error`` event or a failed response -> (kind, retryable).
# Anything else is a "provider" error, retryable when its code names a server fault.
_ERROR_CODES: Final = {
    "rate_limit_exceeded": ("rate_limit", True),
    "insufficient_quota": ("billing", False),
    **dict.fromkeys(("server_is_overloaded", "overloaded", "slow_down"), ("overloaded", True)),
    "server_error": ("provider", True),
}
_RETRYABLE_WORDS: Final = ("server", "overload", "timeout", "unavailable", "internal")


def _excerpt(text: str, limit: int = 80) -> str:
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


_text = optional_str
_list = expect_list


def _usage_of(raw: Any) -> Usage | None:
    if type(raw) is not dict:
        return None
    return make_usage(
        get_int(raw, "input_tokens"),
        get_int(raw, "output_tokens"),
        get_int(raw, "total_tokens"),
        get_int(raw.get("output_tokens_details"), "reasoning_tokens"),
        get_int(raw.get("input_tokens_details"), "cached_tokens"),
    )


def _error_event(acc: Accumulator, error: Any, default: str) -> Error:
    """An ``Error`` from ``{"code", "message", "type"}`` (an ``error`` event, or the
    ``error`` of a failed response); ``status`` is 200, the stream's."""
    if type(error) is dict and type(error.get("error")) is dict:
        error = error["error"]  # some servers wrap it: {"type": "error", "error": {...}}
    if type(error) is not dict:
        error = {"message": error}
    code, raw_type = error.get("code"), error.get("type")
    # The code names the error; without one, the type (but not the envelope's "error").
    name = code if type(code) in (str, int) and code != "" else raw_type
    if name == "error":
        name = None
    return stream_error(
        acc, error.get("message"), name, _ERROR_CODES, default=default, retry_words=_RETRYABLE_WORDS
    )


def _response_of(value: dict[str, Any]) -> dict[str, Any]:
    response = value.get("response")
    if type(response) is not dict:
        raise RemoteProtocolError(f"a {value.get('type')} event without a 'response' object")
    return response


def _with_meta(done: Done, response: Mapping[str, Any]) -> Done:
    """``done`` with the final response's ``id`` and ``model`` (absent, null or empty:
    None; another type: :class:`RemoteProtocolError`)."""
    return with_meta(done, response_meta(response, "the response's"))


def _incomplete_reason(response: Mapping[str, Any]) -> str:
    details = response.get("incomplete_details")
    reason = details.get("reason") if type(details) is dict else None
    return reason if type(reason) is str and reason else "incomplete"


class OpenAIResponsesDecoder(StreamDecoder):
    """The state of one streamed response.

    Dispatches on the data's ``type`` (the ``event:`` name when the data has none); the
    table :attr:`_HANDLERS` lists every event that matters. Function calls are numbered in
    the order they open (``Delta.index`` 0, 1, ...), whatever their ``output_index``.
    Invalid JSON or a wrong shape raises :class:`RemoteProtocolError`.
    """

    __slots__ = ("_count", "_streamed", "_tools")

    def __init__(self) -> None:
        super().__init__()
        # item id and output index -> tool index (deltas carry both; either may be missing)
        self._tools: dict[str | int, int] = {}
        self._count = 0
        self._streamed = False  # a delta (or tool call) was emitted

    def sse_event(self, event: ServerSentEvent) -> list[Event]:
        data = event.data
        if not data or data == "[DONE]":  # a keep-alive, or a proxy's OpenAI-chat habit
            return []
        try:
            value = loads(data)
        except JSONDecodeError:  # ValueError, or RecursionError for absurd nesting
            if event.event == "error":
                return [_error_event(self.acc, data, "the provider reported an error")]
            raise RemoteProtocolError(f"invalid JSON in a data line: {_excerpt(data)}") from None
        if type(value) is not dict:
            raise RemoteProtocolError(f"a data line is not a JSON object: {_excerpt(data)}")
        handler = _HANDLERS.get(event_kind(value, event))
        if handler is None:
            return []
        events = handler(self, value)
        if events:
            self._streamed = True
        return events

    def end(self) -> Event:
        awaited = "response.completed, response.incomplete or an error"
        return incomplete(self.acc, "the stream", awaited, status=200)

    # --- pieces -------------------------------------------------------------------------
    def _on_text(self, value: dict[str, Any]) -> list[Event]:
        piece = _text(value.get("delta"), "output_text.delta")
        return [self.acc.text(piece)] if piece else []

    def _on_reasoning(self, value: dict[str, Any]) -> list[Event]:
        piece = _text(value.get("delta"), "a reasoning delta")
        return [self.acc.reasoning(piece)] if piece else []

    def _on_refusal(self, value: dict[str, Any]) -> list[Event]:
        piece = _text(value.get("delta"), "refusal.delta")
        return [self.acc.refusal(piece)] if piece else []

    # --- function calls ------------------------------------------------------------------
    def _keys(self, value: Mapping[str, Any], item_id: Any) -> list[str | int]:
        keys: list[str | int] = []
        if type(item_id) is str and item_id:
            keys.append(item_id)
        output_index = value.get("output_index")
        if type(output_index) is int:
            keys.append(output_index)
        return keys

    def _tool_index(self, keys: list[str | int]) -> tuple[int, bool]:
        """The tool index for an item, and whether it is new. An event that names no
        item continues the last call."""
        if not keys:
            return (self._count - 1, False) if self._count else self._new_tool(keys)
        for key in keys:
            index = self._tools.get(key)
            if index is not None:
                for other in keys:
                    self._tools.setdefault(other, index)
                return index, False
        return self._new_tool(keys)

    def _new_tool(self, keys: list[str | int]) -> tuple[int, bool]:
        index = self._count
        if index >= MAX_TOOL_CALLS:
            raise RemoteProtocolError(f"more than {MAX_TOOL_CALLS} function calls")
        self._count += 1
        for key in keys:
            self._tools[key] = index
        return index, True

    def _on_item_added(self, value: dict[str, Any]) -> list[Event]:
        item = value.get("item")
        if type(item) is not dict or item.get("type") != "function_call":
            return []
        index, _ = self._tool_index(self._keys(value, item.get("id")))
        return [self._call_head(index, item)]

    def _call_head(self, index: int, item: dict[str, Any]) -> Delta:
        call_id = item.get("call_id")
        name = item.get("name")
        return self.acc.tool_call(
            index,
            _text(item.get("arguments"), "function_call.arguments"),
            id=call_id if type(call_id) is str and call_id else None,
            name=name if type(name) is str and name else None,
        )

    def _on_arguments_delta(self, value: dict[str, Any]) -> list[Event]:
        index, _ = self._tool_index(self._keys(value, value.get("item_id")))
        piece = _text(value.get("delta"), "function_call_arguments.delta")
        return [self.acc.tool_call(index, piece)] if piece else []

    def _on_arguments_done(self, value: dict[str, Any]) -> list[Event]:
        arguments = value.get("arguments")
        if type(arguments) is str:
            index, _ = self._tool_index(self._keys(value, value.get("item_id")))
            self.acc.set_tool_arguments(index, arguments)
        return []

    def _on_item_done(self, value: dict[str, Any]) -> list[Event]:
        item = value.get("item")
        if type(item) is not dict or item.get("type") != "function_call":
            return []
        index, new = self._tool_index(self._keys(value, item.get("id")))
        if new:  # the call was never announced: report it whole now
            return [self._call_head(index, item)]
        arguments = item.get("arguments")
        if type(arguments) is str:
            self.acc.set_tool_arguments(index, arguments)
        return []

    # --- endings ------------------------------------------------------------------------
    def _on_completed(self, value: dict[str, Any]) -> list[Event]:
        response = _response_of(value)
        status = response.get("status")
        raw = status if type(status) is str and status else "completed"
        out = self._unstreamed_output(response)
        out.append(_with_meta(self.acc.done(raw, _usage_of(response.get("usage"))), response))
        return out

    def _on_incomplete(self, value: dict[str, Any]) -> list[Event]:
        response = _response_of(value)
        out = self._unstreamed_output(response)
        done = self.acc.done(_incomplete_reason(response), _usage_of(response.get("usage")))
        out.append(_with_meta(done, response))
        return out

    def _unstreamed_output(self, response: Mapping[str, Any]) -> list[Event]:
        """The final response's output as deltas, when nothing was streamed before it:
        some compatible servers send only ``response.created`` and ``response.completed``.
        After streamed deltas the final output only repeats them, and is not read."""
        if self._streamed:
            return []
        # Every item is checked before any reaches the accumulator.
        staged = Staged()
        tools = 0
        for item in _list(response.get("output"), "response.output"):
            tools = _decode_item(staged, item, tools)
        return staged.commit(self.acc)

    def _on_failed(self, value: dict[str, Any]) -> list[Event]:
        response = _response_of(value)
        return [_error_event(self.acc, response.get("error"), "the response failed")]

    def _on_error(self, value: dict[str, Any]) -> list[Event]:
        return [_error_event(self.acc, value, "the provider reported an error")]


_HANDLERS: Final = {
    "response.output_text.delta": OpenAIResponsesDecoder._on_text,
    "response.reasoning_summary_text.delta": OpenAIResponsesDecoder._on_reasoning,
    "response.reasoning_text.delta": OpenAIResponsesDecoder._on_reasoning,
    "response.refusal.delta": OpenAIResponsesDecoder._on_refusal,
    "response.output_item.added": OpenAIResponsesDecoder._on_item_added,
    "response.function_call_arguments.delta": OpenAIResponsesDecoder._on_arguments_delta,
    "response.function_call_arguments.done": OpenAIResponsesDecoder._on_arguments_done,
    "response.output_item.done": OpenAIResponsesDecoder._on_item_done,
    "response.completed": OpenAIResponsesDecoder._on_completed,
    "response.incomplete": OpenAIResponsesDecoder._on_incomplete,
    "response.failed": OpenAIResponsesDecoder._on_failed,
    "error": OpenAIResponsesDecoder._on_error,
}


# ------------------------------------------------------------------------------------------
# Whole (non-streamed) responses
# ------------------------------------------------------------------------------------------
def _decode_item(acc: Staged, item: Any, tools: int) -> int:
    """The events of one output item; returns the number of function calls so far."""
    if type(item) is not dict:
        raise RemoteProtocolError("an output item is not a JSON object")
    kind = item.get("type")
    if kind == "message":
        for part in _list(item.get("content"), "message.content"):
            if type(part) is not dict:
                raise RemoteProtocolError("a content part is not a JSON object")
            if part.get("type") == "output_text":
                piece = _text(part.get("text"), "output_text.text")
                if piece:
                    acc.text(piece)
            elif part.get("type") == "refusal":
                piece = _text(part.get("refusal"), "refusal.refusal")
                if piece:
                    acc.refusal(piece)
    elif kind == "reasoning":
        summary = _list(item.get("summary"), "reasoning.summary")
        for part in (*summary, *_list(item.get("content"), "reasoning.content")):
            if type(part) is dict and part.get("type") in ("summary_text", "reasoning_text"):
                piece = _text(part.get("text"), "reasoning text")
                if piece:
                    acc.reasoning(piece)
    elif kind == "function_call":
        if tools >= MAX_TOOL_CALLS:
            raise RemoteProtocolError(f"more than {MAX_TOOL_CALLS} function calls")
        call_id = item.get("call_id")
        name = item.get("name")
        acc.tool_call(
            tools,
            _text(item.get("arguments"), "function_call.arguments"),
            id=call_id if type(call_id) is str and call_id else None,
            name=name if type(name) is str and name else None,
        )
        tools += 1
    return tools


# ------------------------------------------------------------------------------------------
# The dialect
# ------------------------------------------------------------------------------------------
class OpenAIResponses(Dialect):
    """OpenAI's Responses API."""

    name = "openai-responses"
    decoder = OpenAIResponsesDecoder
    build_request = staticmethod(responses_request)
    decode_error = staticmethod(openai_error)

    def decode_body(self, body: Any) -> list[Event]:
        """A ``response`` object: a ``Delta`` per reasoning summary, text, refusal and
        function call in output order, then ``Done`` (``completed``, or the
        ``incomplete_details.reason``) or ``Error`` (``failed``, an ``error`` envelope,
        or a response still in progress)."""
        if type(body) is not dict:
            raise RemoteProtocolError("the response body is not a JSON object")
        acc = Accumulator()
        status = body.get("status")
        if body.get("error") is not None and ("output" not in body or status == "failed"):
            return [_error_event(acc, body["error"], "the response failed")]
        output = body.get("output")
        if type(output) is not list:
            raise RemoteProtocolError("the response body has no 'output' list")
        staged = Staged()
        tools = 0
        for item in output:
            tools = _decode_item(staged, item, tools)
        out = staged.commit(acc)
        usage = _usage_of(body.get("usage"))
        if status in ("completed", None):
            out.append(_with_meta(acc.done("completed", usage), body))
        elif status == "incomplete":
            out.append(_with_meta(acc.done(_incomplete_reason(body), usage), body))
        else:  # queued / in_progress (background mode), cancelled, failed without an error
            out.append(acc.error("provider", f"the response is {status!r}", status=200))
        return out


DIALECT: Final = OpenAIResponses()
