"""PartialObjects: partials only grow and end at json.loads of each document, exactly one
per change, any split and any interleaving of tool calls, malformed JSON stops only its
own document, bounds at the limit and one past, and the work is linear (counted)."""

from __future__ import annotations

import copy
import json
import math
import sys
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from types import FrameType
from typing import Any, ClassVar

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from libchatty import partial_objects
from libchatty.events import Delta, Done, Error
from libchatty.exceptions import LocalProtocolError
from libchatty.partial_objects import PartialFailure, PartialObject, PartialObjects
from libchatty.partialjson import PartialJSON

NOTHING = object()


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
    """``new`` extends ``old``: strings extend, lists and dicts gain members at the end,
    members grow recursively, nothing changes type or disappears."""
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


def split_at(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in pairwise([0, *points, len(text)]) if b > a]


def key(partial: PartialObject) -> tuple[str, int]:
    return partial.source, partial.index


# -- the basics, exactly ------------------------------------------------------------------


def test_a_structured_answer_fills_in() -> None:
    partials = PartialObjects(answer=True, tool_calls=False)
    pieces = ['{"name": "Ad', 'a", "tags"', ": [1, ", "2]", "}"]
    seen = []
    for piece in pieces:
        seen.append([(copy.deepcopy(p.value), p.complete) for p in partials.feed(Delta(piece))])
    done = partials.feed(Done("stop", "".join(pieces)))
    assert seen == [
        [({"name": "Ad"}, False)],
        [({"name": "Ada"}, False)],  # the key "tags" has no value yet: nothing new
        [({"name": "Ada", "tags": [1]}, False)],
        [({"name": "Ada", "tags": [1, 2]}, False)],
        [],  # the closing brace changes nothing until Done
    ]
    assert done == [PartialObject({"name": "Ada", "tags": [1, 2]}, "answer", 0, complete=True)]
    assert partials.failures == ()


def test_tool_calls_by_index_carry_id_and_name() -> None:
    partials = PartialObjects(answer=False, tool_calls=True)
    events = [
        Delta("", "tool_call", 0, "call_a", "get_weather"),
        Delta('{"city": "Pa', "tool_call", 0),
        Delta('{"q": ', "tool_call", 1, "call_b", "search"),
        Delta('ris"}', "tool_call", 0),
        Delta('"x"}', "tool_call", 1),
    ]
    out = [
        (p.source, p.index, p.tool_call_id, p.tool_name, copy.deepcopy(p.value), p.complete)
        for event in events
        for p in partials.feed(event)
    ]
    end = [
        (p.source, p.index, p.tool_call_id, p.tool_name, p.value, p.complete)
        for p in partials.feed(Done("tool_calls", ""))
    ]
    assert out == [
        ("tool_call", 0, "call_a", "get_weather", {"city": "Pa"}, False),
        ("tool_call", 1, "call_b", "search", {}, False),  # "q" has no value yet
        ("tool_call", 0, "call_a", "get_weather", {"city": "Paris"}, False),
        ("tool_call", 1, "call_b", "search", {"q": "x"}, False),
    ]
    assert end == [
        ("tool_call", 0, "call_a", "get_weather", {"city": "Paris"}, True),
        ("tool_call", 1, "call_b", "search", {"q": "x"}, True),
    ]


def test_a_repeated_id_or_name_updates_later_partials() -> None:
    partials = PartialObjects(answer=False, tool_calls=True)
    first = partials.feed(Delta('["a"', "tool_call", 2, "id1", "f"))
    second = partials.feed(Delta(', "b"', "tool_call", 2, None, "g"))
    assert (first[0].tool_call_id, first[0].tool_name) == ("id1", "f")
    assert (second[0].tool_call_id, second[0].tool_name, second[0].index) == ("id1", "g", 2)


@pytest.mark.parametrize(
    ("answer", "tool_calls", "event"),
    [
        (True, True, Delta('{"a": 1}', "reasoning")),
        (True, True, Delta('{"a": 1}', "refusal")),
        (True, True, Delta('{"a": "', "text", 1)),  # choice 1: not the answer
        (False, True, Delta('{"a": "')),
        (True, False, Delta('{"a": "', "tool_call", 0, "c", "f")),
    ],
)
def test_what_is_not_asked_for_is_ignored(answer: bool, tool_calls: bool, event: Delta) -> None:
    partials = PartialObjects(answer=answer, tool_calls=tool_calls)
    assert partials.feed(event) == []
    assert partials.feed(Done("stop", "")) == []
    assert partials.failures == ()


