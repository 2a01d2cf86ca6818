"""Fuzz target: libchatty.jsonframe (a repeating JSON document read without a parse).

The parser is the oracle. Input layout: byte 0 picks a learned document (a compact OpenAI
chunk, the same written by ``json.dumps`` with spaces, a nested document whose string is
not the first one); the rest is used three ways: as the string in the frame's hole, as a
whole document, and as a document to learn a frame from (around its first quoted string).
Asserts that ``text_in`` never raises, returns a string only when parsing the document
and reading it gives that same string, and reads every plain, valid UTF-8 string in the
hole without the parser; that ``learn_frame`` never raises and only returns a frame that
reads its own document as the parser does. Run it with fuzz/run.py (see fuzz/README.md).
"""

from __future__ import annotations

import json
from typing import Any

from libchatty.jsonframe import learn_frame, plain_string
from libchatty.jsonload import JSONDecodeError, loads


def content(document: Any) -> str | None:
    """The reader: choices[0].delta.content, when a string."""
    try:
        text = document["choices"][0]["delta"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return text if type(text) is str else None


def chunk(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "created": 1700000000,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }


LEARNED = (
    json.dumps(chunk("Hello"), separators=(",", ":")).encode(),
    json.dumps(chunk("Hello")).encode(),
    json.dumps({"id": "Hello", **chunk("Hello")}).encode(),  # found first as the id
)


def parsed(document: bytes) -> str | None:
    try:
        return content(loads(document))
    except JSONDecodeError:
        return None


def check(frame: Any, document: bytes) -> None:
    got = frame.text_in(document)
    assert got is None or got == parsed(document), (document, got)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    learned = LEARNED[data[0] % len(LEARNED)]
    rest = data[1:]
    frame = learn_frame(learned, "Hello", content)
    if frame is not None:
        assert frame.text_in(learned) == "Hello"
        hole = frame.prefix + rest + frame.suffix
        check(frame, hole)
        check(frame, rest)
        try:
            text = rest.decode()
        except UnicodeDecodeError:
            text = ""
        if text and plain_string(text):
            assert frame.text_in(hole) == text
    # A frame learned from any document around its first quoted string.
    start = rest.find(b'"')
    end = rest.find(b'"', start + 1)
    if 0 <= start < end:
        text = rest[start + 1 : end].decode("utf-8", "replace")
        other = learn_frame(rest, text, content)
        if other is not None:
            assert other.text_in(rest) == text == parsed(rest)


if __name__ == "__main__":
    import sys

    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
