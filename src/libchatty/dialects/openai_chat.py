"""OpenAI chat completions (``POST {base}/chat/completions``) and every server that copies it.

One dialect serves OpenAI, Groq, Fireworks, Mistral, DeepSeek, OpenRouter, Together, vLLM,
llama.cpp, Ollama's ``/v1`` and the rest: their streams differ only in quirks, all handled
here without knowing which server is talking:

* usage arrives in a trailing chunk with ``choices: []`` (OpenAI with ``stream_options``),
  on the finish chunk (DeepSeek, Mistral), in ``x_groq.usage`` (Groq), inside the finish
  choice (Moonshot) or in a chunk whose choice has an empty delta (OpenRouter); the last one
  seen wins;
* reasoning text is ``delta.reasoning_content`` (DeepSeek) or ``delta.reasoning``
  (OpenRouter, vLLM);
* an error inside a 200 stream is a data line whose JSON has an ``error`` key (OpenAI, vLLM,
  OpenRouter with ``finish_reason: "error"``); it ends the response at once, so a ``[DONE]``
  that follows it (vLLM) is never read as success. llama.cpp writes a non-standard
  ``error:`` SSE field instead, reported at the end of the stream;
* only ``data: [DONE]`` means success: a body that ends without it is an
  ``Error("incomplete")`` carrying the partial text.

Decoding is the hot path of the library, so :meth:`OpenAIChatDecoder.sse_event` parses each
event once and reads the common shape (one choice, a delta with only ``content``) with a few
dict lookups before falling back to the general path.
"""

from __future__ import annotations

from typing import Any, Final

from ..accumulate import Accumulator, normalize_finish_reason
from ..endpoint import Endpoint
from ..events import RETRYABLE_STATUSES, Delta, Done, Error, Event, Usage
from ..exceptions import RemoteProtocolError
from ..jsonload import JSONDecodeError, loads
from ..request import ChatRequest, Message
from ..sse import ServerSentEvent
from .base import Dialect, HTTPRequest, StreamDecoder, dumps, make_usage
from .plumbing import MAX_TOOL_CALLS, bearer, message_text, sampling, stream_error

__all__ = ["DIALECT", "OpenAIChat", "OpenAIChatDecoder"]

# OpenAI caps ``n`` at 128; a larger index is garbage, and an unbounded one would make the
# accumulator build a tuple of that many strings at the end.
_MAX_CHOICES: Final = 128
# Words in a provider's error type that say "the same request may succeed later".
_RETRYABLE_WORDS: Final = ("server", "overload", "rate", "timeout", "unavailable", "internal")
_SAMPLING: Final = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens"}


# ------------------------------------------------------------------------------------------
# Small pure helpers shared by the stream and body decoders
# ------------------------------------------------------------------------------------------
def _excerpt(text: str, limit: int = 80) -> str:
    """A short, repr-quoted excerpt of wire data for an error message."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _choice_index(value: Any) -> int:
    """A choice index: absent/null/0 are 0; anything else must be a small int."""
    if not value:
        return 0
    if type(value) is not int or not 0 < value < _MAX_CHOICES:
        raise RemoteProtocolError(f"invalid choice index {_excerpt(str(value))}")
    return value


def _text_of(value: Any, what: str) -> str:
    """A text field: null is empty; a string is itself; a list of content parts (Mistral's
    ``[{"type": "text", "text": ...}]``) is the concatenation of its text parts."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) is list:
        return "".join(
            part["text"]
            for part in value
            if type(part) is dict and part.get("type") == "text" and type(part.get("text")) is str
        )
    raise RemoteProtocolError(f"{what} is not a string: {_excerpt(str(value))}")