def test_the_value_is_the_live_object() -> None:
    partials = PartialObjects(answer=True, tool_calls=False)
    first = partials.feed(Delta('{"a": [1,'))[0]
    second = partials.feed(Delta(" 2,"))[0]
    assert first.value is second.value  # documented: live, not a copy
    assert first.value == {"a": [1, 2]}


def test_a_top_level_scalar_is_final_only_at_done() -> None:
    partials = PartialObjects(answer=True, tool_calls=False)
    assert partials.feed(Delta("12")) == []
    assert partials.feed(Delta("3")) == []
    assert partials.feed(Done("stop", "123")) == [PartialObject(123, "answer", complete=True)]


# -- the end of the stream ----------------------------------------------------------------


def test_error_ends_without_complete_partials_and_nothing_follows() -> None:
    partials = PartialObjects(answer=True, tool_calls=True)
    assert len(partials.feed(Delta('{"a": "b"}'))) == 1
    assert partials.feed(Error("incomplete", "cut")) == []
    assert partials.close() == []
    with pytest.raises(LocalProtocolError, match="after the response ended"):
        partials.feed(Delta("more"))


def test_close_is_done_for_callers_that_end_the_stream_themselves() -> None:
    partials = PartialObjects(answer=True, tool_calls=False)
    partials.feed(Delta("[true]"))
    assert partials.close() == [PartialObject([True], "answer", complete=True)]
    assert partials.close() == []
    with pytest.raises(LocalProtocolError):
        partials.feed(Done("stop", "[true]"))


def test_a_document_cut_short_at_done_is_a_failure_not_a_complete_partial() -> None:
    partials = PartialObjects(answer=True, tool_calls=True)
    partials.feed(Delta('{"a": [1'))
    partials.feed(Delta("[2]", "tool_call", 0, "c", "f"))
    assert partials.feed(Done("length", '{"a": [1')) == [
        PartialObject([2], "tool_call", 0, "c", "f", complete=True)
    ]
    assert partials.failures == (
        PartialFailure(
            "answer",
            0,
            "incomplete JSON: expected ',' or a closing bracket at offset 8 (end of text)",
        ),
    )


def test_malformed_json_stops_only_its_own_document() -> None:
    partials = PartialObjects(answer=True, tool_calls=True)
    assert len(partials.feed(Delta('{"a" 1', "tool_call", 0, "c0", "f"))) == 0
    assert partials.failures == (
        PartialFailure("tool_call", 0, "expected ':' at offset 5, got '1'"),
    )
    # The failed document stays silent, whatever comes next...
    assert partials.feed(Delta('}, "b": "c"}', "tool_call", 0)) == []
    # ...while the others go on, and end complete.
    assert [p.value for p in partials.feed(Delta('{"x": "y', "tool_call", 1, "c1", "g"))] == [
        {"x": "y"}
    ]
    assert [p.value for p in partials.feed(Delta('"ok"'))] == ["ok"]
    partials.feed(Delta('"}', "tool_call", 1))
    assert partials.feed(Done("tool_calls", '"ok"')) == [
        PartialObject({"x": "y"}, "tool_call", 1, "c1", "g", complete=True),
        PartialObject("ok", "answer", 0, complete=True),
    ]
    assert len(partials.failures) == 1


def test_text_after_the_answer_is_a_failure() -> None:
    # A model that adds prose after the JSON: the partials stop, the text is unharmed.
    partials = PartialObjects(answer=True, tool_calls=False)
    partials.feed(Delta('{"a": 1}'))
    assert partials.feed(Delta(" Hope this helps!")) == []
    assert partials.feed(Done("stop", '{"a": 1} Hope this helps!')) == []
    assert partials.failures == (
        PartialFailure(
            "answer",
            0,
            "expected the end of the text (one value only) at offset 9, got 'H'",
        ),
    )


# -- bounds -------------------------------------------------------------------------------


def test_max_size_at_the_limit_and_one_past() -> None:
    at_limit = PartialObjects(answer=True, tool_calls=False, max_size=7)
    assert [p.value for p in at_limit.feed(Delta("[1,2,3]"))] == [[1, 2, 3]]
    assert at_limit.feed(Done("stop", "")) == [PartialObject([1, 2, 3], "answer", complete=True)]
    past = PartialObjects(answer=True, tool_calls=False, max_size=7)
    assert past.feed(Delta("[1,2,3] ")) == []
    assert past.feed(Done("stop", "")) == []
    assert past.failures == (
        PartialFailure("answer", 0, "more than max_size=7 characters of JSON"),
    )


