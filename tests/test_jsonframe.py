"""jsonframe: a repeating JSON document read without parsing, exactly as a parse reads it.

The oracle is the parser: whatever :meth:`StringFrame.text_in` returns for a document,
``loads`` of that document read by the same reader gives the same string; and every
document that is the frame around a plain string is read without the parser.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.jsonframe import StringFrame, learn_frame, plain_string
from libchatty.jsonload import JSONDecodeError, loads


def read_text(document: Any) -> str | None:
    """A reader: ``document["a"][0]["text"]`` when it is a string, else None."""
    try:
        text = document["a"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None
    return text if type(text) is str else None


def doc(text: Any, **extra: Any) -> bytes:
    document = {"id": "x-1", "a": [{"text": text, "n": 1}], **extra}
    return json.dumps(document, ensure_ascii=False).encode()


def parsed(document: bytes | str) -> str | None:
    try:
        return read_text(loads(document))
    except JSONDecodeError:
        return None


def test_learns_the_bytes_around_the_string() -> None:
    frame = learn_frame(doc("Hi"), "Hi", read_text)
    assert frame is not None
    assert (frame.prefix, frame.suffix) == (b'{"id": "x-1", "a": [{"text": "', b'", "n": 1}]}')
    assert repr(frame) == "StringFrame(30 + 12 bytes)"  # lengths only: ids stay out of logs


def test_reads_the_frame_around_any_plain_string() -> None:
    frame = learn_frame(doc("Hi"), "Hi", read_text)
    assert frame is not None
    assert frame.text_in(doc("Hello, wörld 🌍")) == "Hello, wörld 🌍"
    assert frame.text_in(doc("Hello").decode()) == "Hello"  # str documents too
    assert frame.text_in(doc(" ")) == " "


@pytest.mark.parametrize(
    "document",
    [
        doc(""),  # empty: nothing in the hole
        doc('say "hi"'),  # escaped quote
        doc("a\\b"),  # escaped backslash
        doc("two\nlines"),  # an escape
        json.dumps({"id": "x-1", "a": [{"text": "é", "n": 1}]}, ensure_ascii=True).encode(),
        doc("Hi", more=1),  # another field
        doc("Hi").replace(b'"n": 1', b'"n": 2'),  # a number changed
        b'{"id": "x-1", "a": [{"text": "\xff", "n": 1}]}',  # not UTF-8
        b'{"id": "x-1", "a": [{"text": "\x01", "n": 1}]}',  # a raw control character
        '{"id": "x-1", "a": [{"text": "\ud800", "n": 1}]}',  # a lone surrogate
        '{"id": "x-1", "a": [{"text": "a\u200db", "n": 1}]}',  # a format character: parsed
        b"",
    ],
)
def test_anything_else_is_parsed(document: bytes | str) -> None:
    frame = learn_frame(doc("Hi"), "Hi", read_text)
    assert frame is not None
    assert frame.text_in(document) is None


def test_the_text_is_looked_for_from_the_end_in_a_few_places() -> None:
    # '","' is found across tokens before it is found as the text.
    compact = b'{"id":"x","model":"m","a":[{"text":",","n":1}]}'
    frame = learn_frame(compact, ",", read_text)
    assert frame is not None and frame.prefix == compact[: compact.index(b'",",') + 1]
    # after it too: the closing quote, ', ' and the next key's opening quote
    spaced = doc(", ")
    frame = learn_frame(spaced, ", ", read_text)
    assert frame is not None and frame.text_in(doc("x")) == "x"
    # at most three places, each with a parse
    crowded = b'{"a": [{"text": "x"}], "b": ["x", "x", "x"]}'
    assert learn_frame(crowded, "x", read_text) is None
    assert learn_frame(crowded.replace(b'"x", "x", "x"', b'"x", "x"'), "x", read_text) is not None


def test_a_hole_the_reader_does_not_read_is_not_learned() -> None:
    # "Hi" is only found as the id (the text is escaped): the probe changes the id, and
    # the reader still says "Hi".
    document = b'{"id": "Hi", "a": [{"text": "H\\u0069"}]}'
    assert read_text(loads(document)) == "Hi"
    assert learn_frame(document, "Hi", read_text) is None
    # Duplicate keys: the parser keeps the last, so the first is not the string read.
    twice = b'{"a": [{"text": "Hi", "text": "H\\u0069"}]}'
    assert learn_frame(twice, "Hi", read_text) is None
    # found last as the id, then as the text: the second place is proven
    later = b'{"a": [{"text": "Hi"}], "id": "Hi"}'
    frame = learn_frame(later, "Hi", read_text)
    assert frame is not None and frame.suffix == b'"}], "id": "Hi"}'


@pytest.mark.parametrize("text", ["", "a\nb", 'q"', "b\\", "\x7f", "\u2028"])
def test_only_plain_strings_are_learned(text: str) -> None:
    assert not plain_string(text) or text == ""
    assert learn_frame(doc(text), text, read_text) is None


def test_not_found_or_unreadable_is_not_learned() -> None:
    assert learn_frame(doc("Hi"), "Yo", read_text) is None  # not in the document
    escaped = json.dumps({"a": [{"text": "é"}]}, ensure_ascii=True).encode()
    assert learn_frame(escaped, "é", read_text) is None  # written as \u00e9
    assert learn_frame(doc("Hi").decode(), "Hi", read_text) is not None  # str documents
    assert learn_frame("\ud800", "Hi", read_text) is None


def test_the_probe_decides() -> None:
    assert learn_frame(doc("Hi"), "Hi", lambda value: None) is None  # never confirmed
    broken = b'{"a": "Hi"'  # not JSON: the probe does not parse, whatever the reader says
    assert learn_frame(broken, "Hi", lambda value: "~Hi") is None
    assert learn_frame(b'"Hi"', "Hi", lambda value: value) is not None  # a bare string


# --- the oracle: the frame reads what the parser reads -----------------------------------
jsonish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(
    st.text(min_size=1, max_size=8).filter(plain_string),
    st.dictionaries(st.sampled_from(["id", "b", "z"]), jsonish, max_size=3),
    st.booleans(),
    st.lists(st.binary(max_size=12) | st.text(max_size=6).map(str.encode), max_size=6),
)
def test_the_frame_reads_what_the_parser_reads(
    text: str, extra: dict[str, Any], ascii_only: bool, holes: list[bytes]
) -> None:
    learned = json.dumps({**extra, "a": [{"text": text}]}, ensure_ascii=ascii_only).encode()
    frame = learn_frame(learned, text, read_text)
    quoted = b'"' + text.encode() + b'"'
    if frame is None:  # written escaped, or found first where the reader does not read
        assert (ascii_only and not text.isascii()) or learned.count(quoted) > 1
        return
    assert frame.text_in(learned) == text
    for hole in holes:
        document = frame.prefix + hole + frame.suffix
        try:
            plain = hole.decode()
        except UnicodeDecodeError:
            plain = ""
        # every plain string is read without the parser, and nothing else is read
        assert frame.text_in(document) == (plain if plain and plain_string(plain) else None)
        if plain and plain_string(plain):
            assert parsed(document) == plain


NOT_IN_DOC = {"id", "x-1", "a", "text", "n"}


@given(
    st.binary(max_size=60),
    st.text(min_size=1, max_size=4).filter(lambda t: plain_string(t) and t not in NOT_IN_DOC),
)
def test_any_bytes_around_a_learned_frame(document: bytes, text: str) -> None:
    frame = learn_frame(doc(text), text, read_text)
    assert frame is not None
    for candidate in (document, frame.prefix + document, document + frame.suffix):
        got = frame.text_in(candidate)
        assert got is None or got == parsed(candidate)


def test_a_frame_is_small() -> None:
    frame = StringFrame(b"{", b"}")
    assert not hasattr(frame, "__dict__")


def test_a_frame_has_a_closing_quote() -> None:
    # text_in cuts the suffix off from the end: there is always one.
    message = r"^a frame's suffix starts with the string's closing quote$"
    with pytest.raises(ValueError, match=message):
        StringFrame(b'{"a":"', b"")
    frame = StringFrame(b'{"a":"', b'"')
    assert frame.text_in(b'{"a":"x"}') is None and frame.text_in(b'{"a":"x"') == "x"
    assert frame.text_in(b'{"a":""') is None and frame.text_in(b'{"a":"') is None
