"""Cohere v2 chat (``POST /v2/chat``), streamed as named server-sent events.

A stream is ``message-start``; content blocks (``content-start``/``-delta``/``-end``), a
tool plan (``tool-plan-delta``), tool calls (``tool-call-start``/``-delta``/``-end``) and
citations (``citation-start``/``-end``); then ``message-end`` and ``data: [DONE]``. Only
``message-end`` makes a ``Done``; a body that ends before it is ``Error("incomplete")``.

What callers may rely on:

* text is ``Delta(kind="text")``; the tool plan and thinking content are
  ``Delta(kind="reasoning")``; tool-call ``index`` counts calls in the order they started
  and the arguments are the exact concatenation of the fragments;
* citations are :class:`~libchatty.events.Citation` values, in arrival order, on
  ``Done.citations`` (and :attr:`CohereStreamDecoder.citations` so far); more than
  ``max_citations`` or ``max_citation_bytes`` of their JSON is ``Error("limit")``;
* ``Done.response_id`` is the response's ``id`` (``message-start``'s, or the body's);
  Cohere reports no model, so ``Done.model`` is None. A non-string id is a
  RemoteProtocolError;
* ``COMPLETE``/``STOP_SEQUENCE`` -> ``stop``, ``MAX_TOKENS`` -> ``length``, ``TOOL_CALL``
  -> ``tool_calls``; ``ERROR``/``TIMEOUT`` (or an ``error`` text) are
  ``Error("provider", status=200, retryable=True, provider_type=<reason>)``;
* usage is ``usage.tokens``, never ``billed_units`` (what is charged): no tokens, no usage;
* unknown event types (``debug``...) are ignored; a known event of the wrong shape is a
  :class:`~libchatty.exceptions.RemoteProtocolError` saying what was expected.

Requests are built by :mod:`libchatty.dialects.cohere_request` (content parts,
structured output, reasoning, seed; see there); ``ChatRequest.headers`` follow the
endpoint's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from ..accumulate import Accumulator, normalize_finish_reason
from ..endpoint import Endpoint
from ..events import Citation, Event, Usage
from ..exceptions import LimitExceeded, RemoteProtocolError
from ..request import ChatRequest
from ..sse import ServerSentEvent
from .base import Dialect, HTTPRequest, compact_json, dumps, get_int, json_object
from .cohere_request import PROVIDER, request_body
from .plumbing import (
    MAX_MESSAGE,
    MAX_TOOL_CALLS,
    MessageStreamDecoder,
    bearer_headers,
    event_kind,
    event_payload,
    expect_list,
    maybe_str,
)

__all__ = ["DIALECT", "CohereDialect", "CohereStreamDecoder"]

#: Citations per response. Each repeats its sources (whole documents), so their JSON is
#: bounded too: a grounded answer over large documents stays far below both.
MAX_CITATIONS: Final = 4096
MAX_CITATION_BYTES: Final = 16 * 1024 * 1024

# Wire finish reasons the shared table does not know (v1's ERROR_* kept for proxies).
_FINISH: Final = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter",
    "ERROR_LIMIT": "length",
}
# Finish reasons that say the generation failed: an Error, never a Done.
_FAILED: Final = frozenset({"ERROR", "TIMEOUT"})


# --- decoding helpers ---------------------------------------------------------------------
def _message(payload: Mapping[str, Any], what: str) -> dict[str, Any] | None:
    """``payload.delta.message``; None when the event carries no delta at all."""
    delta = payload.get("delta")
    if delta is None:
        return None
    message = json_object(delta, PROVIDER, f"{what}.delta").get("message")
    return None if message is None else json_object(message, PROVIDER, f"{what}.delta.message")


def _index(payload: Mapping[str, Any], what: str) -> int:
    index = get_int(payload, "index")
    if index is None:
        raise RemoteProtocolError(f"Cohere {what} has no integer index")
    return index


def _single(value: Any, what: str) -> dict[str, Any]:
    # The reference sends one object; some servers wrap it in a one-element list.
    if type(value) is list and len(value) == 1:
        value = value[0]
    return json_object(value, PROVIDER, what)


def _call(call: Any, what: str) -> tuple[str | None, str, Any]:
    """(id, name, arguments as sent) of a tool call object."""
    call = _single(call, what)
    function = json_object(call.get("function"), PROVIDER, f"{what}.function")
    name = function.get("name")
    if type(name) is not str or not name:
        raise RemoteProtocolError(f"Cohere {what} has no function name")
    return maybe_str(call, "id", f"Cohere {what}"), name, function.get("arguments")


def _citation(item: dict[str, Any]) -> Citation:
    start, end, sources = item.get("start"), item.get("end"), item.get("sources", [])
    if (start is not None and get_int(item, "start") is None) or (
        end is not None and get_int(item, "end") is None
    ):
        raise RemoteProtocolError("Cohere citation start/end is not an integer")
    if sources is not None and type(sources) is not list:
        raise RemoteProtocolError("Cohere citation.sources is not a list")
    sources = tuple(json_object(s, PROVIDER, "citation source") for s in sources or ())
    text = maybe_str(item, "text", "Cohere citation") or ""
    return Citation(start, end, text, sources, maybe_str(item, "type", "Cohere citation"))


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    tokens = json_object(usage, PROVIDER, "usage").get("tokens")
    if not isinstance(tokens, Mapping):
        return None  # billed_units alone is not what the model processed
    inp, out = get_int(tokens, "input_tokens"), get_int(tokens, "output_tokens")
    cached = get_int(usage, "cached_tokens")
    if inp is None and out is None:
        return None
    total = inp + out if inp is not None and out is not None else None
    return Usage(inp, out, total, None, cached)


def _terminal(
    acc: Accumulator,
    raw: Any,
    usage: Any,
    error: Any,
    citations: tuple[Citation, ...],
    response_id: str | None,
) -> Event:
    """The ``Done`` or ``Error`` for a finish reason (``message-end`` or a whole body)."""
    if raw is not None and not isinstance(raw, str):
        raise RemoteProtocolError("Cohere finish_reason is not a string")
    if raw in _FAILED or (isinstance(error, str) and error):
        text = error if isinstance(error, str) and error else None
        return acc.error(
            "provider",
            (text or f"Cohere ended the response with finish_reason {raw}")[:MAX_MESSAGE],
            status=200,
            retryable=True,
            provider_type=raw,
        )
    done = acc.done(raw, _usage(usage))
    normal = _FINISH.get(raw) if raw is not None else None
    finish = (
        done.finish_reason
        if normal is None
        else normalize_finish_reason(normal, acc.has_tool_calls)
    )
    return replace(done, finish_reason=finish, citations=citations, response_id=response_id)


class CohereStreamDecoder(MessageStreamDecoder):
    """The state of one v2 chat stream. ``citations`` holds the citations so far."""

    provider = PROVIDER
    opening = "message-start"
    closing = "message-end"

    def __init__(
        self,
        *,
        max_tool_calls: int = MAX_TOOL_CALLS,
        max_citations: int = MAX_CITATIONS,
        max_citation_bytes: int = MAX_CITATION_BYTES,
    ) -> None:
        super().__init__()
        self._response_id: str | None = None
        self._tools: dict[int, int] = {}  # Cohere's index -> tool-call index
        self._citations: list[Citation] = []
        self._citation_bytes = 0
        self._max_tool_calls = max_tool_calls
        self._max_citations = max_citations
        self._max_citation_bytes = max_citation_bytes

    @property
    def citations(self) -> tuple[Citation, ...]:
        return tuple(self._citations)

    def sse_event(self, event: ServerSentEvent) -> list[Event]:
        if event.data == "[DONE]":
            return []  # after message-end nothing is fed; before it, end() says incomplete
        payload = event_payload(event, PROVIDER)
        # The hot path: nearly every event of a long answer is a text content-delta.
        if payload.get("type") == "content-delta":
            delta = payload.get("delta")
            if type(delta) is dict:
                message = delta.get("message")
                if type(message) is dict:
                    content = message.get("content")
                    if type(content) is dict:
                        text = content.get("text")
                        # An empty text goes the slow way: it may come with thinking.
                        if type(text) is str and text:
                            return [self.acc.text(text)]
        kind = event_kind(payload, event)
        handler = _HANDLERS.get(kind)
        if handler is None:
            return []  # debug events and types added after this was written
        if kind == "citation-start":
            self._citation_bytes += len(event.data)
            if self._citation_bytes > self._max_citation_bytes:
                raise LimitExceeded(f"Cohere citations exceed {self._max_citation_bytes} bytes")
        return handler(self, payload)

    # --- one method per event type ------------------------------------------------------
    def _message_start(self, payload: Mapping[str, Any]) -> list[Event]:
        self._started = True
        self._response_id = maybe_str(payload, "id", "Cohere message-start") or None
        return []

    def _content(self, payload: Mapping[str, Any]) -> list[Event]:
        # content-start (may be bare, or open with "") and content-delta (whose text
        # comes here only when its data has no "type": the hot path missed it).
        what = "content-delta" if payload.get("type") == "content-delta" else "content-start"
        content = (_message(payload, what) or {}).get("content")
        if content is None and what == "content-start":
            return []
        content = json_object(content, PROVIDER, f"{what}.delta.message.content")
        text = maybe_str(content, "text", f"Cohere {what} content")
        thinking = maybe_str(content, "thinking", f"Cohere {what} content")
        if text is None and thinking is None and what == "content-delta":
            raise RemoteProtocolError("Cohere content-delta has neither text nor thinking")
        if text:
            return [self.acc.text(text)]
        return [self.acc.reasoning(thinking)] if thinking else []

    def _tool_plan_delta(self, payload: Mapping[str, Any]) -> list[Event]:
        message = _message(payload, "tool-plan-delta") or {}
        plan = message.get("tool_plan")
        if type(plan) is not str:
            raise RemoteProtocolError("Cohere tool-plan-delta has no string tool_plan")
        return [self.acc.reasoning(plan)] if plan else []

    def _tool_call_start(self, payload: Mapping[str, Any]) -> list[Event]:
        index = _index(payload, "tool-call-start")
        message = _message(payload, "tool-call-start") or {}
        call_id, name, arguments = _call(message.get("tool_calls"), "tool-call-start call")
        if arguments is not None and type(arguments) is not str:
            raise RemoteProtocolError("Cohere tool-call-start arguments are not a string")
        if index in self._tools:
            raise RemoteProtocolError(f"Cohere started tool call {index} twice")
        if len(self._tools) >= self._max_tool_calls:
            raise LimitExceeded(f"more than {self._max_tool_calls} tool calls")
        tool = self._tools[index] = len(self._tools)
        return [self.acc.tool_call(tool, arguments or "", call_id, name)]

    def _tool_call_delta(self, payload: Mapping[str, Any]) -> list[Event]:
        index = _index(payload, "tool-call-delta")
        tool = self._tools.get(index)
        if tool is None:
            raise RemoteProtocolError(f"Cohere tool-call-delta for tool call {index} never started")
        message = _message(payload, "tool-call-delta") or {}
        call = _single(message.get("tool_calls"), "tool-call-delta call")
        fragment = json_object(call.get("function"), PROVIDER, "tool call").get("arguments")
        if type(fragment) is not str:
            raise RemoteProtocolError("Cohere tool-call-delta has no string arguments")
        return [self.acc.tool_call(tool, fragment)] if fragment else []

    def _citation_start(self, payload: Mapping[str, Any]) -> list[Event]:
        message = _message(payload, "citation-start") or {}
        if len(self._citations) >= self._max_citations:
            raise LimitExceeded(f"more than {self._max_citations} citations")
        self._citations.append(_citation(_single(message.get("citations"), "citation")))
        return []

    def _nothing(self, payload: Mapping[str, Any]) -> list[Event]:
        return []  # content-end, tool-call-end, citation-end: the start said it all

    def _message_end(self, payload: Mapping[str, Any]) -> list[Event]:
        delta = json_object(payload.get("delta", {}), PROVIDER, "message-end.delta")
        end = delta.get("finish_reason"), delta.get("usage"), delta.get("error")
        return [_terminal(self.acc, *end, self.citations, self._response_id)]

    def _error(self, payload: Mapping[str, Any]) -> list[Event]:
        # Not in the v2 reference; proxies and gateways send one. Never a Done.
        message = payload.get("message")
        if not isinstance(message, str) or not message:
            message = "Cohere reported an error in the stream"
        return [self.acc.error("provider", message[:MAX_MESSAGE], status=200)]


_HANDLERS: Final = {
    "message-start": CohereStreamDecoder._message_start,
    "content-start": CohereStreamDecoder._content,
    "content-delta": CohereStreamDecoder._content,
    "content-end": CohereStreamDecoder._nothing,
    "tool-plan-delta": CohereStreamDecoder._tool_plan_delta,
    "tool-call-start": CohereStreamDecoder._tool_call_start,
    "tool-call-delta": CohereStreamDecoder._tool_call_delta,
    "tool-call-end": CohereStreamDecoder._nothing,
    "citation-start": CohereStreamDecoder._citation_start,
    "citation-end": CohereStreamDecoder._nothing,
    "message-end": CohereStreamDecoder._message_end,
    "error": CohereStreamDecoder._error,
}


def _body_list(mapping: Mapping[str, Any], key: str) -> list[Any]:
    return expect_list(mapping.get(key), f"Cohere response message.{key}")


def decode_body(body: Any, max_citations: int = MAX_CITATIONS) -> list[Event]:
    """A whole ``/v2/chat`` response: reasoning (tool plan, thinking), text, one delta
    per tool call, then the terminal event. A 200 body ``{"id", "message": "text"}`` is
    Cohere's error envelope: ``Error("provider")``."""
    acc = Accumulator()
    response = json_object(body, PROVIDER, "response body")
    message = response.get("message")
    if isinstance(message, str):
        return [acc.error("provider", message[:MAX_MESSAGE] or "Cohere error", status=200)]
    message = json_object(message, PROVIDER, "response body's message")
    events: list[Event] = []
    plan = maybe_str(message, "tool_plan", "Cohere response message")
    if plan:
        events.append(acc.reasoning(plan))
    texts: list[str] = []
    for item in _body_list(message, "content"):
        part = json_object(item, PROVIDER, "content item")
        if part.get("type") == "thinking":
            thinking = maybe_str(part, "thinking", "Cohere thinking content")
            if thinking:
                events.append(acc.reasoning(thinking))
        elif part.get("type") == "text":
            texts.append(maybe_str(part, "text", "Cohere text content") or "")
    events.extend(acc.text(text) for text in texts if text)
    for tool, item in enumerate(_body_list(message, "tool_calls")):
        call_id, name, arguments = _call(json_object(item, PROVIDER, "tool call"), "tool call")
        if not isinstance(arguments, str):  # an object from a proxy: its JSON text
            arguments = compact_json({} if arguments is None else arguments, PROVIDER, "arguments")
        events.append(acc.tool_call(tool, arguments, call_id, name))
    raw_citations = _body_list(message, "citations")
    if len(raw_citations) > max_citations:
        raise LimitExceeded(f"more than {max_citations} citations")
    citations = tuple(_citation(json_object(c, PROVIDER, "citation")) for c in raw_citations)
    end = response.get("finish_reason"), response.get("usage"), response.get("error")
    response_id = maybe_str(response, "id", "Cohere response") or None
    events.append(_terminal(acc, *end, citations, response_id))
    return events


class CohereDialect(Dialect):
    """Cohere v2 chat. ``Endpoint.base_url`` is ``https://api.cohere.com`` (a trailing
    ``/v2`` is accepted); the key goes in ``Authorization: Bearer``."""

    name = "cohere"
    decoder = CohereStreamDecoder

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
        body = request_body(request)
        path = "/chat" if endpoint.path_prefix.endswith("/v2") else "/v2/chat"
        headers = bearer_headers(endpoint, request)
        return HTTPRequest("POST", endpoint.url(path), headers, dumps(body))

    def decode_body(self, body: Any) -> list[Event]:
        return decode_body(body)


DIALECT: Final = CohereDialect()
