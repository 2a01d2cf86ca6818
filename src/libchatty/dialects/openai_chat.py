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

Decoding is the hot path of the library, so :meth:`OpenAIChatDecoder.message_data` reads the
common chunk (one choice, a delta with only ``content``) with one parse and a few dict lookups
-- from the undecoded bytes when the call has a whole event per read, the live shape -- and
everything else takes the general path. Once a stream's common chunk repeats byte for byte
but for its text (the same id, timestamp and field order every token), it is not parsed at
all: its frame (:mod:`libchatty.jsonframe`) gives the text.
"""

from __future__ import annotations

from typing import Any, Final

from ..accumulate import Accumulator, normalize_finish_reason
from ..events import Delta, Done, Error, Event
from ..exceptions import RemoteProtocolError
from ..jsonframe import StringFrame, learn_frame, plain_string
from ..jsonload import JSONDecodeError, loads
from ..sse import ServerSentEvent
from .base import Dialect, StreamDecoder
from .openai_chat_fields import (
    choice_index,
    content_parts,
    excerpt,
    provider_error,
    text_of,
    tool_call_fields,
    usage_of,
)
from .openai_request import chat_request
from .plumbing import MAX_TOOL_CALLS, openai_error, response_meta, with_meta

__all__ = ["DIALECT", "OpenAIChat", "OpenAIChatDecoder"]

# Names the response in a RemoteProtocolError about its id or model.
_RESPONSE: Final = "the response's"

# OpenAIChatDecoder._parsed when it holds no chunk (a chunk may be any JSON value).
_UNPARSED: Final = object()

# How many times a stream's decoder learns the common chunk's frame (jsonframe): the
# first text chunk, and again when a chunk with plain text did not fit (an odd first
# chunk, a field that changed).
FRAME_LEARNS: Final = 3


def _common_content(chunk: Any) -> str | None:
    """The text of the common chunk -- one choice (index 0) whose delta is only
    ``content``, no finish reason, usage, error or Groq extras -- or None for anything
    else, wrong types included (they fail a subscript or a check)."""
    try:
        choices = chunk["choices"]
        choice = choices[0]
        delta = choice["delta"]
        content = delta["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if (
        type(content) is str
        and len(delta) == 1
        and len(choices) == 1
        and choice.get("finish_reason") is None
        and not choice.get("index")
        and chunk.get("usage") is None
        and "error" not in chunk
        and "x_groq" not in chunk
    ):
        return content
    return None


# A delta's fields, checked: reasoning, (text or thinking piece, is thinking), refusal,
# tool calls (each a checked JSON object).
_DeltaFields = tuple[str, list[tuple[str, bool]], str, list[dict[str, Any]]]


def _checked_choice(choice: Any) -> tuple[int, _DeltaFields | None]:
    """A streamed choice's index and its delta's fields, every field checked (raising
    :class:`RemoteProtocolError`) before anything is accumulated."""
    if type(choice) is not dict:
        raise RemoteProtocolError("a choice is not a JSON object")
    index = choice_index(choice.get("index"))
    delta = choice.get("delta")
    if not delta:
        return index, None
    if type(delta) is not dict:
        raise RemoteProtocolError("'delta' is not a JSON object")
    reasoning = text_of(delta.get("reasoning_content") or delta.get("reasoning"), "delta.reasoning")
    content = delta.get("content")
    parts: list[tuple[str, bool]] = []
    if content:
        if type(content) is list:  # Mistral: text parts and thinking parts
            parts = content_parts(content)
        else:
            parts = [(text_of(content, "delta.content"), False)]
    refusal = text_of(delta.get("refusal"), "delta.refusal")
    tool_calls = delta.get("tool_calls") or []
    if type(tool_calls) is not list:
        raise RemoteProtocolError("'tool_calls' is not a list")
    for call in tool_calls:
        tool_call_fields(call)
    return index, (reasoning, parts, refusal, tool_calls)


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
    ``Done.response_id``/``model`` are the ``id``/``model`` of the first chunk that
    carries choices or a non-empty id (Azure's prompt-filter chunk before it has an
    empty id); until then every chunk takes the general path, which reads them.
    Invalid JSON or a wrong shape raises :class:`RemoteProtocolError`.
    """

    __slots__ = (
        "_field_error",
        "_finish",
        "_frame",
        "_learns",
        "_meta",
        "_parsed",
        "_tool_ids",
        "_tool_last",
        "_usage",
    )

    def __init__(self) -> None:
        super().__init__()
        self._finish: str | None = None  # raw finish_reason of choice 0
        self._usage: Any = None  # raw usage object; parsed once at the end
        self._field_error: Any = None  # llama.cpp `error:` (parsed), reported at the end
        self._tool_ids: dict[str, int] = {}  # for servers that omit tool_calls[].index
        self._tool_last = 0
        self._meta: tuple[str | None, str | None] | None = None  # (id, model) once known
        # The common chunk's frame once learned (jsonframe), and how many more times one
        # may be learned: each try costs a parse, and a stream whose chunks differ in
        # more than the text (a per-chunk field) would otherwise pay it every time.
        self._frame: StringFrame | None = None
        self._learns = FRAME_LEARNS
        # What message_data parsed of an uncommon chunk, for sse_event, which the call
        # hands that same event next: one parse of it, not three (_UNPARSED: none).
        self._parsed: Any = _UNPARSED

    # --- the hot path ---------------------------------------------------------------------
    def message_data(self, payload: bytes | str) -> list[Event] | None:
        # The common chunk (see _common_content): read from the stream's frame when it
        # repeats the learned one but for the text (no parse at all), else with one
        # parse and plain subscripts. None, with nothing changed, for anything else,
        # which sse_event reads, validates and says what is wrong with. The call hands
        # the live shape (a whole "message" event per read) here undecoded.
        frame = self._frame
        if frame is not None:
            text = frame.text_in(payload)
            if text is not None:
                return [self.acc.text(text)]
        if payload == b"[DONE]":  # the end, for sse_event: not a parse that must fail
            return None
        try:
            chunk = loads(payload)
        except (ValueError, RecursionError):
            return None  # JSONDecodeError: a keep-alive, bad UTF-8 or JSON
        content = _common_content(chunk)
        if content is None or self._meta is None:
            self._parsed = chunk  # for sse_event, next: see __init__
            return None
        if not content:
            return []
        if self._learns and plain_string(content):  # no frame yet, or it did not fit
            self._learns -= 1
            self._frame = learn_frame(payload, content, _common_content)
        return [self.acc.text(content)]

    def sse_event(self, event: ServerSentEvent) -> list[Event]:
        # message_data's parse of this event's data, when the call tried it just now.
        chunk, self._parsed = self._parsed, _UNPARSED
        data = event.data
        if data == "[DONE]":  # before a parse that would fail
            return [self._at_done()]
        if chunk is _UNPARSED and event.event == "message":
            events = self.message_data(data)
            if events is not None:
                return events
            chunk, self._parsed = self._parsed, _UNPARSED
        if chunk is not _UNPARSED:
            return self._chunk(chunk, event)
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
            raise RemoteProtocolError(f"invalid JSON in a data line: {excerpt(data)}") from None
        return self._chunk(chunk, event)

    # --- the general path -----------------------------------------------------------------
    def _chunk(self, chunk: Any, event: ServerSentEvent) -> list[Event]:
        """Any chunk: errors, several choices, usage, every delta field, with checks."""
        if type(chunk) is not dict:
            raise RemoteProtocolError(f"a data line is not a JSON object: {excerpt(event.data)}")
        if event.event == "error" or chunk.get("error") is not None:
            return [self._stream_error(chunk.get("error", chunk))]
        out: list[Event] = []
        choices = chunk.get("choices")
        if self._meta is None:
            meta = response_meta(chunk, _RESPONSE)
            if choices or meta[0] is not None:
                self._meta = meta
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

    def _tool_call(self, call: dict[str, Any], choice: int) -> Delta | None:
        call_id, name, fragment, index = tool_call_fields(call)
        if index is None:
            index = self._slot_for(call_id)
        self._tool_last = index
        if call_id is not None and len(self._tool_ids) < MAX_TOOL_CALLS:
            self._tool_ids.setdefault(call_id, index)
        if not (fragment or call_id or name):
            return None
        if choice:
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
        return provider_error(self.acc, error)

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
            return provider_error(acc, self._field_error[0])
        if self._finish == "error":  # OpenRouter, without an error object
            return acc.error(
                "provider", "the provider ended the stream with finish_reason 'error'", status=200
            )
        return with_meta(acc.done(self._finish, usage_of(self._usage)), self._meta)

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


