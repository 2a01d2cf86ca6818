"""The value side of :class:`~libchatty.partialjson.PartialJSON`: the live Python value.

:class:`ValueBuilder` holds the value under construction -- the root, the stack of open
containers, the key whose value comes next, the open string as pieces -- and the steps
that grow it in place as the scanner (:mod:`libchatty.partialjson`) completes tokens. It
also holds the scanner's state (which character may come next), because finishing a value
decides it: ``,``/closing bracket inside a container, only whitespace at the top level.
A base class rather than an object the parser holds, so that each step stays one method
call on the hot path.
"""

from __future__ import annotations

from typing import Any

from .exceptions import LimitExceeded, RemoteProtocolError

__all__ = ["DEFAULT_MAX_DEPTH", "ValueBuilder"]

# Real arguments nest a handful of levels; this is well under the depth at which
# json.loads and the copying or printing of the value would hit the recursion limit.
DEFAULT_MAX_DEPTH = 128
# The string of one open string is kept as pieces; every this many the recent pieces
# are merged, so a long string fed a character at a time holds few objects. Each
# character is copied at most twice before the string is read or closed.
_MERGE_EVERY = 512

# States: what the next significant character must be. _HANDLERS (after the class) maps
# each to the method that consumes it; a state with no way forward is an error there.
VALUE = 0  # a value
ARRAY_FIRST = 1  # a value or "]" (just after "[")
OBJECT_FIRST = 2  # a key or "}" (just after "{")
KEY = 3  # a key (after "," in an object)
COLON = 4  # ":" after a key
AFTER_VALUE = 5  # "," or the closing bracket of the container
STRING = 6  # inside a string (a key or a value)
NUMBER = 7  # inside a number
END = 8  # the top-level value is complete: whitespace only

_EXPECTED = {
    VALUE: "a value",
    ARRAY_FIRST: "a value or ']'",
    OBJECT_FIRST: "a key or '}'",
    KEY: "a key",
    COLON: "':'",
    AFTER_VALUE: "',' or a closing bracket",
    STRING: "the rest of a string",
    NUMBER: "the rest of a number",
    END: "the end of the text",
}

Container = list[Any] | dict[str, Any]


class ValueBuilder:
    """The value so far and the scanner's state; :class:`PartialJSON` feeds it."""

    __slots__ = (
        "_closed",
        "_dirty",
        "_error",
        "_grew",
        "_in_key",
        "_key",
        "_max_depth",
        "_merged",
        "_parts",
        "_root",
        "_slot",
        "_slot_key",
        "_stack",
        "_state",
        "complete",
        "started",
    )

    def __init__(self, max_depth: int) -> None:
        self._max_depth = max_depth
        self._state = VALUE
        self._root: Any = None
        self._stack: list[Container] = []
        self._key = ""  # the key whose value comes next, in the innermost object
        # The open string: its decoded pieces, whether it is a key, and where a value
        # string lives (its container and index/key; None for a top-level string).
        self._parts: list[str] = []
        self._merged = 0
        self._in_key = False
        self._slot: Container | None = None
        self._slot_key: Any = None
        self._dirty = False  # the open value string has pieces not yet in .value
        self._grew = False  # .value gained something during this feed
        self._error: str | None = None
        self._closed = False
        #: Whether the top-level value has begun (``.value`` is meaningful).
        self.started = False
        #: Whether the whole top-level value has been parsed.
        self.complete = False

    @property
    def max_depth(self) -> int:
        return self._max_depth

    @property
    def value(self) -> Any:
        """The value so far: live, mutated in place by later feeds (do not modify it)."""
        if self._dirty:
            self._flush()
        return self._root

    def _place(self, value: Any) -> None:
        """Put a value that has begun into the innermost container (or the root)."""
        self._grew = True
        stack = self._stack
        if not stack:
            self._root = value
            self.started = True
            return
        top = stack[-1]
        if type(top) is list:
            top.append(value)
        else:
            top[self._key] = value  # type: ignore[call-overload]

    def _after_value(self) -> None:
        if self._stack:
            self._state = AFTER_VALUE
        else:
            self._state = END
            self.complete = True

    def _open(self, container: Container) -> None:
        if len(self._stack) >= self._max_depth:
            raise self._limit(f"JSON nested deeper than max_depth={self._max_depth}")
        self._place(container)
        self._stack.append(container)

    def _close_container(self) -> None:
        self._stack.pop()
        self._after_value()

    def _begin_key(self) -> None:
        self._begin_string(True)

    def _begin_string(self, is_key: bool) -> None:
        self._state = STRING
        self._in_key = is_key
        self._parts = []
        self._merged = 0
        if not is_key:
            stack = self._stack
            if not stack:
                self._slot, self._slot_key = None, None
            else:
                top = stack[-1]
                self._slot = top
                self._slot_key = len(top) if type(top) is list else self._key

    def _add(self, piece: str) -> None:
        parts = self._parts
        parts.append(piece)
        if not self._in_key:
            self._grew = self._dirty = True
        if len(parts) - self._merged >= _MERGE_EVERY:
            # Merge only the recent pieces: re-joining all of them here would be quadratic.
            parts[self._merged :] = ["".join(parts[self._merged :])]
            self._merged += 1

    def _flush(self) -> None:
        """Write the open value string, joined, into its place."""
        joined = "".join(self._parts)
        self._parts = [joined]
        self._dirty = False
        self._merged = 1
        slot = self._slot
        if slot is None:
            self._root = joined
        else:
            slot[self._slot_key] = joined

    def _end_string(self) -> None:
        if self._in_key:
            self._key = "".join(self._parts)
            self._parts = []
            self._state = COLON
            return
        if self._dirty:
            self._flush()
        self._parts = []
        self._slot = None
        self._after_value()

    # -- errors --------------------------------------------------------------------------

    def _fail(self, message: str) -> RemoteProtocolError:
        self._error = f"PartialJSON failed earlier: {message}"
        return RemoteProtocolError(message)

    def _limit(self, message: str) -> LimitExceeded:
        self._fail(message)
        return LimitExceeded(message)
