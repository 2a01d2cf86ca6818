"""Incremental JSON: text that arrives in pieces in, the value so far out, in linear time.

An LLM streams a tool call's arguments (or a structured answer) as JSON fragments. To
show the object as it fills in, SDKs re-parse the whole buffer on every delta: quadratic
(seconds for a few hundred KB). :class:`PartialJSON` parses each character once and keeps
the Python value up to date in place::

    parser = PartialJSON()
    for fragment in fragments:
        if parser.feed(fragment):       # True when .value gained something
            show(parser.value)
    arguments = parser.close()          # the final value; raises if incomplete

What ``.value`` shows while the text is incomplete (each rule keeps the sequence of
values monotonic: a later value only *extends* an earlier one):

* A string appears as soon as its opening quote arrives, as its decoded prefix: ``"ab``
  shows ``"ab"``. An escape is shown only once complete: ``"a\\u00`` shows ``"a"``. A
  ``\\uD800``-``\\uDBFF`` escape is held until the next characters tell whether it is the
  first half of a surrogate pair; pairs are combined and lone surrogates kept, exactly as
  :func:`json.loads` does.
* A number appears only once it can no longer change, that is when a character that
  cannot belong to it follows (``[1`` shows ``[]``, ``[1,`` shows ``[1]``). A top-level
  number is therefore known only at :meth:`PartialJSON.close` (or trailing whitespace).
* ``true``, ``false`` and ``null`` appear once their last letter has arrived.
* Arrays gain an element as soon as the element begins (``[[`` shows ``[[]]``, ``["``
  shows ``[""]``); objects gain a key as soon as its value begins (``{"a": "`` shows
  ``{"a": ""}``, ``{"a": 1`` shows ``{}``, ``{"a"`` shows ``{}``).
* Before the top-level value has begun ``.value`` is ``None`` and ``.started`` is False.

"Grows" precisely: each value is a prefix-extension of the previous one -- strings
extend, lists and dicts gain members at the end (dicts in insertion order), existing
members grow recursively, and nothing changes type or disappears. The one exception is a
repeated object key: as in :func:`json.loads` the later value replaces the earlier.

The result equals ``json.loads(text)`` for every text that is strict JSON (RFC 8259).
``NaN``, ``Infinity`` and ``-Infinity`` (which :func:`json.loads` accepts by default) are
rejected, as are integers of more digits than :func:`int` converts (``json.loads``
raises ``ValueError`` for them too).

Cost, precisely: :meth:`~PartialJSON.feed` costs O(len(fragment)) plus O(1) per token,
however the text is split; no consumed character is scanned again except at most 11
characters of an incomplete escape or literal carried into the next feed. Runs of string
characters, numbers and whitespace are taken by compiled regular expressions, not a
Python loop per character. ``.value`` is the live object (containers are mutated in place
and never copied): reading it is O(1), except that the one string still open is joined
from its pieces when read, O(its length). So reading ``.value`` after every feed is
linear overall when the strings are small (the common case: objects and lists of short
fields); the remaining worst case is ONE giant string read after every feed, which costs
O(its length) per read because a Python ``str`` is immutable and a fresh one must be
built for each read. Do not mutate ``.value``; copy it to keep a snapshot.

Errors: malformed text raises :class:`~libchatty.exceptions.RemoteProtocolError` (the
model produced it) saying what was expected at which character offset, at the first
character that cannot continue a JSON text -- except inside a number, which is checked
when it ends. More than ``max_size`` characters in total, or more than ``max_depth``
nested arrays/objects, raises :class:`~libchatty.exceptions.LimitExceeded` (nothing of
the offending fragment is parsed when it is the size). After any error, and after
:meth:`~PartialJSON.close`, ``feed`` raises
:class:`~libchatty.exceptions.LocalProtocolError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .exceptions import LocalProtocolError, RemoteProtocolError
from .jsonbuilder import (
    _EXPECTED,
    ARRAY_FIRST,
    DEFAULT_MAX_DEPTH,
    END,
    KEY,
    NUMBER,
    OBJECT_FIRST,
    VALUE,
    ValueBuilder,
)
from .jsonbuilder import _MERGE_EVERY as _MERGE_EVERY  # how often string pieces merge

__all__ = ["DEFAULT_MAX_DEPTH", "DEFAULT_MAX_SIZE", "PartialJSON"]

# Tool-call arguments are kilobytes; 16 Mi characters leaves room for generated documents
# while still stopping a runaway stream.
DEFAULT_MAX_SIZE = 16 * 1024 * 1024

_WS = re.compile(r"[ \t\n\r]*")
_WS_CHARS = " \t\n\r"
_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]*')
_NUMBER_RUN = re.compile(r"[-+0-9.eE]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# What can begin a JSON number (every prefix of one).
_NUMBER_PREFIX = re.compile(
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.(?:[0-9]+(?:[eE][-+]?[0-9]*)?)?|[eE][-+]?[0-9]*)?)?"
)
_HEX = re.compile(r"[0-9a-fA-F]*")
_NUMBER_START = "-0123456789"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS: dict[str, tuple[str, Any]] = {
    "t": ("true", True),
    "f": ("false", False),
    "n": ("null", None),
}


class PartialJSON(ValueBuilder):
    """One JSON text fed in pieces; ``.value`` is the value so far (see the module doc)."""

    __slots__ = ("_base", "_carry", "_max_size", "_number", "_size")

    def __init__(
        self, max_size: int = DEFAULT_MAX_SIZE, max_depth: int = DEFAULT_MAX_DEPTH
    ) -> None:
        if max_size < 1 or max_depth < 1:
            raise ValueError("max_size and max_depth must be at least 1")
        super().__init__(max_depth)
        self._max_size = max_size  # the bound on characters fed, checked by feed
        self._size = 0  # characters fed so far
        self._base = 0  # offset of the current text's first character (for messages)
        self._carry = ""  # an incomplete escape or literal, rescanned with the next text
        self._number: list[str] = []  # pieces of the open number

    @property
    def max_size(self) -> int:
        return self._max_size

    def feed(self, fragment: str) -> bool:
        """Parse ``fragment``; return whether ``.value`` gained anything (a closing
        bracket or whitespace changes nothing: watch ``.complete`` for the end)."""
        if self._error is not None or self._closed:
            raise LocalProtocolError(self._error or "PartialJSON.feed after close()")
        if not fragment:
            return False
        size = self._size + len(fragment)
        if size > self._max_size:
            raise self._limit(f"more than max_size={self._max_size} characters of JSON")
        carry = self._carry
        if carry:
            text = carry + fragment  # at most 11 characters carried: linear still
            self._carry = ""
        else:
            text = fragment
        self._base = self._size - len(carry)
        self._size = size
        self._grew = False
        n = len(text)
        pos = 0
        handlers = _HANDLERS
        while pos < n:
            pos = handlers[self._state](self, text, pos)
        return self._grew

    def close(self) -> Any:
        """End of text: finish a trailing number and return the final value.

        Raises :class:`RemoteProtocolError` when the text is not one whole JSON value.
        """
        if self._error is not None:
            raise LocalProtocolError(self._error)
        if not self._closed:
            self._closed = True
            if self._state == NUMBER:
                token = "".join(self._number)
                # "-" or "1." at the end: cut off, not malformed ("01" is malformed).
                if _NUMBER.fullmatch(token) or not _NUMBER_PREFIX.fullmatch(token):
                    self._end_number("", self._size)
            if self._state != END or self._carry:
                raise self._fail(
                    f"incomplete JSON: expected {_EXPECTED[self._state]} "
                    f"at offset {self._size} (end of text)"
                )
        return self._root

    # -- the states --------------------------------------------------------------------

    def _value(self, text: str, pos: int) -> int:
        char = text[pos]
        if char in _WS_CHARS:
            # Skip the run; feed's loop then calls this state again at what follows.
            return _WS.match(text, pos).end()  # type: ignore[union-attr]
        if char == '"':
            self._begin_string(False)
            self._place("")
            return pos + 1
        if char == "[":
            self._open([])
            self._state = ARRAY_FIRST
            return pos + 1
        if char == "{":
            self._open({})
            self._state = OBJECT_FIRST
            return pos + 1
        if char in _NUMBER_START:
            self._state = NUMBER
            return pos  # the number state takes the whole run
        literal = _LITERALS.get(char)
        if literal is not None:
            word, value = literal
            got = text[pos : pos + len(word)]
            if got == word:
                self._place(value)
                self._after_value()
                return pos + len(word)
            if pos + len(got) == len(text) and word.startswith(got):
                self._carry = got  # the rest of the literal is in the next fragment
                return len(text)
            wrong = next(i for i, (a, b) in enumerate(zip(got, word, strict=False)) if a != b)
            raise self._unexpected(f"'{word}'", text, pos + wrong)
        raise self._unexpected("a value", text, pos)

    def _expect_value(self) -> None:
        self._state = VALUE

    def _after_value_char(self, text: str, pos: int) -> int:
        char = text[pos]
        if char in _WS_CHARS:
            # Skip the run; feed's loop then calls this state again at what follows.
            return _WS.match(text, pos).end()  # type: ignore[union-attr]
        in_list = type(self._stack[-1]) is list
        if char == ",":
            self._state = VALUE if in_list else KEY
            return pos + 1
        if char == ("]" if in_list else "}"):
            self._close_container()
            return pos + 1
        raise self._unexpected("',' or ']'" if in_list else "',' or '}'", text, pos)

    def _string(self, text: str, pos: int) -> int:
        end = _STRING_RUN.match(text, pos).end()  # type: ignore[union-attr]
        if end > pos:
            self._add(text[pos:end])
        if end == len(text):
            return end
        char = text[end]
        if char == '"':
            self._end_string()
            return end + 1
        if char == "\\":
            escape = self._escape(text, end)
            if escape is None:
                self._carry = text[end:]  # at most 11 characters
                return len(text)
            decoded, used = escape
            self._add(decoded)
            return end + used
        raise self._unexpected("a string character (control characters must be escaped)", text, end)

    def _number_run(self, text: str, pos: int) -> int:
        end = _NUMBER_RUN.match(text, pos).end()  # type: ignore[union-attr]
        if end == len(text):
            self._number.append(text[pos:])
            return end
        self._end_number(text[pos:end], self._base + end)
        return end

    def _end(self, text: str, pos: int) -> int:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos < len(text):
            raise self._unexpected("the end of the text (one value only)", text, pos)
        return pos

    # -- tokens --------------------------------------------------------------------------

    def _escape(self, text: str, at: int) -> tuple[str, int] | None:
        """The escape at ``text[at]`` (a backslash): (decoded, length), or None when the
        text ends before it is complete. Surrogate pairs are combined as json.loads does:
        a high surrogate followed by a ``\\u`` low surrogate is one character, otherwise
        each is kept alone."""
        n = len(text)
        if at + 1 == n:
            return None
        kind = text[at + 1]
        simple = _ESCAPES.get(kind)
        if simple is not None:
            return simple, 2
        if kind != "u":
            raise self._unexpected('an escape (one of "\\/bfnrtu)', text, at + 1)
        code = self._hex4(text, at + 2)
        if code is None:
            return None
        if 0xD800 <= code <= 0xDBFF:
            if at + 6 == n:
                return None
            if text[at + 6] != "\\":
                return chr(code), 6
            if at + 7 == n:
                return None
            if text[at + 7] != "u":
                return chr(code), 6
            low = self._hex4(text, at + 8)
            if low is None:
                return None
            if 0xDC00 <= low <= 0xDFFF:
                return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), 12
        return chr(code), 6

    def _hex4(self, text: str, at: int) -> int | None:
        digits = text[at : at + 4]
        good = _HEX.match(digits).end()  # type: ignore[union-attr]
        if good < len(digits):
            raise self._unexpected("a hex digit of a \\u escape", text, at + good)
        return int(digits, 16) if len(digits) == 4 else None

    def _end_number(self, tail: str, end: int) -> None:
        """The open number's last piece is ``tail``, ending at absolute offset ``end``."""
        pieces = self._number
        token = "".join(pieces) + tail if pieces else tail
        self._number = []
        match = _NUMBER.fullmatch(token)
        if match is None:
            raise self._fail(
                f"expected a JSON number, got {_shorten(token)!r} ending at offset {end}"
            )
        try:
            number: Any = float(token) if match.group(1) or match.group(2) else int(token)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            raise self._fail(
                f"JSON number of {len(token)} characters ending at offset {end} is too long"
            ) from None
        self._place(number)
        self._after_value()

    def _unexpected(self, expected: str, text: str, pos: int) -> RemoteProtocolError:
        got = text[pos : pos + 1]
        return self._fail(f"expected {expected} at offset {self._base + pos}, got {got!r}")


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


