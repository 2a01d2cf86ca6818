"""Fuzz target: libchatty.partialjson.PartialJSON.

Input layout: byte 0 picks the bounds (tiny ones exercise max_size and max_depth), the
rest is the text (UTF-8; invalid bytes become U+FFFD, so every input is some text).
Asserts that only the documented RemoteProtocolError (LimitExceeded is one) comes out,
never a raw KeyError/IndexError/ValueError/RecursionError; that whole, one character at
a time and an input-derived split agree exactly (final value, or error type and message)
whenever the text fits max_size (only the size check depends on where the pieces end);
that with the default bounds the result equals strict ``json.loads`` (no NaN/Infinity)
when that accepts the text and is an error when it does not; that the values shown after
each piece only grow; and that a failed parser refuses more input with
LocalProtocolError. Run it with fuzz/run.py (see fuzz/README.md).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from libchatty.exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError
from libchatty.partialjson import DEFAULT_MAX_DEPTH, DEFAULT_MAX_SIZE, PartialJSON

# (max_size, max_depth)
BOUNDS = (
    (DEFAULT_MAX_SIZE, DEFAULT_MAX_DEPTH),
    (DEFAULT_MAX_SIZE, DEFAULT_MAX_DEPTH),
    (8, DEFAULT_MAX_DEPTH),
    (64, 2),
    (DEFAULT_MAX_SIZE, 1),
    (DEFAULT_MAX_SIZE, 4),
)
NOTHING = object()


def reject_constant(name: str) -> Any:
    raise ValueError(name)


def no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) < len(pairs):
        raise KeyError("repeated key")
    return dict(pairs)


def reference(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return False, None


def too_deep(text: str, max_depth: int) -> bool:
    """Whether the text's longest valid JSON prefix opens more than ``max_depth``
    containers: find where the bracket depth (outside strings) first passes the limit,
    and ask json.loads whether the text up to that opener, closed, is valid JSON (an
    opener is only taken where a value may stand, so an invalid prefix is a syntax
    error first)."""
    stack: list[str] = []
    in_string = escaped = False
    for pos, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append("]" if char == "[" else "}")
            if len(stack) > max_depth:
                return reference(text[: pos + 1] + "".join(reversed(stack)))[0]
        elif char in "]}" and stack:
            stack.pop()
    return False


def values_only_grow(text: str) -> bool:
    """Whether the growth check applies: valid JSON without a repeated key (a repeated
    key replaces the earlier value, as in json.loads: the one documented exception)."""
    try:
        json.loads(text, parse_constant=reject_constant, object_pairs_hook=no_repeated_keys)
    except (ValueError, RecursionError, KeyError):
        return False
    return True


def chunkings(text: str) -> list[list[str]]:
    whole = [text]
    one_by_one = list(text)
    sizes = [1 + ord(c) % 11 for c in text[:32]] or [1]
    derived, i, k = [], 0, 0
    while i < len(text):
        n = sizes[k % len(sizes)]
        derived.append(text[i : i + n])
        i, k = i + n, k + 1
    return [whole, one_by_one, derived]


def grows(old: Any, new: Any) -> bool:
    if old is NOTHING:
        return True
    if type(old) is not type(new):
        return False
    if isinstance(old, str):
        return bool(new.startswith(old))
    if isinstance(old, list):
        return len(new) >= len(old) and all(grows(o, n) for o, n in zip(old, new, strict=False))
    if isinstance(old, dict):
        return list(new)[: len(old)] == list(old) and all(grows(old[k], new[k]) for k in old)
    return bool(old == new)


def run(pieces: list[str], max_size: int, max_depth: int, check_growth: bool) -> tuple[Any, ...]:
    parser = PartialJSON(max_size=max_size, max_depth=max_depth)
    before: Any = NOTHING
    try:
        for piece in pieces:
            parser.feed(piece)
            if check_growth and parser.started:
                now = copy.deepcopy(parser.value)
                assert grows(before, now), (before, now)
                before = now
        value = parser.close()
    except RemoteProtocolError as exc:
        try:
            parser.feed("1")
        except LocalProtocolError:
            pass
        else:
            raise AssertionError("a failed parser accepted more input") from None
        return type(exc), str(exc)
    assert parser.complete
    return None, value


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    max_size, max_depth = BOUNDS[data[0] % len(BOUNDS)]
    text = data[1:].decode("utf-8", "replace")
    growth = values_only_grow(text)
    results = [
        run(pieces, max_size, max_depth, check_growth=index == 2 and growth)
        for index, pieces in enumerate(chunkings(text))
    ]
    if len(text) <= max_size:
        assert all(result == results[0] for result in results), results
    if (max_size, max_depth) == (DEFAULT_MAX_SIZE, DEFAULT_MAX_DEPTH):
        ok, expected = reference(text)
        error, value = results[0]
        if too_deep(text, DEFAULT_MAX_DEPTH):
            message = f"JSON nested deeper than max_depth={DEFAULT_MAX_DEPTH}"
            assert results[0] == (LimitExceeded, message), (text, results[0])
            return
        assert error is not LimitExceeded, results[0]
        if ok:
            assert error is None and value == expected, (text, results[0], expected)
        else:
            assert error is RemoteProtocolError, (text, results[0])


if __name__ == "__main__":
    import sys

    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
