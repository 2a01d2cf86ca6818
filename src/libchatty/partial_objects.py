"""Partial objects: a structured answer and tool-call arguments as they fill in.

:class:`PartialObjects` sits after a :class:`~libchatty.call.Call` (or any event
stream): it is fed every event and hands back :class:`PartialObject` events, one each
time a JSON value gained something::

    partials = PartialObjects(answer=True, tool_calls=True)
    for event in events:
        for partial in partials.feed(event):
            show(partial.source, partial.index, partial.value)

* ``answer=True`` (structured output): the answer text -- ``Delta(kind="text")`` of
  choice 0 -- is one JSON document, ``source="answer"``, ``index=0``.
* ``tool_calls=True``: each tool call's arguments -- ``Delta(kind="tool_call")`` by
  tool-call index -- are one JSON document each, ``source="tool_call"`` with the call's
  ``index``, ``tool_call_id`` and ``tool_name`` (as last sent by the provider).

Each document is parsed by its own :class:`~libchatty.partialjson.PartialJSON` (see it
for what a value shows while incomplete), so the work is linear in the text however it
is split. A :class:`PartialObject` with ``complete=False`` is emitted exactly when a
feed made its document's value change (a closing bracket or whitespace changes
nothing). At ``Done`` -- or :meth:`PartialObjects.close` for a caller that ends the
stream itself -- each document still being parsed is closed and, when it is whole JSON,
one last ``PartialObject`` with ``complete=True`` carries its final value. After an
``Error`` nothing more is emitted: there is no final value to vouch for.

``value`` is the parser's **live** object, not a copy: later feeds of the same document
mutate its lists and dicts in place, so a kept ``PartialObject`` shows the latest state
of containers (strings and numbers are immutable and stay as they were). Do not mutate
it; ``copy.deepcopy`` it to keep a snapshot. Copying on every change would make the
whole stream quadratic in the document's size: a 120 KB list of records in 8-byte
deltas (12,641 partials) took 0.05 s live and 60 s with a deep copy per partial. The
official SDKs hand out live objects too. One case stays costly: a document whose value
is dominated by ONE long string that is still open costs O(that string) per emitted
partial, because each partial needs a fresh Python ``str`` (PartialJSON's module doc).

Malformed JSON from the model (or a document beyond the parser's ``max_size`` /
``max_depth``) never raises into the stream: that document produces no more partials,
its failure is recorded in :attr:`PartialObjects.failures`, and every other document
goes on. The text itself is unaffected -- the final ``Done`` still carries it, and
:func:`libchatty.structured.parse_structured` reports the same fault as a typed error
for the answer. At most ``max_tool_calls`` tool calls are tracked (the dialects bound
the number a response can carry; this bounds the adapter on its own): a further call is
ignored (the first one is recorded as a failure).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from .events import Delta, Done, Error, Event
from .exceptions import LocalProtocolError, RemoteProtocolError
from .partialjson import DEFAULT_MAX_DEPTH, DEFAULT_MAX_SIZE, PartialJSON
from .values import Value, frozen

__all__ = ["DEFAULT_MAX_TOOL_CALLS", "PartialFailure", "PartialObject", "PartialObjects"]

Source = Literal["answer", "tool_call"]

#: More parallel tool calls than any provider makes in one response (OpenAI caps at
#: 128 tools per request), so a runaway index cannot grow the adapter without bound.
DEFAULT_MAX_TOOL_CALLS: Final = 256


@frozen
class PartialObject(Value):
    """A JSON document's value so far (see the module doc for ``value``'s liveness).

    ``source`` is ``"answer"`` (structured output, ``index`` 0) or ``"tool_call"``
    (``index`` is the tool-call index; ``tool_call_id`` and ``tool_name`` as the
    provider last sent them). ``complete`` is True only on the last one of a document,
    emitted at the end of a successful response, when ``value`` is final.
    """

    value: Any
    source: Source
    index: int = 0
    tool_call_id: str | None = None
    tool_name: str | None = None
    complete: bool = False


@frozen
class PartialFailure(Value):
    """Why a document stopped producing partials: ``message`` says what the parser met
    (a position in the document, never more than a short excerpt of it)."""

    source: Source
    index: int
    message: str


class _Document:
    """One JSON document being parsed, and who it belongs to."""

    __slots__ = ("failed", "index", "parser", "source", "tool_call_id", "tool_name")

    def __init__(self, source: Source, index: int, parser: PartialJSON) -> None:
        self.source: Source = source
        self.index = index
        self.parser = parser
        self.tool_call_id: str | None = None
        self.tool_name: str | None = None
        self.failed = False

    def partial(self, value: Any, complete: bool) -> PartialObject:
        return PartialObject(
            value, self.source, self.index, self.tool_call_id, self.tool_name, complete
        )


class PartialObjects:
    """Feed every event of one response; get :class:`PartialObject` events back."""

    __slots__ = (
        "_answer",
        "_documents",
        "_failures",
        "_finished",
        "_max_depth",
        "_max_size",
        "_max_tool_calls",
        "_overflowed",
        "_tool_calls",
    )

    def __init__(
        self,
        answer: bool,
        tool_calls: bool,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS,
    ) -> None:
        if max_size < 1 or max_depth < 1 or max_tool_calls < 0:
            raise ValueError("max_size and max_depth must be at least 1, max_tool_calls 0")
        self._answer = answer
        self._tool_calls = tool_calls
        self._max_size = max_size
        self._max_depth = max_depth
        self._max_tool_calls = max_tool_calls
        # (source, index) -> document, in the order they began.
        self._documents: dict[tuple[Source, int], _Document] = {}
        self._failures: list[PartialFailure] = []
        self._finished = False
        self._overflowed = False

    @property
    def failures(self) -> tuple[PartialFailure, ...]:
        """Documents that stopped producing partials, in the order they failed."""
        return tuple(self._failures)

    def feed(self, event: Event) -> list[PartialObject]:
        """The partials ``event`` produced (usually zero or one).

        Raises :class:`~libchatty.exceptions.LocalProtocolError` when fed after the
        terminal event or :meth:`close`.
        """
        if self._finished:
            raise LocalProtocolError("PartialObjects.feed after the response ended")
        if isinstance(event, Delta):
            return self._delta(event)
        if isinstance(event, Done):
            return self.close()
        if isinstance(event, Error):
            self._finished = True
            return []
        raise TypeError(f"PartialObjects.feed takes a Delta, Done or Error, not {event!r}")

    def close(self) -> list[PartialObject]:
        """End of the response: the ``complete`` partial of every document that is whole
        JSON (a document cut short is recorded in :attr:`failures`). A second call, or a
        call after an ``Error``, returns nothing."""
        if self._finished:
            return []
        self._finished = True
        out: list[PartialObject] = []
        for document in self._documents.values():
            if document.failed:
                continue
            try:
                value = document.parser.close()
            except RemoteProtocolError as exc:
                self._fail(document, str(exc))
                continue
            out.append(document.partial(value, True))
        return out

    def _delta(self, delta: Delta) -> list[PartialObject]:
        kind = delta.kind
        if kind == "text":
            if not self._answer or delta.index != 0:
                return []
            key: tuple[Source, int] = ("answer", 0)
        elif kind == "tool_call":
            if not self._tool_calls:
                return []
            key = ("tool_call", delta.index)
        else:
            return []
        document = self._documents.get(key)
        if document is None:
            document = self._begin(key)
            if document is None:
                return []
        if delta.tool_call_id is not None:
            document.tool_call_id = delta.tool_call_id
        if delta.tool_name is not None:
            document.tool_name = delta.tool_name
        if document.failed or not delta.text:
            return []
        parser = document.parser
        try:
            changed = parser.feed(delta.text)
        except RemoteProtocolError as exc:  # LimitExceeded included
            self._fail(document, str(exc))
            return []
        if not changed:
            return []
        return [document.partial(parser.value, False)]

    def _begin(self, key: tuple[Source, int]) -> _Document | None:
        source, index = key
        if source == "tool_call":
            tracked = len(self._documents) - (("answer", 0) in self._documents)
            if tracked >= self._max_tool_calls:
                # Recorded once: a runaway stream must not grow the failures either.
                if not self._overflowed:
                    self._overflowed = True
                    message = f"more than max_tool_calls={self._max_tool_calls} tool calls"
                    self._failures.append(PartialFailure(source, index, message))
                return None
        document = _Document(source, index, PartialJSON(self._max_size, self._max_depth))
        self._documents[key] = document
        return document

    def _fail(self, document: _Document, message: str) -> None:
        document.failed = True
        self._failures.append(PartialFailure(document.source, document.index, message))