def test_max_depth_at_the_limit_and_one_past() -> None:
    at_limit = PartialObjects(answer=True, tool_calls=False, max_depth=3)
    assert [p.value for p in at_limit.feed(Delta("[[["))] == [[[[]]]]
    past = PartialObjects(answer=True, tool_calls=False, max_depth=3)
    assert past.feed(Delta("[[[[")) == []
    assert past.failures == (PartialFailure("answer", 0, "JSON nested deeper than max_depth=3"),)


def test_max_tool_calls_at_the_limit_and_one_past() -> None:
    partials = PartialObjects(answer=True, tool_calls=True, max_tool_calls=3)
    partials.feed(Delta("[0]"))  # the answer does not count against tool calls
    for index in range(3):
        assert len(partials.feed(Delta(f"[{index}]", "tool_call", index * 10))) == 1
    assert partials.failures == ()
    assert partials.feed(Delta("[3]", "tool_call", 30)) == []
    assert partials.feed(Delta("[4]", "tool_call", 40)) == []
    assert partials.feed(Delta("[5]", "tool_call", 30)) == []
    assert partials.failures == (  # type: ignore[comparison-overlap]  # mypy narrowed to ()
        PartialFailure("tool_call", 30, "more than max_tool_calls=3 tool calls"),
    )
    done = partials.feed(Done("tool_calls", "[0]"))
    assert [(p.source, p.index, p.value) for p in done] == [
        ("answer", 0, [0]),
        ("tool_call", 0, [0]),
        ("tool_call", 10, [1]),
        ("tool_call", 20, [2]),
    ]


@pytest.mark.parametrize("limits", [{"max_size": 0}, {"max_depth": 0}, {"max_tool_calls": -1}])
def test_invalid_limits_are_the_callers_mistake(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least"):
        PartialObjects(answer=True, tool_calls=True, **limits)


def test_feeding_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="takes a Delta, Done or Error"):
        PartialObjects(answer=True, tool_calls=True).feed("text")  # type: ignore[arg-type]


# -- properties: any document, any split, any interleaving -------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)
DOCUMENT = st.tuples(JSON_VALUES, st.booleans(), st.lists(st.integers(0, 10**6), max_size=20))


def render(value: Any, spaced: bool) -> str:
    return json.dumps(value, indent=1 if spaced else None, ensure_ascii=not spaced)


@given(
    st.lists(DOCUMENT, min_size=1, max_size=4),
    st.lists(st.integers(0, 3), max_size=200),
)
def test_any_documents_split_and_interleaved_grow_to_json_loads(
    documents: list[tuple[Any, bool, list[int]]], schedule: list[int]
) -> None:
    # Document 0 is the answer; the others are tool calls 0, 1, 2 (interleaved).
    texts = [render(value, spaced) for value, spaced, _ in documents]
    queues = [split_at(text, cuts) for text, (_, _, cuts) in zip(texts, documents, strict=True)]
    keys = [("answer", 0)] + [("tool_call", i) for i in range(len(documents) - 1)]
    order = [n % len(documents) for n in schedule]
    order += [n for n, queue in enumerate(queues) for _ in queue]  # then everything left

    partials = PartialObjects(answer=True, tool_calls=True)
    last: dict[tuple[str, int], Any] = {}  # snapshot of the last value emitted
    live: dict[tuple[str, int], Any] = {}  # the live value, to see whether it changed
    for n in order:
        if not queues[n]:
            continue
        piece = queues[n].pop(0)
        tool = n > 0
        event = Delta(piece, "tool_call", n - 1, f"id{n}", f"tool{n}") if tool else Delta(piece)
        out = partials.feed(event)
        assert len(out) <= 1
        for partial in out:
            assert key(partial) == keys[n] and not partial.complete
            snapshot = copy.deepcopy(partial.value)
            previous = last.get(keys[n], NOTHING)
            assert grows(previous, snapshot)
            assert previous is NOTHING or not same(previous, snapshot)  # a real change
            last[keys[n]] = snapshot
            live[keys[n]] = partial.value
        if not out and keys[n] in live:
            # No partial: the value really did not change (containers are live).
            assert same(copy.deepcopy(live[keys[n]]), last[keys[n]])
    done = partials.feed(Done("stop", texts[0]))
    assert partials.failures == ()
    # One complete partial per document, in the order the documents began.
    assert sorted(key(p) for p in done) == sorted(keys)
    for partial in done:
        assert partial.complete
        assert same(partial.value, json.loads(texts[keys.index(key(partial))]))
        assert grows(last.get(key(partial), NOTHING), partial.value)


