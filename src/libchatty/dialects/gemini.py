"""Gemini (``models/{model}:streamGenerateContent?alt=sse`` and ``:generateContent``).

Every SSE event is a whole ``GenerateContentResponse``: ``candidates[].content.parts[]``
(text, ``"thought": true`` text, ``functionCall``), a ``finishReason`` on the last one,
and ``usageMetadata`` (cumulative: the last one wins). There is no end marker: the body
simply ends. So ``end()`` gives ``Done`` only if a ``finishReason`` (or a prompt
``blockReason``) was seen, otherwise ``Error("incomplete")`` with the partial text.

What callers may rely on:

* text parts give ``Delta(kind="text", index=<candidate>)``, thought parts
  ``Delta(kind="reasoning")``; ``thoughtSignature`` is opaque and never text;
* each ``functionCall`` part is one complete tool call: ``Delta(kind="tool_call")`` whose
  ``index`` counts calls (0, 1, ...), whose text is the compact JSON of ``args``, and whose
  ``tool_call_id`` is the part's ``id`` when Gemini sends one (newer API versions), else
  a synthetic one (:func:`~libchatty.dialects.base.synthetic_call_id` of the
  ``responseId``, the index, the name and the arguments): stable, and the same in the
  ``Delta`` and in ``Done.tool_calls``;
* a tool result is sent back as a ``functionResponse`` matched by name (from
  ``Message.name`` or the assistant call with that ``tool_call_id``): ids are never sent;
* Gemini says ``STOP`` for tool calls; ``Done.finish_reason`` is then ``tool_calls``;
* a blocked prompt (``promptFeedback.blockReason``) is ``Done(finish_reason=
  "content_filter")`` with the block reason as ``raw_finish_reason``;
* usage: input ``promptTokenCount``; output ``candidatesTokenCount + thoughtsTokenCount``
  (thinking is billed as output, as OpenAI counts reasoning tokens);
  ``reasoning_tokens`` ``thoughtsTokenCount``; ``cached_tokens``
  ``cachedContentTokenCount``; total ``totalTokenCount``;
* a ``functionCall`` part's ``thoughtSignature`` is ``ToolCall.signature`` (a text
  part's signature is dropped: see ``_part``);
* a tool loop replays assistant tool calls as ``functionCall`` parts carrying their
  ``ToolCall.signature`` as ``thoughtSignature``, unchanged. A call without one (made
  by hand, or by another provider) gets Google's ``skip_thought_signature_validator``
  sentinel on Gemini 3 and later, which refuse a functionCall part without a signature;
* ``Done.response_id`` is the first ``responseId`` and ``Done.model`` the first
  ``modelVersion`` the response carried (every chunk repeats them); absent, null or empty
  is None, any other non-string a ``RemoteProtocolError``;
* requests are built in :mod:`~libchatty.dialects.gemini_request`, which documents
  content parts, structured output, reasoning, ``seed``/``n`` and Vertex AI;
* ``{"error": {...}}`` inside a 200 body is ``Error("overloaded")`` for ``UNAVAILABLE``,
  else ``Error("provider")``, with ``status=200`` and the Google status as
  ``provider_type``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from ..events import Done, Error, Event, Usage
from ..exceptions import RemoteProtocolError
from ..jsonload import JSONDecodeError, loads
from ..sse import ServerSentEvent
from .base import (
    Dialect,
    StreamDecoder,
    compact_json,
    get_int,
    make_usage,
    synthetic_call_id,
)
from .gemini_request import DEFAULT_PREFIX, SKIP_SIGNATURE, build_request
from .plumbing import (
    MAX_TOOL_CALLS,
    Staged,
    expect_int,
    expect_list,
    expect_object,
    stream_error,
)

__all__ = [
    "DEFAULT_PREFIX",
    "DIALECT",
    "SKIP_SIGNATURE",
    "GeminiDialect",
    "GeminiStreamDecoder",
]

# candidateCount is capped at 8 by the API; a larger index is garbage.
_MAX_CANDIDATES: Final = 8

# Google statuses (or, without one, the HTTP code) -> (kind, retryable).
_FAULT: Final = ("provider", True)
_ERRORS: Final = {
    **dict.fromkeys(("UNAVAILABLE", "503", "529"), ("overloaded", True)),
    **dict.fromkeys(("RESOURCE_EXHAUSTED", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED"), _FAULT),
    **dict.fromkeys(("429", "500", "502", "504"), _FAULT),
}


# --- decoding ---------------------------------------------------------------------------------
def _usage(metadata: Any) -> Usage | None:
    candidates = get_int(metadata, "candidatesTokenCount")
    thoughts = get_int(metadata, "thoughtsTokenCount")
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    return make_usage(
        get_int(metadata, "promptTokenCount"),
        output,
        get_int(metadata, "totalTokenCount"),
        thoughts,
        get_int(metadata, "cachedContentTokenCount"),
    )


def _provider_error(acc: Any, error: Any) -> Error:
    """The ``Error`` for an ``{"error": {code, message, status}}`` inside a 200 body: the
    Google status names it, else the HTTP code."""
    if type(error) is not dict:
        error = {"message": error}
    status_name = error.get("status")
    code = get_int(error, "code")
    name = status_name if type(status_name) is str and status_name else code
    return stream_error(
        acc, error.get("message"), name, _ERRORS, default="Gemini reported an error in the stream"
    )


def _metadata(body: dict[str, Any], key: str) -> str:
    """``responseId`` or ``modelVersion``: ``""`` when absent or null; a value that is
    not a string is the server's fault."""
    value = body.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise RemoteProtocolError(f"Gemini {key} is not a string")
    return value


