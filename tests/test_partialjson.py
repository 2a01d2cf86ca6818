"""PartialJSON: any split gives the same final value as json.loads, values only grow, every
complete prefix agrees with json.loads, malformed text is a typed error, bounds are exact,
and the work done is linear in the text (counted, not timed)."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from libchatty import partialjson
from libchatty.exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError
from libchatty.jsonbuilder import ARRAY_FIRST, COLON, KEY, OBJECT_FIRST
from libchatty.partialjson import PartialJSON

NOTHING = object()  # a snapshot taken before the top-level value began


def reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def strict_loads(text: str) -> Any:
    """The oracle: json.loads without its NaN/Infinity extension."""
    return json.loads(text, parse_constant=reject_constant)


def loads_or_none(text: str) -> tuple[bool, Any]:
    try:
        return True, strict_loads(text)
    except (ValueError, RecursionError):
        return False, None


def split_at(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in pairwise(bounds) if b > a]


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (True is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def grows(old: Any, new: Any) -> bool:
    """``new`` is a prefix-extension of ``old``: strings extend, lists and dicts gain
    members at the end, members grow recursively, nothing changes type or disappears."""
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
    return same(old, new)


def feed_all(pieces: list[str], **limits: int) -> tuple[PartialJSON, list[Any], list[bool]]:
    parser = PartialJSON(**limits)
    snapshots: list[Any] = []
    changed: list[bool] = []
    for piece in pieces:
        before = copy.deepcopy(parser.value) if parser.started else NOTHING
        changed.append(parser.feed(piece))
        after = copy.deepcopy(parser.value) if parser.started else NOTHING
        assert changed[-1] == (not same(before, after)), (piece, before, after)
        snapshots.append(after)
    return parser, snapshots, changed


# -- documents: text written here (not by the code under test), json.loads the oracle ------

WS = st.sampled_from(["", "", " ", "\n", "\t", "\r\n  ", "  "])
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["-0", "0", "-0.0", "1e5", "1E5", "1.5E-3", "2e+10", "0e0", "-1.25e-300"]),
    st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,12})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
)
# Surrogates included: raw ones with ensure_ascii=False, escaped ones with True.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
ESCAPE_PARTS = st.sampled_from(
    [
        "a",
        "é",
        "\\n",
        '\\"',
        "\\\\",
        "\\/",
        "\\b\\f\\r\\t",
        "\\u00e9",
        "\\u00E9",
        "\\u0000",
        "\\ud83d\\ude00",
        "\\uD83D\\uDE00",
        "\\ud800",
        "\\udc00",
        "\\ud83d\\u0041",
        "\\ud83d\\ud83d\\ude00",
        "\\ud83d\\n",
        "😀",
    ]
)
STRINGS = st.one_of(
    st.tuples(ANY_TEXT, st.booleans()).map(lambda t: json.dumps(t[0], ensure_ascii=t[1])),
    st.lists(ESCAPE_PARTS, max_size=6).map(lambda parts: '"' + "".join(parts) + '"'),
)
SCALARS = st.one_of(st.sampled_from(["true", "false", "null"]), NUMBERS, STRINGS)


def array(members: list[tuple[str, str, str]]) -> str:
    return "[" + ",".join(a + m + b for a, m, b in members) + "]" if members else "[]"


def obj(members: list[tuple[str, str, str, str, str, str]]) -> str:
    return "{" + ",".join(a + k + b + ":" + c + v + d for a, k, b, c, v, d in members) + "}"


def documents() -> st.SearchStrategy[str]:
    values = st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(st.tuples(WS, children, WS), max_size=5).map(array),
            st.lists(
                st.tuples(WS, STRINGS, WS, WS, children, WS),
                max_size=5,
                unique_by=lambda member: strict_loads(member[1]),  # repeated keys replace
            ).map(obj),
        ),
        max_leaves=20,
    )
    return st.tuples(WS, values, WS).map("".join)


def check_valid(doc: str, pieces: list[str]) -> None:
    expected = strict_loads(doc)
    parser, snapshots, _ = feed_all(pieces)
    for old, new in pairwise(snapshots):
        assert grows(old, new), (old, new)
    assert same(parser.close(), expected)
    assert same(parser.value, expected)
    assert parser.complete and parser.started


@given(documents(), st.lists(st.integers(min_value=0), max_size=12))
def test_any_split_gives_json_loads_and_values_only_grow(doc: str, cuts: list[int]) -> None:
    check_valid(doc, split_at(doc, cuts))


@given(documents())
def test_whole_and_one_character_at_a_time(doc: str) -> None:
    check_valid(doc, [doc])
    check_valid(doc, list(doc))


@given(documents())
def test_every_prefix_agrees_with_json_loads(doc: str) -> None:
    """Fed whole, each prefix: .complete exactly when it is a finished value; close()
    gives json.loads(prefix) when that accepts it and raises RemoteProtocolError when not
    (a prefix of a valid document is never an error before close)."""
    assume(len(doc) <= 300)
    for k in range(len(doc) + 1):
        prefix = doc[:k]
        ok, expected = loads_or_none(prefix)
        parser = PartialJSON()
        parser.feed(prefix)
        assert parser.complete == (ok and not prefix[-1].isdigit()), prefix
        if ok:
            assert same(parser.close(), expected), prefix
        else:
            with pytest.raises(RemoteProtocolError) as caught:
                parser.close()
            assert type(caught.value) is RemoteProtocolError
            message = str(caught.value)
            assert message.startswith("incomplete JSON: expected "), message
            assert message.endswith(f" at offset {k} (end of text)"), message


# -- the handlers made by factories ---------------------------------------------------------
# Four states' handlers are made by _first_member and _one_char, once, when partialjson is
# imported. The tests that take the ``table`` fixture run twice: with that table, and with
# those four made again now from the same arguments (read from each handler's closure), so
# the factories' code is reached as it is at test time (mutation testing changes it after
# the import).

FACTORIES: dict[str, Callable[..., Any]] = {
    "first_member": partialjson._first_member,
    "one_char": partialjson._one_char,
}


def made_now(handler: Any) -> Any:
    factory = FACTORIES.get(handler.__name__)
    if factory is None:
        return handler
    arguments = [cell.cell_contents for cell in handler.__closure__]
    return factory(**dict(zip(handler.__code__.co_freevars, arguments, strict=True)))


@pytest.fixture(params=["made at import", "made now"])
def table(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "made now":
        at_import = list(partialjson._HANDLERS)
        now = [made_now(handler) for handler in at_import]
        remade = [s for s, (a, b) in enumerate(zip(at_import, now, strict=True)) if a is not b]
        assert remade == [ARRAY_FIRST, OBJECT_FIRST, KEY, COLON]
        monkeypatch.setattr(partialjson, "_HANDLERS", now)


# -- what the partial value shows: the documented semantics, exactly --------------------

SHOWN: list[tuple[str, Any, bool]] = [
    ("", None, False),
    ("  ", None, False),
    ('"', "", False),
    ('"ab', "ab", False),
    ('"a\\', "a", False),
    ('"a\\u00', "a", False),
    ('"a\\u00e9', "aé", False),
    ('"a\\ud83d', "a", False),  # maybe half of a pair: held
    ('"a\\ud83d\\', "a", False),
    ('"a\\ud83d\\u', "a", False),
    ('"a\\ud83d\\ude0', "a", False),
    ('"a\\ud83d\\ude00', "a😀", False),
    ('"a\\ud83dx', "a\ud83dx", False),  # lone, as json.loads keeps it
    ('"a\\ud83d\\n', "a\ud83d\n", False),
    ('"a\\ud83d\\u0041', "a\ud83dA", False),
    ('"ab"', "ab", True),
    ("1", None, False),
    ("-", None, False),
    ("12 ", 12, True),
    ("t", None, False),
    ("tru", None, False),
    ("true", True, True),
    ("nul", None, False),
    ("null", None, True),
    ("[", [], False),
    ("[ ", [], False),  # whitespace up to the end of the fragment after an opener
    ("[1", [], False),
    ("[1,", [1], False),
    ("[1, 2.5", [1], False),
    ("[1, 2.5]", [1, 2.5], True),
    ("[tr", [], False),
    ("[true", [True], False),
    ('["', [""], False),
    ('["x', ["x"], False),
    ("[[", [[]], False),
    ("[{", [{}], False),
    ("{", {}, False),
    ("{ ", {}, False),
    ('{"a', {}, False),
    ('{"a"', {}, False),
    ('{"a" ', {}, False),  # ... before a colon
    ('{"a":', {}, False),
    ('{"a": ', {}, False),
    ('{"a": "', {"a": ""}, False),
    ('{"a": "x', {"a": "x"}, False),
    ('{"a": 1', {}, False),
    ('{"a": 1,', {"a": 1}, False),
    ('{"a": 1, ', {"a": 1}, False),  # ... before a key
    ('{"a": 1}', {"a": 1}, True),
    ('{"a": f', {}, False),
    ('{"a": false', {"a": False}, False),
    ('{"a": [', {"a": []}, False),
    ('{"a": {"b": "c', {"a": {"b": "c"}}, False),
    ('{"a": {"b": "c"}, "d": [null, "e', {"a": {"b": "c"}, "d": [None, "e"]}, False),
    # Empty containers inside others, then what follows each closer.
    ("[[], [ ], 1]", [[], [], 1], True),
    ('{"a": {}, "b": { }, "c": 2}', {"a": {}, "b": {}, "c": 2}, True),
    ('{ "ab" : 1 , "cd" :"e"}', {"ab": 1, "cd": "e"}, True),
]


@pytest.mark.parametrize(("text", "shown", "complete"), SHOWN)
@pytest.mark.usefixtures("table")
def test_what_a_prefix_shows(text: str, shown: Any, complete: bool) -> None:
    for pieces in ([text], list(text)):
        parser = PartialJSON()
        for piece in pieces:
            parser.feed(piece)
        assert same(parser.value, shown), pieces
        assert parser.complete is complete
        assert parser.started is (shown is not None or text.strip() in ("null",))


def test_feed_says_whether_the_value_changed() -> None:
    parser = PartialJSON()
    assert [parser.feed(p) for p in ["", " ", "{", '"a', '": ', "1", "2", ",", '"b":"', "x"]] == [
        False,  # nothing
        False,  # whitespace
        True,  # {}
        False,  # a key being read
        False,  # its colon
        False,  # a number begins: not shown yet
        False,
        True,  # the number ends: {"a": 12}
        True,  # "b" begins: {"a": 12, "b": ""}
        True,  # "x"
    ]
    assert parser.feed('"') is False and parser.feed("}") is False
    assert parser.complete and parser.value == {"a": 12, "b": "x"}


def test_value_is_the_live_object_and_repeated_keys_replace() -> None:
    parser = PartialJSON()
    parser.feed('{"a": [1, ')
    live = parser.value
    parser.feed('2], "a": "late"}')
    assert live is parser.value and live == {"a": "late"}
    assert parser.close() == json.loads('{"a": [1, 2], "a": "late"}')


def test_a_long_string_fed_a_character_at_a_time_is_held_in_few_pieces() -> None:
    parser = PartialJSON()
    parser.feed('["')
    for _ in range(100_000):
        parser.feed("é")
    assert len(parser._parts) < 100_000 // partialjson._MERGE_EVERY + partialjson._MERGE_EVERY
    parser.feed('"]')
    assert parser.close() == ["é" * 100_000]


# -- errors ------------------------------------------------------------------------------

MALFORMED = [
    ('{"a" 1}', "expected ':' at offset 5, got '1'"),
    ("[1,]", "expected a value at offset 3, got ']'"),
    ("01", "expected a JSON number, got '01' ending at offset 2"),
    ("[01]", "expected a JSON number, got '01' ending at offset 3"),
    ("1.]", "expected a JSON number, got '1.' ending at offset 2"),
    ("[-]", "expected a JSON number, got '-' ending at offset 2"),
    ("[1e ", "expected a JSON number, got '1e' ending at offset 3"),
    ("1.e5", "expected a JSON number, got '1.e5' ending at offset 4"),
    ("1.", "incomplete JSON: expected the rest of a number at offset 2 (end of text)"),
    ("-", "incomplete JSON: expected the rest of a number at offset 1 (end of text)"),
    ("1e+", "incomplete JSON: expected the rest of a number at offset 3 (end of text)"),
    ("[-", "incomplete JSON: expected the rest of a number at offset 2 (end of text)"),
    ("[1", "incomplete JSON: expected ',' or a closing bracket at offset 2 (end of text)"),
    ("+1", "expected a value at offset 0, got '+'"),
    (
        '"\x01"',
        "expected a string character (control characters must be escaped) at offset 1, got '\\x01'",
    ),
    ('"\\x"', "expected an escape (one of \"\\/bfnrtu) at offset 2, got 'x'"),
    ('"\\u12g4"', "expected a hex digit of a \\u escape at offset 5, got 'g'"),
    ('"\\ud83d\\uzzzz"', "expected a hex digit of a \\u escape at offset 9, got 'z'"),
    ("}", "expected a value at offset 0, got '}'"),
    ("[1 2]", "expected ',' or ']' at offset 3, got '2'"),
    ('{"a": 1]', "expected ',' or '}' at offset 7, got ']'"),
    ("[1}", "expected ',' or ']' at offset 2, got '}'"),
    ("{1: 2}", "expected a key (a string) at offset 1, got '1'"),
    ('{"a": 1,}', "expected a key (a string) at offset 8, got '}'"),
    ('{"a": 1, 2}', "expected a key (a string) at offset 9, got '2'"),
    ("{ 1}", "expected a key (a string) at offset 2, got '1'"),
    ("[ }", "expected a value at offset 2, got '}'"),
    ("nul1", "expected 'null' at offset 3, got '1'"),
    ("trUe", "expected 'true' at offset 2, got 'U'"),
    ("NaN", "expected a value at offset 0, got 'N'"),
    ("-Infinity", "expected a JSON number, got '-' ending at offset 1"),
    ("[--1]", "expected a JSON number, got '--1' ending at offset 4"),
    ('{"a": 1} x', "expected the end of the text (one value only) at offset 9, got 'x'"),
    ("1 2", "expected the end of the text (one value only) at offset 2, got '2'"),
    ("\ufeff1", "expected a value at offset 0, got '\\ufeff'"),
    ("", "incomplete JSON: expected a value at offset 0 (end of text)"),
    ("[", "incomplete JSON: expected a value or ']' at offset 1 (end of text)"),
    ('{"a": "b', "incomplete JSON: expected the rest of a string at offset 8 (end of text)"),
    ('"\\u00', "incomplete JSON: expected the rest of a string at offset 5 (end of text)"),
    ("tru", "incomplete JSON: expected a value at offset 3 (end of text)"),
    ('{"a"', "incomplete JSON: expected ':' at offset 4 (end of text)"),
    ("1" * 5000, "JSON number of 5000 characters ending at offset 5000 is too long"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
@pytest.mark.usefixtures("table")
def test_malformed_text_is_a_typed_error_with_the_offset(text: str, message: str) -> None:
    assert loads_or_none(text) == (False, None)
    for pieces in ([text], list(text)):
        parser = PartialJSON()
        with pytest.raises(RemoteProtocolError) as caught:
            for piece in pieces:
                parser.feed(piece)
            parser.close()
        assert type(caught.value) is RemoteProtocolError
        assert str(caught.value) == message
        # A failed parser refuses more input, and says why.
        with pytest.raises(LocalProtocolError, match=re.escape(message)):
            parser.feed("1")
        with pytest.raises(LocalProtocolError):
            parser.close()


def mutations(doc: str) -> st.SearchStrategy[str]:
    alphabet = st.sampled_from(list('{}[]":,\\ 0123456789.eE+-tfnrul"\x00\x1fxé\ud800'))
    pos = st.integers(min_value=0, max_value=max(len(doc) - 1, 0))
    return st.one_of(
        st.tuples(pos).map(lambda t: doc[: t[0]] + doc[t[0] + 1 :]),
        st.tuples(pos, alphabet).map(lambda t: doc[: t[0]] + t[1] + doc[t[0] :]),
        st.tuples(pos, alphabet).map(lambda t: doc[: t[0]] + t[1] + doc[t[0] + 1 :]),
        st.tuples(pos).map(lambda t: doc[: t[0]]),
    )


@given(st.data(), documents(), st.lists(st.integers(min_value=0), max_size=8))
def test_mutated_documents_agree_with_json_loads(
    data: st.DataObject, doc: str, cuts: list[int]
) -> None:
    """Any text at all: the same value as json.loads when it accepts it, otherwise a
    RemoteProtocolError (never a LimitExceeded with the default bounds, never another
    exception), from feed or at the latest from close."""
    text = data.draw(mutations(doc))
    ok, expected = loads_or_none(text)
    parser = PartialJSON()
    try:
        for piece in split_at(text, cuts):
            parser.feed(piece)
        got = parser.close()
    except RemoteProtocolError as exc:
        assert type(exc) is RemoteProtocolError
        assert not ok, (text, expected)
    else:
        assert ok, text
        assert same(got, expected)


# -- bounds: at the limit and one past ----------------------------------------------------


def test_max_size_at_the_limit_and_one_past() -> None:
    doc = '{"a": [1, 2, "xyz"]}'
    parser = PartialJSON(max_size=len(doc))
    for char in doc:
        parser.feed(char)
    assert parser.close() == {"a": [1, 2, "xyz"]}

    parser = PartialJSON(max_size=len(doc))
    parser.feed(doc[:-1])
    with pytest.raises(LimitExceeded) as caught:
        parser.feed("} ")
    assert str(caught.value) == f"more than max_size={len(doc)} characters of JSON"
    assert parser.value == {"a": [1, 2, "xyz"]}  # nothing of that fragment was parsed
    with pytest.raises(LocalProtocolError):
        parser.feed("}")


def test_max_depth_at_the_limit_and_one_past() -> None:
    for depth in (1, 3, partialjson.DEFAULT_MAX_DEPTH):
        for opener, closer in (("[", "]"), ('{"k":', "}")):
            at_limit = opener * (depth - 1) + opener[0] + closer * depth
            parser = PartialJSON(max_depth=depth)
            parser.feed(at_limit)
            assert parser.close() == strict_loads(at_limit)

            parser = PartialJSON(max_depth=depth)
            parser.feed(opener * depth)
            with pytest.raises(LimitExceeded) as caught:
                parser.feed(opener)
            assert str(caught.value) == f"JSON nested deeper than max_depth={depth}"
            with pytest.raises(LocalProtocolError):
                parser.feed("]")


def test_bounds_must_be_positive() -> None:
    message = "max_size and max_depth must be at least 1"
    for bounds in ({"max_size": 0}, {"max_depth": 0}, {"max_size": -1, "max_depth": 5}):
        with pytest.raises(ValueError) as caught:
            PartialJSON(**bounds)
        assert str(caught.value) == message
    parser = PartialJSON(max_size=1, max_depth=1)  # the smallest bounds are usable
    parser.feed("7")
    assert parser.close() == 7
    assert (parser.max_size, parser.max_depth) == (1, 1)


def test_feed_after_close_is_the_callers_error() -> None:
    parser = PartialJSON()
    parser.feed("[]")
    assert parser.close() == []
    assert parser.close() == []  # idempotent
    with pytest.raises(LocalProtocolError) as caught:
        parser.feed(" ")
    assert str(caught.value) == "PartialJSON.feed after close()"


# -- linear work: counted, never timed ----------------------------------------------------


class CountingPattern:
    """Stands in for a compiled pattern and adds up how many characters it scanned."""

    def __init__(self, pattern: re.Pattern[str], tally: list[int]) -> None:
        self.pattern = pattern
        self.tally = tally

    def match(self, text: str, pos: int = 0, endpos: int = 1 << 62) -> re.Match[str] | None:
        found = self.pattern.match(text, pos, endpos)
        self.tally[0] += (found.end() if found else pos) - pos + 1  # what it consumed + 1 look
        return found


PATTERNS = {
    name: getattr(partialjson, name) for name in ("_WS", "_STRING_RUN", "_NUMBER_RUN", "_HEX")
}
HANDLERS = list(partialjson._HANDLERS)


def counted_work(monkeypatch: pytest.MonkeyPatch, pieces: list[str]) -> tuple[int, int, Any]:
    """(characters scanned by the regexes, handler steps) to parse ``pieces``."""
    tally = [0]
    for name, pattern in PATTERNS.items():
        monkeypatch.setattr(partialjson, name, CountingPattern(pattern, tally))
    steps = [0]

    def counting(handler: Any) -> Any:
        def step(parser: PartialJSON, text: str, pos: int) -> int:
            steps[0] += 1
            end: int = handler(parser, text, pos)
            assert end >= pos  # never backwards: nothing consumed is scanned again
            return end

        return step

    monkeypatch.setattr(partialjson, "_HANDLERS", [counting(h) for h in HANDLERS])
    parser = PartialJSON()
    for piece in pieces:
        parser.feed(piece)
        assert parser.value is not NOTHING  # read after every delta, as a UI does
    return tally[0], steps[0], parser.close()


def tool_arguments(records: int) -> str:
    return json.dumps(
        {
            "rows": [
                {"id": i, "name": f"name {i}", "score": i * 0.5, "ok": i % 2 == 0, "tags": ["a"]}
                for i in range(records)
            ]
        }
    )


@pytest.mark.parametrize("piece", [1, 8, 1000])
def test_work_is_linear_in_the_text(monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    counts = []
    for records in (100, 1000):
        doc = tool_arguments(records)
        pieces = [doc[i : i + piece] for i in range(0, len(doc), piece)]
        scanned, steps, value = counted_work(monkeypatch, pieces)
        assert value == json.loads(doc)
        # Each character is scanned about once (whitespace runs and look-ahead aside):
        # no re-scan of what was parsed, however small the pieces.
        assert scanned <= 2 * len(doc) + 12 * len(pieces), (scanned, len(doc))
        assert steps <= len(doc) + len(pieces), (steps, len(doc))
        counts.append((scanned / len(doc), steps / len(doc)))
    # Ten times the text, the same work per character (up to the record-numbering digits).
    assert counts[1][0] <= counts[0][0] * 1.1 and counts[1][1] <= counts[0][1] * 1.1


def test_a_long_string_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    body = "x" * 20_000
    doc = '{"s": "' + body + '"}'
    scanned, _, value = counted_work(monkeypatch, [doc[i : i + 8] for i in range(0, len(doc), 8)])
    assert value == {"s": body}
    assert scanned <= len(doc) + 2 * (len(doc) // 8 + 1)


# -- exact edges the tests above do not pin (found by mutation testing) -------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The last high and the last low surrogate: the pair's edges are inclusive.
        ('"\\udbff\\udfff"', "\U0010ffff"),
        ('"\\ud800\\udc00"', "\U00010000"),
        ('"\\udbff\\udc00"', "\U0010fc00"),
        ('"\\ud800\\udfff"', "\U000103ff"),
        # Just outside the ranges: two lone surrogates, or a low one kept alone.
        ('"\\udbff\\ue000"', "\udbff\ue000"),
        ('"\\udbff\\udbff"', "\udbff\udbff"),
        ('"\\udc00\\udc00"', "\udc00\udc00"),
        ('"\\ud7ff\\udc00"', "\ud7ff\udc00"),
        ('"\\udbffx"', "\udbffx"),
        ('"\\udbff\\n"', "\udbff\n"),
    ],
)
def test_surrogate_pair_edges_agree_with_json_loads(text: str, expected: str) -> None:
    assert json.loads(text) == expected
    for pieces in ([text], list(text)):
        parser = PartialJSON()
        for piece in pieces:
            parser.feed(piece)
        assert parser.close() == expected


def test_a_limit_failure_is_remembered_with_its_message() -> None:
    parser = PartialJSON(max_size=3)
    with pytest.raises(LimitExceeded):
        parser.feed("[1,2]")
    remembered = "PartialJSON failed earlier: more than max_size=3 characters of JSON"
    with pytest.raises(LocalProtocolError) as caught:
        parser.feed("1")
    assert str(caught.value) == remembered
    with pytest.raises(LocalProtocolError) as caught:
        parser.close()
    assert str(caught.value) == remembered


def test_a_bad_number_is_quoted_whole_up_to_40_characters_then_cut() -> None:
    forty = "0" + "1" * 39  # a leading zero: not a JSON number
    parser = PartialJSON()
    with pytest.raises(RemoteProtocolError) as caught:
        parser.feed("[" + forty + "]")
    assert str(caught.value) == f"expected a JSON number, got '{forty}' ending at offset 41"
    parser = PartialJSON()
    with pytest.raises(RemoteProtocolError) as caught:
        parser.feed("[" + forty + "2]")
    assert str(caught.value) == f"expected a JSON number, got '{forty}...' ending at offset 42"


def test_merging_pieces_resumes_exactly_after_a_read() -> None:
    # A read joins the open string into one piece; the next _MERGE_EVERY pieces are then
    # merged into one more, never re-joining the first (that would be quadratic).
    every = partialjson._MERGE_EVERY
    parser = PartialJSON()
    parser.feed('["ab')
    assert parser.value == ["ab"]
    assert parser._parts == ["ab"]
    for _ in range(every - 1):
        parser.feed("x")
    assert len(parser._parts) == every  # "ab" and every - 1 pieces: not merged yet
    parser.feed("y")
    assert parser._parts == ["ab", "x" * (every - 1) + "y"]
    assert parser.value == ["ab" + "x" * (every - 1) + "y"]


def test_pieces_are_merged_in_groups_of_exactly_merge_every() -> None:
    # Each group of _MERGE_EVERY new pieces becomes one piece; earlier groups are never
    # joined again before a read (each character is copied at most twice).
    every = partialjson._MERGE_EVERY
    parser = PartialJSON()
    parser.feed('{"k": "')
    for _ in range(every - 1):
        parser.feed("a")
    assert len(parser._parts) == every - 1
    parser.feed("a")
    assert parser._parts == ["a" * every]
    for char in "bc":
        for _ in range(every):
            parser.feed(char)
    assert parser._parts == ["a" * every, "b" * every, "c" * every]
    parser.feed('"}')
    assert parser.close() == {"k": "a" * every + "b" * every + "c" * every}
    # A second string starts its own count from zero.
    parser = PartialJSON()
    parser.feed('["x", "')
    for _ in range(every):
        parser.feed("d")
    assert parser._parts == ["d" * every]