# ------------------------------------------------------------------------------------------
# The dialect
# ------------------------------------------------------------------------------------------
class OpenAIChat(Dialect):
    """OpenAI chat completions, for OpenAI and every compatible server. Requests are
    built by :func:`~.openai_request.chat_request` (content parts, structured output,
    reasoning effort, seed, n: see :mod:`.openai_request`); a non-2xx body is read by
    :func:`~.plumbing.openai_error` (Azure's content filter named)."""

    name = "openai-chat"
    decoder = OpenAIChatDecoder
    build_request = staticmethod(chat_request)
    decode_error = staticmethod(openai_error)

    def decode_body(self, body: Any) -> list[Event]:
        """A ``chat.completion`` object: per choice, a reasoning, text and refusal ``Delta``
        and one per tool call (choice 0), then ``Done`` with usage. An ``error`` envelope
        in a 2xx body is ``Error("provider")``; a body without choices raises
        :class:`RemoteProtocolError`."""
        if type(body) is not dict:
            raise RemoteProtocolError("the response body is not a JSON object")
        if body.get("error") is not None:
            return [provider_error(Accumulator(), body["error"])]
        choices = body.get("choices")
        if type(choices) is not list or not choices:
            raise RemoteProtocolError("the response body has no 'choices'")
        if len(choices) == 1:
            simple = _simple_answer(choices[0])
            if simple is not None:
                text, raw_finish = simple
                response_id, model = response_meta(body, _RESPONSE)
                done = Done(
                    normalize_finish_reason(raw_finish),
                    text,
                    usage=usage_of(body.get("usage")),
                    raw_finish_reason=raw_finish,
                    response_id=response_id,
                    model=model,
                )
                return [Delta(text), done] if text else [done]
        acc = Accumulator()
        out: list[Event] = []
        finish: str | None = None
        for choice in choices:
            if type(choice) is not dict:
                raise RemoteProtocolError("a choice is not a JSON object")
            index = choice_index(choice.get("index"))
            reply = choice.get("message") or {}
            if type(reply) is not dict:
                raise RemoteProtocolError("'message' is not a JSON object")
            reasoning = text_of(
                reply.get("reasoning_content") or reply.get("reasoning"), "message.reasoning"
            )
            if reasoning:
                out.append(acc.reasoning(reasoning, index))
            content = reply.get("content")
            if type(content) is list:
                for piece, thinking in content_parts(content):
                    out.append(acc.reasoning(piece, index) if thinking else acc.text(piece, index))
            elif content:
                out.append(acc.text(text_of(content, "message.content"), index))
            refusal = text_of(reply.get("refusal"), "message.refusal")
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
        done = acc.done(finish, usage_of(body.get("usage")))
        out.append(with_meta(done, response_meta(body, _RESPONSE)))
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
    if type(text) is not str or any(reply.get(key) is not None for key in _NOT_SIMPLE):
        return None
    return text, finish


# Message fields that need the general path when present and not null: even a falsy
# value (``""``, ``[]``, ``0``) goes there, so that a wrong type (``"refusal": 0``) is the
# same RemoteProtocolError whichever path reads the body.
_NOT_SIMPLE: Final = ("reasoning_content", "reasoning", "refusal", "tool_calls")


def _body_tool_call(acc: Accumulator, call: Any, position: int, choice: int) -> Delta:
    call_id, name, arguments, _ = tool_call_fields(call)
    if choice:
        return Delta(arguments, "tool_call", position, call_id, name)
    return acc.tool_call(position, arguments, call_id, name)


DIALECT: Final = OpenAIChat()