@given(JSON_VALUES, st.lists(st.integers(0, 10**6), max_size=30))
def test_exactly_one_partial_per_change_matches_partialjson(value: Any, cuts: list[int]) -> None:
    text = json.dumps(value)
    pieces = split_at(text, cuts)
    reference = PartialJSON()
    expected = [copy.deepcopy(reference.value) for piece in pieces if reference.feed(piece)]
    partials = PartialObjects(answer=False, tool_calls=True)
    got = [
        copy.deepcopy(p.value)
        for piece in pieces
        for p in partials.feed(Delta(piece, "tool_call", 5, "id", "f"))
    ]
    assert len(got) == len(expected)
    assert all(same(a, b) for a, b in zip(got, expected, strict=True))


@given(JSON_VALUES, st.integers(0, 30), st.text(min_size=1, max_size=5))
@example({}, 1, " ")  # "{" + "}" + " " is a whole answer: skipped, not a failure
@example({"a": 1}, 7, "x")  # '{"a": 1' + "}" + "x": data after a whole value
def test_malformed_answer_stops_answer_partials_only(value: Any, cut: int, junk: str) -> None:
    text = json.dumps(value)
    bad = text[: cut % (len(text) + 1)] + "}" + junk
    try:  # "}" may close an object ("{" + "}", '{"a": 1' + "}"): then it is not malformed
        json.loads(bad)
    except ValueError:
        pass
    else:
        assume(False)
    partials = PartialObjects(answer=True, tool_calls=True)
    answer_partials = [p for ch in bad for p in partials.feed(Delta(ch))]
    tool = [p for ch in text for p in partials.feed(Delta(ch, "tool_call", 0, "c", "f"))]
    done = partials.feed(Done("stop", bad))
    # The answer: at most the partials of its valid prefix, then nothing, and a failure.
    assert all(p.source == "answer" and not p.complete for p in answer_partials)
    assert [f.source for f in partials.failures] == ["answer"]
    # The tool call is unaffected.
    assert all(p.source == "tool_call" for p in tool)
    assert [(key(p), p.complete) for p in done] == [(("tool_call", 0), True)]
    assert same(done[0].value, value)


# -- linear work, counted -----------------------------------------------------------------


class CountingJSON(PartialJSON):
    """PartialJSON that counts what it is asked to do."""

    counts: ClassVar[Counter[str]] = Counter()

    def feed(self, fragment: str) -> bool:
        CountingJSON.counts["feeds"] += 1
        CountingJSON.counts["characters"] += len(fragment)
        return super().feed(fragment)

    @property
    def value(self) -> Any:
        CountingJSON.counts["reads"] += 1
        return PartialJSON.value.fget(self)  # type: ignore[attr-defined]


def records(size: int) -> str:
    """A structured answer of about ``size`` characters: a list of small records."""
    count = max(1, size // 40)
    return json.dumps(
        {"items": [{"id": i, "name": f"item {i}", "ok": i % 2 == 0} for i in range(count)]}
    )


def deltas(text: str, width: int = 8) -> Iterator[Delta]:
    for start in range(0, len(text), width):
        yield Delta(text[start : start + width])


def run(text: str) -> tuple[int, PartialObject]:
    partials = PartialObjects(answer=True, tool_calls=False)
    emitted = sum(len(partials.feed(delta)) for delta in deltas(text))
    (final,) = partials.feed(Done("stop", text))
    return emitted, final


def test_a_1mb_answer_in_8_byte_deltas_is_fed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partial_objects, "PartialJSON", CountingJSON)
    CountingJSON.counts = Counter()
    text = records(1024 * 1024)
    assert len(text) >= 1024 * 1024
    emitted, final = run(text)
    assert final.value == json.loads(text)
    n_deltas = -(-len(text) // 8)
    # Every character is handed to the parser exactly once, one feed per delta, and the
    # value is read once per partial: nothing is re-parsed or re-joined by the adapter.
    assert CountingJSON.counts == Counter(feeds=n_deltas, characters=len(text), reads=emitted)
    assert 0 < emitted <= n_deltas


def python_calls(text: str) -> int:
    """Python and C function calls made to stream ``text`` through PartialObjects."""
    calls = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    delta_list = list(deltas(text))
    partials = PartialObjects(answer=True, tool_calls=False)
    sys.setprofile(profile)
    try:
        for delta in delta_list:
            partials.feed(delta)
        partials.feed(Done("stop", text))
    finally:
        sys.setprofile(None)
    return calls


def test_work_per_byte_is_the_same_at_10kb_and_1mb() -> None:
    small, large = records(10 * 1024), records(1024 * 1024)
    per_byte_small = python_calls(small) / len(small)
    per_byte_large = python_calls(large) / len(large)
    # Linear: the same calls per byte (quadratic re-parsing would be ~100x at 1 MB).
    assert per_byte_large / per_byte_small == pytest.approx(1.0, abs=0.05)
