"""A stream's repeating JSON document: the same bytes every time but for one string.

Every token of an OpenAI-like stream is one JSON chunk whose bytes repeat exactly --
the same id, timestamp, model and field order -- except for the token's text:

    {"id":"chatcmpl-9","object":"chat.completion.chunk",...,"delta":{"content":"Hello"},...}

A :class:`StringFrame` is such a document with that string cut out: the bytes before it
(up to and including its opening quote) and after it (from its closing quote).
:meth:`StringFrame.text_in` gives the string of a document that is the frame with a
*plain* string in the hole -- no quote, backslash or control character, valid UTF-8 --
without parsing it. That is exact, not a guess: a JSON lexer reads the prefix into the
same state whatever follows, a plain string cannot leave a string literal, and the
suffix then reads as it did when the frame was learned, so the document parses to the
learned value with only that string changed. Anything else (an escape, another field
changed, a different length of number) is None, and the caller parses as usual.

:func:`learn_frame` finds the hole and proves it with a second parse: the learned
document with another string in the hole must give exactly that string back through the
caller's own reader. A frame is only as good as that reader: it answers the question the
reader asks of a document, so a caller uses it only where it would have asked that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .jsonload import JSONDecodeError, loads

__all__ = ["StringFrame", "learn_frame", "plain_string"]

# How many places learn_frame tries the quoted text at, each with a parse.
_TRIES = 3

# What may not be in a plain string's bytes (controls are checked on the text: a
# printable text has none).
_QUOTE = 34
_BACKSLASH = 92


class StringFrame:
    """The bytes around one string of a JSON document (see the module docstring)."""

    __slots__ = ("_cut", "_start", "prefix", "suffix")

    def __init__(self, prefix: bytes, suffix: bytes) -> None:
        if not suffix:
            raise ValueError("a frame's suffix starts with the string's closing quote")
        self.prefix = prefix  # ends with the string's opening quote
        self.suffix = suffix  # starts with its closing quote
        # Where they end and begin, for text_in (once per token): slices and == cost
        # less than startswith and endswith.
        self._start = len(prefix)
        self._cut = -len(suffix)

    def __repr__(self) -> str:
        return f"StringFrame({len(self.prefix)} + {len(self.suffix)} bytes)"

    def text_in(self, document: bytes | str) -> str | None:
        """The string in the hole when ``document`` is this frame around a plain,
        non-empty string; None otherwise (then parse ``document``)."""
        if not isinstance(document, bytes):
            try:
                document = document.encode()
            except UnicodeEncodeError:
                return None  # a lone surrogate: no JSON parser takes it either
        start, cut = self._start, self._cut
        raw = document[start:cut]  # empty when too short to hold the frame around a string
        if (
            raw
            and document[:start] == self.prefix
            and document[cut:] == self.suffix
            and _QUOTE not in raw
            and _BACKSLASH not in raw
        ):
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                return None
            # Printable: no control character (JSON forbids them raw), and a few
            # characters more that a parser would take (format characters, spaces other
            # than " "): those documents are simply parsed.
            if text.isprintable():
                return text
        return None


def plain_string(text: str) -> bool:
    """Whether ``text`` is written in JSON as it is, between two quotes."""
    return text.isprintable() and '"' not in text and "\\" not in text


def learn_frame(
    document: bytes | str, text: str, read: Callable[[Any], str | None]
) -> StringFrame | None:
    """The frame of ``document`` around ``text`` -- what ``read`` (the caller's reader of a
    parsed document) gave for it -- proven by reading the document with another string
    in that place; None when ``text`` is not plain, not found, or the proof fails."""
    if not text or not plain_string(text):
        return None
    if not isinstance(document, bytes):
        try:
            document = document.encode()
        except UnicodeEncodeError:
            return None
    raw = text.encode()
    quoted = b'"' + raw + b'"'
    probe = ("~" + text).encode()  # plain as well, and not ``text``
    # From the end (a chunk's text comes after its id and model), at most _TRIES places:
    # the quoted text may also be found across tokens -- '","' in '"id":"x","model"'.
    at = document.rfind(quoted)
    for _ in range(_TRIES):
        if at < 0:
            return None
        frame = StringFrame(document[: at + 1], document[at + 1 + len(raw) :])
        try:
            if read(loads(frame.prefix + probe + frame.suffix)) == "~" + text:
                return frame
        except JSONDecodeError:
            pass
        at = document.rfind(quoted, 0, at + len(quoted) - 1)  # the one before (overlaps too)
    return None
