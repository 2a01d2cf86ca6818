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
* ``{"error": {...}}`` inside a 200 body is ``Error("overloaded")`` for ``UNAVAILABLE``,
  else ``Error("provider")``, with ``status=200`` and the Google status as
  ``provider_type``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from ..endpoint import Endpoint
from ..events import Error, Event, Usage
from ..exceptions import RemoteProtocolError
from ..jsonload import JSONDecodeError, loads
from ..request import ChatRequest, Message
from ..sse import ServerSentEvent
from .base import (
    Dialect,
    HTTPRequest,
    StreamDecoder,
    compact_json,
    dumps,
    get_int,
    make_usage,
    synthetic_call_id,
)
from .plumbing import (
    MAX_TOOL_CALLS,
    Staged,
    arguments_object,
    auth_headers,
    expect_int,
    expect_list,
    expect_object,
    message_text,
    sampling,
    stream_error,
)

__all__ = ["DIALECT", "GeminiDialect", "GeminiStreamDecoder"]

#: The API version used when the endpoint's base URL has no path.
DEFAULT_PREFIX: Final = "/v1beta"
# candidateCount is capped at 8 by the API; a larger index is garbage.
_MAX_CANDIDATES: Final = 8
# Gemini 3 and later refuse a replayed functionCall part without its thoughtSignature. A
# ToolCall that has none (built by hand, or from another provider) gets the sentinel
# Google documents for history whose signatures were lost (ai.google.dev, thought
# signatures); a real signature is always sent back instead.
SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
_SIGNED_MODELS: Final = re.compile(r"(?:^|/)gemini-(\d+)(?:[.-]|$)")

# Google statuses (or, without one, the HTTP code) -> (kind, retryable).
_ERRORS: Final = {
    "UNAVAILABLE": ("overloaded", True),
    "RESOURCE_EXHAUSTED": ("provider", True),
    "INTERNAL": ("provider", True),
    "DEADLINE_EXCEEDED": ("provider", True),
    "ABORTED": ("provider", True),
    "503": ("overloaded", True),
    "529": ("overloaded", True),
    "429": ("provider", True),
    "500": ("provider", True),
    "502": ("provider", True),
    "504": ("provider", True),
}
_SAMPLING: Final = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "stop": "stopSequences",
}
# Anything else names the one function the model must call.
_TOOL_MODE: Final = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


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
            response_id = body.get("responseId")
            if type(response_id) is str:
                self._response_id = response_id
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

    def end(self, whole: bool = False) -> Event:
        """The terminal event. ``whole=True`` for a complete non-streamed body, which is a
        ``Done`` even without a ``finishReason``."""
        if self._blocked is not None:
            done = self.acc.done(self._blocked, _usage(self._usage))
            return dataclasses.replace(done, finish_reason="content_filter")
        if self._finished or whole:
            return self.acc.done(self._finish, _usage(self._usage))
        return self.acc.error("incomplete", "the Gemini stream ended without a finishReason")


# --- request building -----------------------------------------------------------------------------
def _function_response(content: str) -> Any:
    """``functionResponse.response`` must be an object: a JSON object result is sent as
    is, anything else wrapped as ``{"result": ...}`` (as Google's SDKs do)."""
    try:
        value = loads(content)
    except JSONDecodeError:
        return {"result": content}
    return value if isinstance(value, Mapping) else {"result": value}


def _needs_signature(model: str) -> bool:
    match = _SIGNED_MODELS.search(model)
    return match is not None and int(match.group(1)) >= 3


def _contents(
    messages: tuple[Message, ...], sign: bool = False
) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, ``contents``). Consecutive messages of the same Gemini role share one
    turn: the results of parallel calls must all be in the turn after the model's calls.

    A tool result needs the function's name: ``Message.name``, else the name of the
    assistant tool call with that ``tool_call_id``, else the ``tool_call_id`` itself
    (Gemini sends no call ids, so callers often use the function name as one).
    Each replayed ``functionCall`` part carries its call's ``signature`` as
    ``thoughtSignature``; ``sign`` adds :data:`SKIP_SIGNATURE` to those without one."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        parts: list[dict[str, Any]] = []
        if message.role in ("system", "developer"):
            system.append(_content(message))
            continue
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            name = message.name or names.get(call_id) or call_id
            parts.append(
                {
                    "functionResponse": {
                        "name": name,
                        "response": _function_response(_content(message)),
                    }
                }
            )
            role = "user"
        elif message.role == "assistant":
            role = "model"
            if message.content or not message.tool_calls:
                parts.append({"text": _content(message)})
            for call in message.tool_calls:
                if call.id:
                    names[call.id] = call.name
                part: dict[str, Any] = {
                    "functionCall": {
                        "name": call.name,
                        "args": arguments_object(call.arguments, call.name, "Gemini"),
                    }
                }
                if call.signature:
                    part["thoughtSignature"] = call.signature
                elif sign:
                    part["thoughtSignature"] = SKIP_SIGNATURE
                parts.append(part)
        else:
            role = "user"
            parts.append({"text": _content(message)})
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _content(message: Message) -> str:
    """The one place a message's content is converted: text only, for now."""
    return message_text(message, "Gemini")


def _function_declaration(name: str, description: str, parameters: Mapping[str, Any]) -> Any:
    declaration: dict[str, Any] = {"name": name, "description": description}
    # A function without parameters leaves them unset: Gemini refuses an empty object.
    if parameters.get("properties") or parameters.get("type") not in ("object", None):
        # JSON Schema as given (additionalProperties, $defs... are accepted here, unlike
        # the OpenAPI subset of ``parameters``).
        declaration["parametersJsonSchema"] = dict(parameters)
    return declaration


def _model_path(model: str) -> str:
    # "gemini-2.5-flash" -> models/gemini-2.5-flash; "models/x" and "tunedModels/x" as given.
    path = model if "/" in model else f"models/{model}"
    return quote(path, safe="/")


class GeminiDialect(Dialect):
    """Google Gemini API. ``Endpoint.base_url`` is
    ``https://generativelanguage.googleapis.com/v1beta`` (a bare host gets ``/v1beta``);
    the key goes in ``x-goog-api-key``, never in the URL."""

    name = "gemini"

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
        sign = _needs_signature(request.model)
        system, contents = _contents(tuple(request.messages), sign)
        body: dict[str, Any] = {}
        if system:
            body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
        body["contents"] = contents
        config = sampling(request, _SAMPLING)
        if config:
            body["generationConfig"] = config
        if request.tool_list:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        _function_declaration(t.name, t.description, t.parameters)
                        for t in request.tool_list
                    ]
                }
            ]
        if request.neutral_tool_choice is not None:
            mode = _TOOL_MODE.get(request.neutral_tool_choice)
            calling: dict[str, Any] = {"mode": mode or "ANY"}
            if mode is None:
                calling["allowedFunctionNames"] = [request.neutral_tool_choice]
            body["toolConfig"] = {"functionCallingConfig": calling}
        if request.extra:
            body.update(request.extra)
        prefix = endpoint.path_prefix or DEFAULT_PREFIX
        method = ":streamGenerateContent?alt=sse" if request.stream else ":generateContent"
        # The base URL's query (``?api-version=...``, even ``?key=...``) goes first.
        target = endpoint.with_query(f"{prefix}/{_model_path(request.model)}{method}")
        headers = auth_headers(endpoint, ("x-goog-api-key", endpoint.api_key))
        return HTTPRequest("POST", target, headers, dumps(body))

    def stream_decoder(self, request: ChatRequest) -> StreamDecoder:
        return GeminiStreamDecoder()

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