class GeminiStreamDecoder(StreamDecoder):
    """The state of one Gemini response, streamed or not: each ``GenerateContentResponse``
    goes through :meth:`response`; :meth:`end` gives the terminal event."""

    def __init__(self) -> None:
        super().__init__()
        self._finish: str | None = None
        self._finished = False
        self._blocked: str | None = None
        self._usage: dict[str, Any] | None = None  # the last usageMetadata; read at the end
        self._tools = 0
        self._response_id = ""  # the first responseId seen: part of synthetic call ids
        self._model = ""  # the first modelVersion seen

    def sse_event(self, event: ServerSentEvent) -> list[Event]:
        try:
            value = loads(event.data)
        except JSONDecodeError:
            raise RemoteProtocolError("Gemini sent an event whose data is not JSON") from None
        return self.response(value)

    def response(self, value: Any) -> list[Event]:
        """The events of one ``GenerateContentResponse`` (an error ends the response)."""
        body = expect_object(value, "a Gemini response")
        if "error" in body:
            return [_provider_error(self.acc, body["error"])]
        if not self._response_id:
            self._response_id = _metadata(body, "responseId")
        if not self._model:
            self._model = _metadata(body, "modelVersion")
        # Every candidate and part is checked before any piece reaches the accumulator.
        staged = Staged()
        for candidate in expect_list(body.get("candidates"), "Gemini candidates"):
            self._candidate(expect_object(candidate, "a Gemini candidate"), staged)
        events = staged.commit(self.acc)
        feedback = body.get("promptFeedback")
        if isinstance(feedback, Mapping) and isinstance(feedback.get("blockReason"), str):
            self._blocked = feedback["blockReason"]
        metadata = body.get("usageMetadata")
        if type(metadata) is dict and metadata:
            self._usage = metadata  # cumulative: the last one wins
        return events

    def _candidate(self, candidate: dict[str, Any], staged: Staged) -> None:
        index = expect_int(candidate.get("index") or 0, "a Gemini candidate index", _MAX_CANDIDATES)
        content = candidate.get("content")
        parts = content.get("parts") if type(content) is dict else None
        for part in expect_list(parts, "Gemini content.parts"):
            self._part(expect_object(part, "a Gemini part"), index, staged)
        reason = candidate.get("finishReason")
        if type(reason) is str:
            self._finished = True
            if index == 0 or self._finish is None:
                self._finish = reason

    def _part(self, part: dict[str, Any], index: int, staged: Staged) -> None:
        text = part.get("text")
        if type(text) is str:
            if text:
                if part.get("thought") is True:
                    staged.reasoning(text, index)
                else:
                    staged.text(text, index)
            return
        call = part.get("functionCall")
        if call is not None:
            call = expect_object(call, "a Gemini functionCall")
            name = call.get("name")
            if not isinstance(name, str) or not name:
                raise RemoteProtocolError("Gemini functionCall has no name")
            if self._tools >= MAX_TOOL_CALLS:
                raise RemoteProtocolError(f"more than {MAX_TOOL_CALLS} tool calls")
            args = call.get("args")
            arguments = compact_json(
                args if args is not None else {}, "Gemini", "functionCall.args"
            )
            call_id = call.get("id")
            if not isinstance(call_id, str) or not call_id:
                call_id = synthetic_call_id(self._response_id, self._tools, name, arguments)
            staged.tool_call(self._tools, arguments, call_id, name)
            signature = part.get("thoughtSignature")
            if isinstance(signature, str) and signature:
                staged.set_tool_signature(self._tools, signature)
            self._tools += 1
        # inlineData, executableCode, codeExecutionResult...: not text, not tool calls.
        # A text part's thoughtSignature is dropped: Google requires signatures back only
        # on functionCall parts, and Message has no place for one per text part.

    def _with_metadata(self, done: Done, **changes: Any) -> Done:
        if self._response_id:
            changes["response_id"] = self._response_id
        if self._model:
            changes["model"] = self._model
        return dataclasses.replace(done, **changes) if changes else done

    def end(self, whole: bool = False) -> Event:
        """The terminal event. ``whole=True`` for a complete non-streamed body, which is a
        ``Done`` even without a ``finishReason``."""
        if self._blocked is not None:
            done = self.acc.done(self._blocked, _usage(self._usage))
            return self._with_metadata(done, finish_reason="content_filter")
        if self._finished or whole:
            return self._with_metadata(self.acc.done(self._finish, _usage(self._usage)))
        return self.acc.error("incomplete", "the Gemini stream ended without a finishReason")


class GeminiDialect(Dialect):
    """Google Gemini API. ``Endpoint.base_url`` is
    ``https://generativelanguage.googleapis.com/v1beta`` (a bare host gets ``/v1beta``);
    the key goes in ``x-goog-api-key``, never in the URL."""

    name = "gemini"
    decoder = GeminiStreamDecoder
    build_request = staticmethod(build_request)

    def decode_body(self, body: Any) -> list[Event]:
        """One ``GenerateContentResponse``, or the JSON array of them that
        ``streamGenerateContent`` sends without ``alt=sse``. A complete body with no
        ``finishReason`` is still a ``Done`` (with ``finish_reason=None``)."""
        decoder = GeminiStreamDecoder()
        events: list[Event] = []
        for response in body if isinstance(body, list) else [body]:
            events.extend(decoder.response(response))
            if events and isinstance(events[-1], Error):
                return events
        events.append(decoder.end(whole=True))
        return events


DIALECT: Final = GeminiDialect()