def _arguments_text(value: Any) -> str:
    """Tool-call arguments: JSON text on the wire; an object (some compatible servers) is
    re-encoded compactly so callers always get a string."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) in (dict, list):
        return dumps(value).decode()
    raise RemoteProtocolError(f"tool call arguments are not a string: {_excerpt(str(value))}")


def _optional_str(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _count(mapping: dict[str, Any], key: str) -> int | None:
    # base.get_int without its Mapping ABC check: parsed JSON objects are always dicts.
    value = mapping.get(key)
    return value if type(value) is int else None


def _usage_of(raw: Any) -> Usage | None:
    """OpenAI-style usage counts (``completion_tokens`` include reasoning tokens)."""
    if type(raw) is not dict:
        return None
    details = raw.get("completion_tokens_details")
    cached = raw.get("prompt_tokens_details")
    return make_usage(
        _count(raw, "prompt_tokens"),
        _count(raw, "completion_tokens"),
        _count(raw, "total_tokens"),
        _count(details, "reasoning_tokens") if type(details) is dict else None,
        _count(cached, "cached_tokens") if type(cached) is dict else None,
    )


def _provider_error(acc: Accumulator, error: Any) -> Error:
    """The ``Error`` for an error object in a 200 response: ``{"message", "type",
    "code"}`` (``code`` may be an int status, retryable if it says so), or a bare string."""
    if type(error) is not dict:
        text = error if type(error) is str else dumps(error).decode()
        return stream_error(acc, text, None, {}, default="the provider reported an error")
    message = error.get("message")
    if type(message) is not str or not message:
        message = dumps(error).decode()
    raw_type = error.get("type") or error.get("code")
    code = error.get("code")
    return stream_error(
        acc,
        message,
        None if raw_type is None else str(raw_type),
        {},
        default="",
        retry_words=_RETRYABLE_WORDS,
        retryable=type(code) is int and code in RETRYABLE_STATUSES,
    )


# A delta's fields, checked: reasoning, (text or thinking piece, is thinking), refusal,
# tool calls (each a checked JSON object).
_DeltaFields = tuple[str, list[tuple[str, bool]], str, list[dict[str, Any]]]


def _checked_choice(choice: Any) -> tuple[int, _DeltaFields | None]:
    """A streamed choice's index and its delta's fields, every field checked (raising
    :class:`RemoteProtocolError`) before anything is accumulated."""
    if type(choice) is not dict:
        raise RemoteProtocolError("a choice is not a JSON object")
    index = _choice_index(choice.get("index"))
    delta = choice.get("delta")
    if not delta:
        return index, None
    if type(delta) is not dict:
        raise RemoteProtocolError("'delta' is not a JSON object")
    reasoning = _text_of(
        delta.get("reasoning_content") or delta.get("reasoning"), "delta.reasoning"
    )
    content = delta.get("content")
    parts: list[tuple[str, bool]] = []
    if content:
        if type(content) is list:  # Mistral: text parts and thinking parts
            parts = _content_parts(content)
        else:
            parts = [(_text_of(content, "delta.content"), False)]
    refusal = _text_of(delta.get("refusal"), "delta.refusal")
    tool_calls = delta.get("tool_calls") or []
    if type(tool_calls) is not list:
        raise RemoteProtocolError("'tool_calls' is not a list")
    for call in tool_calls:
        _check_tool_call(call)
    return index, (reasoning, parts, refusal, tool_calls)


def _check_tool_call(call: Any) -> None:
    """The checks :meth:`OpenAIChatDecoder._tool_call` would fail on, done before any
    field of the delta is accumulated."""
    if type(call) is not dict:
        raise RemoteProtocolError("a tool call is not a JSON object")
    function = call.get("function") or {}
    if type(function) is not dict:
        raise RemoteProtocolError("a tool call's 'function' is not a JSON object")
    _optional_str(call.get("id"))
    _optional_str(function.get("name"))
    _arguments_text(function.get("arguments"))
    index = call.get("index")
    if index is not None and (type(index) is not int or not 0 <= index < MAX_TOOL_CALLS):
        raise RemoteProtocolError(f"invalid tool call index {_excerpt(str(index))}")


# ------------------------------------------------------------------------------------------
# The stream decoder
# ------------------------------------------------------------------------------------------
class OpenAIChatDecoder(StreamDecoder):
    """The state of one streamed chat completion.

    Emits ``Delta`` events as chunks arrive and one terminal event: ``Done`` at
    ``data: [DONE]``, ``Error("provider")`` for an error reported in the stream (at once),
    ``Error("incomplete")`` from :meth:`end` when ``[DONE]`` never came. ``Done`` describes
    choice 0; with ``n > 1`` the other choices' text is in ``Done.choices``. Tool calls of
    choices other than 0 are emitted as deltas but not collected into ``Done.tool_calls``.
    Invalid JSON or a wrong shape raises :class:`RemoteProtocolError`.
    """

    __slots__ = ("_field_error", "_finish", "_tool_ids", "_tool_last", "_usage")

    def __init__(self) -> None:
        super().__init__()
        self._finish: str | None = None  # raw finish_reason of choice 0
        self._usage: Any = None  # raw usage object; parsed once at the end
        self._field_error: Any = None  # llama.cpp `error:` (parsed), reported at the end
        self._tool_ids: dict[str, int] = {}  # for servers that omit tool_calls[].index
        self._tool_last = 0

    # --- the hot path ---------------------------------------------------------------------
    def sse_event(self, event: ServerSentEvent) -> list[Event]:
        data = event.data
        if data == "[DONE]":
            return [self._at_done()]
        try:
            chunk = loads(data)
        except JSONDecodeError:
            stripped = data.strip()
            if stripped == "[DONE]":
                return [self._at_done()]
            if not stripped:  # an empty data line: a keep-alive some proxies send
                return []
            if event.event == "error":  # a plain-text error event
                return [self._stream_error(data)]
            raise RemoteProtocolError(f"invalid JSON in a data line: {_excerpt(data)}") from None
        # The common shape, read with plain subscripts: any other shape (wrong types
        # included) fails a lookup or a check below and takes the general path, which
        # validates everything and says what is wrong.
        try:
            choices = chunk["choices"]
            choice = choices[0]
            delta = choice["delta"]
            content = delta["content"]
        except (KeyError, IndexError, TypeError):
            return self._chunk(chunk, event)
        if (
            type(content) is str
            and len(delta) == 1
            and len(choices) == 1
            and choice.get("finish_reason") is None
            and not choice.get("index")
            and chunk.get("usage") is None
            and "error" not in chunk
            and "x_groq" not in chunk
            and event.event == "message"
        ):
            return [self.acc.text(content)] if content else []
        return self._chunk(chunk, event)

    # --- the general path -----------------------------------------------------------------
    def _chunk(self, chunk: Any, event: ServerSentEvent) -> list[Event]:
        """Any chunk: errors, several choices, usage, every delta field, with checks."""
        if type(chunk) is not dict:
            raise RemoteProtocolError(f"a data line is not a JSON object: {_excerpt(event.data)}")
        if event.event == "error" or chunk.get("error") is not None:
            return [self._stream_error(chunk.get("error", chunk))]
        out: list[Event] = []
        choices = chunk.get("choices")
        if choices:
            if type(choices) is not list:
                raise RemoteProtocolError("'choices' is not a list")
            # Every choice is checked before any is accumulated: a bad later field must
            # not leave text in acc.partial (the Error's partial) that no Delta gave.
            checked = [_checked_choice(choice) for choice in choices]
            for choice, (index, fields) in zip(choices, checked, strict=True):
                if fields is not None:
                    self._delta(fields, index, out)
                if choice.get("finish_reason") is not None:
                    self._finish_choice(choice)
        usage = chunk.get("usage")
        if usage is not None:
            self._usage = usage
        elif "x_groq" in chunk:
            x_groq = chunk["x_groq"]
            if type(x_groq) is dict and x_groq.get("usage") is not None:
                self._usage = x_groq["usage"]
        return out

    def _delta(self, fields: _DeltaFields, index: int, out: list[Event]) -> None:
        """A checked delta's fields, in reading order: reasoning, text, refusal, tool calls."""
        acc = self.acc
        reasoning, parts, refusal, tool_calls = fields
        if reasoning:
            out.append(acc.reasoning(reasoning, index))
        for piece, thinking in parts:
            out.append(acc.reasoning(piece, index) if thinking else acc.text(piece, index))
        if refusal:
            out.append(acc.refusal(refusal, index))
        for call in tool_calls:
            delta_event = self._tool_call(call, index)
            if delta_event is not None:
                out.append(delta_event)

    def _tool_call(self, call: dict[str, Any], choice_index: int) -> Delta | None:
        if type(call) is not dict:
            raise RemoteProtocolError("a tool call is not a JSON object")
        function = call.get("function") or {}
        if type(function) is not dict:
            raise RemoteProtocolError("a tool call's 'function' is not a JSON object")
        call_id = _optional_str(call.get("id"))
        name = _optional_str(function.get("name"))
        fragment = _arguments_text(function.get("arguments"))
        index = call.get("index")
        if index is None:
            index = self._slot_for(call_id)
        elif type(index) is not int or not 0 <= index < MAX_TOOL_CALLS:
            raise RemoteProtocolError(f"invalid tool call index {_excerpt(str(index))}")
        self._tool_last = index
        if call_id is not None and len(self._tool_ids) < MAX_TOOL_CALLS:
            self._tool_ids.setdefault(call_id, index)
        if not (fragment or call_id or name):
            return None
        if choice_index:
            return Delta(fragment, "tool_call", index, call_id, name)
        return self.acc.tool_call(index, fragment, call_id, name)

    def _slot_for(self, call_id: str | None) -> int:
        """The index of a tool call from a server that sends none: a new id opens a new
        call, no id continues the last one."""
        if call_id is None:
            return self._tool_last
        known = self._tool_ids.get(call_id)
        if known is not None:
            return known
        if len(self._tool_ids) >= MAX_TOOL_CALLS:
            raise RemoteProtocolError("too many tool calls")
        return len(self._tool_ids)

    def _finish_choice(self, choice: dict[str, Any]) -> None:
        """A choice's finish chunk: keep its finish reason (Done describes choice 0; another
        choice's only fills a gap) and the usage Moonshot puts inside the choice."""
        finish = choice["finish_reason"]
        if type(finish) is str and (not choice.get("index") or self._finish is None):
            self._finish = finish
        usage = choice.get("usage")
        if usage is not None:
            self._usage = usage

    # --- terminal events ------------------------------------------------------------------
    def _stream_error(self, error: Any) -> Error:
        return _provider_error(self.acc, error)

    def sse_field(self, name: str, value: str) -> None:
        """llama.cpp reports a failure as an ``error:`` field line (not an SSE field): keep
        it and report it instead of success when the stream ends."""
        if name != "error" or self._field_error is not None:
            return
        try:
            parsed: Any = loads(value)
        except JSONDecodeError:
            parsed = value
        self._field_error = (parsed,)

    def _at_done(self) -> Event:
        acc = self.acc
        if self._field_error is not None:
            return _provider_error(acc, self._field_error[0])
        if self._finish == "error":  # OpenRouter, without an error object
            return acc.error(
                "provider", "the provider ended the stream with finish_reason 'error'", status=200
            )
        return acc.done(self._finish, _usage_of(self._usage))

    def end(self) -> Event:
        if self._field_error is not None:
            return self._at_done()
        if self._finish is not None:
            message = (
                f"the stream ended after finish_reason {self._finish!r} but before 'data: [DONE]'"
            )
        else:
            message = "the stream ended before 'data: [DONE]'"
        return self.acc.error("incomplete", message, status=200)


