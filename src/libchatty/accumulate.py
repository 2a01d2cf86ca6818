"""Collects a response as it streams, and builds its ``Delta``/``Done``/``Error`` events.

Every dialect's stream decoder owns one :class:`Accumulator`. Pieces are kept in lists
and joined once at the end: accumulating with ``str +=`` is quadratic in the number of
deltas (a known flaw of popular SDKs).

A list of pieces costs far more than their text (a CPython ``str`` object is about 50
bytes before its first character: 10**6 one-character deltas held 50+ MB), so once
:data:`COMPACT_AT` pieces are pending they are joined into one chunk, kept beside the
earlier chunks, and every :data:`CHUNKS_PER_BLOCK` chunks are joined into one block.
Each character is copied at most three times (chunk, block, final join): still linear,
and memory stays near the size of the text -- for the short answers of thousands of
concurrent streams as for one long one. Compaction also counts the characters
(:attr:`Accumulator.counted`), which bounds a streamed answer
(``Call(max_response_size=...)``).

The answer text of choice 0 is the hot path (one piece per token): :meth:`Accumulator.text`
appends, builds its ``Delta`` in place and compacts every :data:`COMPACT_AT` pieces, with
no call of its own per token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

from .events import Delta, Done, Error, ToolCall, Usage

__all__ = ["CHUNKS_PER_BLOCK", "COMPACT_AT", "Accumulator", "normalize_finish_reason"]

#: Pieces held before they are joined into one chunk: a piece costs ~60 bytes besides
#: its text, so a stream holds at most ~0.5 KB of pieces per kind of text (10,000
#: concurrent streams: 5 MB), and joining 8 short strings costs little per piece.
COMPACT_AT: Final = 8
#: Chunks held before they are joined into one block: a long answer keeps one string per
#: 512 pieces, within ~0.1 byte per character of the text itself.
CHUNKS_PER_BLOCK: Final = 64

# Each provider's finish reasons, under the normalized reason they mean.
_FINISH_REASONS: Final = {
    raw: reason
    for reason, raws in {
        "stop": "stop end_turn stop_sequence STOP COMPLETE completed FINISH_REASON_UNSPECIFIED",
        "length": "length max_tokens MAX_TOKENS max_output_tokens model_context_window_exceeded",
        "tool_calls": "tool_calls function_call tool_use TOOL_CALL",
        "content_filter": "content_filter refusal SAFETY RECITATION BLOCKLIST PROHIBITED_CONTENT"
        " SPII IMAGE_SAFETY",
    }.items()
    for raw in raws.split()
}


# A text delta is built once per token, the hottest allocation of a stream. Delta(...)
# runs the frozen dataclass __init__ (one object.__setattr__ per field); writing the five
# slots through their descriptors makes the same object at about half the cost.
_new_delta = object.__new__
_delta_slot_setters: tuple[Callable[[Any, Any], None], ...] = tuple(
    getattr(Delta, name).__set__ for name in ("text", "kind", "index", "tool_call_id", "tool_name")
)


def _text_delta(piece: str, index: int) -> Delta:
    delta = _new_delta(Delta)
    set_text, set_kind, set_index, set_id, set_name = _delta_slot_setters
    set_text(delta, piece)
    set_kind(delta, "text")
    set_index(delta, index)
    set_id(delta, None)
    set_name(delta, None)
    return delta


def normalize_finish_reason(raw: str | None, has_tool_calls: bool = False) -> str | None:
    """Map a provider's finish reason to ``stop``/``length``/``tool_calls``/
    ``content_filter``; anything unknown passes through unchanged.

    Gemini and Ollama report a plain stop when the model called tools, so a stop with
    tool calls becomes ``tool_calls``.
    """
    if raw is None:
        return "tool_calls" if has_tool_calls else None
    normal = _FINISH_REASONS.get(raw, raw)
    if normal == "stop" and has_tool_calls:
        return "tool_calls"
    return normal


class _Pieces:
    """Text arriving in pieces: the recent ``pending`` pieces and the ``chunks`` earlier
    pieces were joined into (blocks, then the last ``fresh`` chunks not yet joined into
    one); ``size`` counts the characters in ``chunks``."""

    __slots__ = ("chunks", "fresh", "pending", "size")

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.pending: list[str] = []
        self.fresh = 0
        self.size = 0

    def compact(self) -> int:
        """Join the pending pieces into one chunk; returns the characters added."""
        joined = "".join(self.pending)
        self.pending.clear()  # in place: the Accumulator holds this list for its hot path
        chunks = self.chunks
        chunks.append(joined)
        fresh = self.fresh + 1
        if fresh == CHUNKS_PER_BLOCK:
            chunks[-fresh:] = ["".join(chunks[-fresh:])]
            fresh = 0
        self.fresh = fresh
        self.size += len(joined)
        return len(joined)

    def join(self) -> str:
        if not self.chunks:
            return "".join(self.pending)
        return "".join(self.chunks) + "".join(self.pending)

    def __bool__(self) -> bool:
        return bool(self.chunks or self.pending)

    def exact_size(self) -> int:
        return self.size + sum(map(len, self.pending))


# The reasoning and refusal of an answer that has none: empty, and never added to.
_NO_PIECES: Final = _Pieces()
# The other choices and tool calls of an answer that has none: empty, read-only.
_NONE: Final[Mapping[Any, Any]] = MappingProxyType({})


_T = TypeVar("_T")


def _entry(table: Mapping[int, _T], index: int, make: Callable[[], _T]) -> tuple[dict[int, _T], _T]:
    """``table`` as a dict (a new one for :data:`_NONE`, the first time) and its entry
    ``index``, made if missing."""
    if not isinstance(table, dict):
        table = {}
    entry = table.get(index)
    if entry is None:
        entry = table[index] = make()
    return table, entry


class _ToolCallParts:
    __slots__ = ("arguments", "id", "name", "signature")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str = ""
        self.arguments = _Pieces()
        self.signature: str | None = None


class Accumulator:
    """The text, reasoning, refusal and tool calls of one response so far.

    The methods that take a piece return the ``Delta`` to emit for it, so a decoder
    reads ``events.append(acc.text(piece))``.

    ``counted`` is the number of characters (answer text of every choice, reasoning,
    refusal, tool arguments) counted so far. Pieces are counted when they are compacted,
    so it trails the exact total (:meth:`size`) by the pieces pending (fewer than
    :data:`COMPACT_AT` per kind of text): cheap enough to check after every read.
    """

    __slots__ = (
        "_choices",
        "_pending",
        "_reasoning",
        "_refusal",
        "_signature",
        "_text",
        "_tools",
        "counted",
    )

    def __init__(self) -> None:
        self._text = _Pieces()  # choice 0
        self._pending = self._text.pending  # the same list: the hot path's one lookup
        self._choices: Mapping[int, _Pieces] = _NONE  # choices 1.. when n > 1
        # Most answers have no other choices, reasoning, refusal, signature or tool calls:
        # each is made on first use (until then the empty _NONE / _NO_PIECES / tuple;
        # ~0.6 KB of each of 10,000 streams).
        self._reasoning = _NO_PIECES
        self._refusal = _NO_PIECES
        self._tools: Mapping[int, _ToolCallParts] = _NONE
        self._signature: list[str] | tuple[()] = ()  # the reasoning's opaque signature
        self.counted = 0

    # --- pieces in ------------------------------------------------------------------
    def text(self, piece: str, index: int = 0) -> Delta:
        if index == 0:
            # _add and _text_delta inlined: this is once per token.
            pending = self._pending
            pending.append(piece)
            if len(pending) >= COMPACT_AT:
                self.counted += self._text.compact()
            delta = _new_delta(Delta)
            set_text, set_kind, set_index, set_id, set_name = _delta_slot_setters
            set_text(delta, piece)
            set_kind(delta, "text")
            set_index(delta, 0)
            set_id(delta, None)
            set_name(delta, None)
            return delta
        else:
            self._choices, parts = _entry(self._choices, index, _Pieces)
            self._add(parts, piece)
        return _text_delta(piece, index)

    def reasoning(self, piece: str, index: int = 0) -> Delta:
        if index == 0:
            self._reasoning = self._added(self._reasoning, piece)
        return Delta(piece, "reasoning", index)

    def refusal(self, piece: str, index: int = 0) -> Delta:
        if index == 0:
            self._refusal = self._added(self._refusal, piece)
        return Delta(piece, "refusal", index)

    def tool_call(
        self, index: int, fragment: str, id: str | None = None, name: str | None = None
    ) -> Delta:
        """Add an argument fragment to tool call ``index`` (creating it on first sight).

        ``id`` and ``name`` are kept from the first fragment that carries them.
        """
        parts = self._tool(index)
        if id and parts.id is None:
            parts.id = id
        if name and not parts.name:
            parts.name = name
        if fragment:
            self._add(parts.arguments, fragment)
        return Delta(fragment, "tool_call", index, id, name)

    def set_tool_signature(self, index: int, signature: str) -> None:
        """Keep the opaque signature the provider attached to tool call ``index``
        (Gemini ``thoughtSignature``), to be sent back with the call."""
        self._tool(index).signature = signature

    def add_reasoning_signature(self, fragment: str) -> None:
        """Add a fragment of the reasoning's opaque signature (Anthropic
        ``signature_delta``); never text, never a delta."""
        signature = self._signature
        if isinstance(signature, tuple):
            signature = self._signature = []
        signature.append(fragment)

    def set_tool_arguments(self, index: int, arguments: str) -> None:
        """Replace tool call ``index``'s arguments with the complete text the provider
        sent at its end (e.g. Responses ``function_call_arguments.done``)."""
        parts = self._tool(index)
        self.counted -= parts.arguments.size  # the restated text replaces, not adds
        parts.arguments = _Pieces()
        self._add(parts.arguments, arguments)
        self.counted += parts.arguments.compact()

    def _tool(self, index: int) -> _ToolCallParts:
        """Tool call ``index``'s parts, made on first sight."""
        self._tools, parts = _entry(self._tools, index, _ToolCallParts)
        return parts

    def _added(self, parts: _Pieces, piece: str) -> _Pieces:
        """``parts`` -- made now if it is :data:`_NO_PIECES` -- with ``piece`` added."""
        if parts is _NO_PIECES:
            parts = _Pieces()
        self._add(parts, piece)
        return parts

    def _add(self, parts: _Pieces, piece: str) -> None:
        pending = parts.pending
        pending.append(piece)
        if len(pending) >= COMPACT_AT:
            self.counted += parts.compact()

    # --- what we have ---------------------------------------------------------------
    @property
    def partial(self) -> str:
        """The answer text of choice 0 received so far."""
        return self._text.join()

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._tools)

    def size(self) -> int:
        """The exact number of characters received: answer text of every choice,
        reasoning, refusal and tool arguments (what ``max_response_size`` bounds)."""
        return sum(
            parts.exact_size()
            for parts in (
                self._text,
                self._reasoning,
                self._refusal,
                *self._choices.values(),
                *(tool.arguments for tool in self._tools.values()),
            )
        )

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(parts.id, parts.name, parts.arguments.join(), parts.signature)
            for _, parts in sorted(self._tools.items())
        )

    # --- terminal events --------------------------------------------------------------
    def done(self, raw_finish_reason: str | None, usage: Usage | None = None) -> Done:
        text = self._text.join()
        choices: tuple[str, ...] = ()
        if self._choices:
            last = max(self._choices)
            empty = _Pieces()
            choices = (text, *(self._choices.get(i, empty).join() for i in range(1, last + 1)))
        return Done(
            finish_reason=normalize_finish_reason(raw_finish_reason, bool(self._tools)),
            text=text,
            reasoning=self._reasoning.join(),
            tool_calls=self.tool_calls(),
            usage=usage,
            raw_finish_reason=raw_finish_reason,
            refusal=self._refusal.join(),
            choices=choices,
            reasoning_signature="".join(self._signature) if self._signature else None,
        )

    def error(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        provider_type: str | None = None,
        retry_after: float | None = None,
    ) -> Error:
        """An ``Error`` that carries the partial text received so far."""
        return Error(
            kind=kind,
            message=message,
            status=status,
            retry_after=retry_after,
            retryable=retryable,
            partial=self.partial,
            provider_type=provider_type,
        )