Handler = Callable[[PartialJSON, str, int], int]


def _first_member(closer: str, then: int) -> Handler:
    """The state just after ``[`` or ``{``: ``closer`` (an empty container), or else the
    first member, which state ``then`` reads."""

    def first_member(self: PartialJSON, text: str, pos: int) -> int:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos < len(text):
            if text[pos] == closer:
                self._close_container()
                return pos + 1
            self._state = then
        return pos

    return first_member


def _one_char(char: str, expected: str, then: Callable[[PartialJSON], None]) -> Handler:
    """A state that wants ``char`` after any whitespace, and then does ``then``."""

    def one_char(self: PartialJSON, text: str, pos: int) -> int:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos == len(text):
            return pos
        if text[pos] != char:
            raise self._unexpected(expected, text, pos)
        then(self)
        return pos + 1

    return one_char


# The transition table: the handler that consumes each state's input, by state number.
_HANDLERS: list[Handler] = [
    PartialJSON._value,  # VALUE
    _first_member("]", VALUE),  # ARRAY_FIRST
    _first_member("}", KEY),  # OBJECT_FIRST
    _one_char('"', "a key (a string)", PartialJSON._begin_key),  # KEY
    _one_char(":", "':'", PartialJSON._expect_value),  # COLON
    PartialJSON._after_value_char,  # AFTER_VALUE
    PartialJSON._string,  # STRING
    PartialJSON._number_run,  # NUMBER
    PartialJSON._end,  # END
]
assert len(_HANDLERS) == END + 1  # one handler per state