def _content_parts(parts: list[Any]) -> list[tuple[str, bool]]:
    """Mistral's list-form content: ``(text, is_reasoning)`` for each text or thinking part."""
    out: list[tuple[str, bool]] = []
    for part in parts:
        if type(part) is not dict:
            continue
        kind = part.get("type")
        if kind == "text" and type(part.get("text")) is str and part["text"]:
            out.append((part["text"], False))
        elif kind == "thinking":
            text = _text_of(part.get("thinking"), "a thinking part")
            if text:
                out.append((text, True))
    return out


# ------------------------------------------------------------------------------------------
# Requests
# ------------------------------------------------------------------------------------------
def _content(message: Message) -> str | None:
    """The one place a message's content is converted: text only, for now (None stays
    None: an assistant turn with only tool calls)."""
    return None if message.content is None else message_text(message, "OpenAI chat")


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": _content(message)}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


# ------------------------------------------------------------------------------------------
# The dialect
# ------------------------------------------------------------------------------------------
class OpenAIChat(Dialect):
    """OpenAI chat completions, for OpenAI and every compatible server."""

    name = "openai-chat"

    # --- the client side ------------------------------------------------------------------
    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
        """``POST {prefix}/chat/completions`` with a Bearer key (unless the endpoint's own
        headers carry ``Authorization``). The body holds only the fields that are set;
        ``stream``/``stream_options`` only when streaming; ``request.extra`` last."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(m) for m in request.messages],
        }
        body.update(sampling(request, _SAMPLING))
        if request.stop is not None:
            body["stop"] = list(request.stop_list)
        if request.tools is not None:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": dict(tool.parameters),
                    },
                }
                for tool in request.tool_list
            ]
        if request.neutral_tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.neutral_tool_choice)
        if request.stream:
            body["stream"] = True
            if endpoint.include_usage:
                body["stream_options"] = {"include_usage": True}
        if request.extra:
            body.update(request.extra)
        target = endpoint.url("/chat/completions")
        return HTTPRequest("POST", target, bearer(endpoint), dumps(body))

    def stream_decoder(self, request: ChatRequest) -> OpenAIChatDecoder:
        return OpenAIChatDecoder()

    def decode_body(self, body: Any) -> list[Event]:
        """A ``chat.completion`` object: per choice, a reasoning, text and refusal ``Delta``
        and one per tool call (choice 0), then ``Done`` with usage. An ``error`` envelope
        in a 2xx body is ``Error("provider")``; a body without choices raises
        :class:`RemoteProtocolError`."""
        if type(body) is not dict:
            raise RemoteProtocolError("the response body is not a JSON object")
        if body.get("error") is not None:
            return [_provider_error(Accumulator(), body["error"])]
        choices = body.get("choices")
        if type(choices) is not list or not choices:
            raise RemoteProtocolError("the response body has no 'choices'")
        if len(choices) == 1:
            simple = _simple_answer(choices[0])
            if simple is not None:
                text, raw_finish = simple
                done = Done(
                    normalize_finish_reason(raw_finish),
                    text,
                    usage=_usage_of(body.get("usage")),
                    raw_finish_reason=raw_finish,
                )
                return [Delta(text), done] if text else [done]
        acc = Accumulator()
        out: list[Event] = []
        finish: str | None = None
        for choice in choices:
            if type(choice) is not dict:
                raise RemoteProtocolError("a choice is not a JSON object")
            index = _choice_index(choice.get("index"))
            reply = choice.get("message") or {}
            if type(reply) is not dict:
                raise RemoteProtocolError("'message' is not a JSON object")
            reasoning = _text_of(
                reply.get("reasoning_content") or reply.get("reasoning"), "message.reasoning"
            )
            if reasoning:
                out.append(acc.reasoning(reasoning, index))
            content = reply.get("content")
            if type(content) is list:
                for piece, thinking in _content_parts(content):
                    out.append(acc.reasoning(piece, index) if thinking else acc.text(piece, index))
            elif content:
                out.append(acc.text(_text_of(content, "message.content"), index))
            refusal = _text_of(reply.get("refusal"), "message.refusal")
            if refusal:
                out.append(acc.refusal(refusal, index))
            calls = reply.get("tool_calls") or ()
            if type(calls) is not list and calls != ():
                raise RemoteProtocolError("'tool_calls' is not a list")
            for position, call in enumerate(calls):
                out.append(_body_tool_call(acc, call, position, index))
            raw_finish = choice.get("finish_reason")
            if type(raw_finish) is str and (index == 0 or finish is None):
                finish = raw_finish
        out.append(acc.done(finish, _usage_of(body.get("usage"))))
        return out


def _simple_answer(choice: Any) -> tuple[str, str | None] | None:
    """``(text, finish_reason)`` of the common non-streamed answer -- choice 0 with only
    text -- built without an accumulator; None for anything else (the general path)."""
    if type(choice) is not dict or choice.get("index"):
        return None
    reply = choice.get("message")
    finish = choice.get("finish_reason")
    if type(reply) is not dict or not (finish is None or type(finish) is str):
        return None
    text = reply.get("content")
    if type(text) is not str or any(reply.get(key) for key in _NOT_SIMPLE):
        return None
    return text, finish


# Message fields that need the general path when present and non-empty.
_NOT_SIMPLE: Final = ("reasoning_content", "reasoning", "refusal", "tool_calls")


def _body_tool_call(acc: Accumulator, call: Any, position: int, choice_index: int) -> Delta:
    if type(call) is not dict:
        raise RemoteProtocolError("a tool call is not a JSON object")
    function = call.get("function") or {}
    if type(function) is not dict:
        raise RemoteProtocolError("a tool call's 'function' is not a JSON object")
    call_id = _optional_str(call.get("id"))
    name = _optional_str(function.get("name"))
    arguments = _arguments_text(function.get("arguments"))
    if choice_index:
        return Delta(arguments, "tool_call", position, call_id, name)
    return acc.tool_call(position, arguments, call_id, name)


DIALECT: Final = OpenAIChat()
