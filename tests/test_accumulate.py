"""Accumulator: pieces in, complete Done out; finish reasons normalised."""

from __future__ import annotations

import pytest

from libchatty.accumulate import COMPACT_AT, Accumulator, normalize_finish_reason
from libchatty.events import Delta, ToolCall, Usage


def test_text_reasoning_refusal_and_choices() -> None:
    acc = Accumulator()
    assert acc.text("Hel") == Delta("Hel")
    acc.text("lo")
    acc.text("Bon", index=1)
    assert acc.reasoning("hmm") == Delta("hmm", "reasoning")
    acc.refusal("no")
    assert acc.partial == "Hello"
    done = acc.done("stop", Usage(1, 2, 3))
    assert done.text == "Hello"
    assert done.reasoning == "hmm"
    assert done.refusal == "no"
    assert done.choices == ("Hello", "Bon")
    assert done.usage == Usage(1, 2, 3)


def test_tool_calls_merge_by_index_keeping_first_id_and_name() -> None:
    acc = Accumulator()
    first = acc.tool_call(0, "", id="call_1", name="get")
    assert first == Delta("", "tool_call", 0, "call_1", "get")
    acc.tool_call(1, '{"b"', id="call_2", name="put")
    acc.tool_call(0, '{"a":')
    acc.tool_call(0, "1}", id="ignored-later-id")
    acc.tool_call(1, ":2}")
    done = acc.done("stop")
    assert done.tool_calls == (
        ToolCall("call_1", "get", '{"a":1}'),
        ToolCall("call_2", "put", '{"b":2}'),
    )
    assert done.finish_reason == "tool_calls"  # a stop with tool calls is a tool-call stop
    assert done.raw_finish_reason == "stop"


def test_complete_arguments_replace_fragments() -> None:
    acc = Accumulator()
    acc.tool_call(0, '{"a"', id="c", name="f")
    acc.set_tool_arguments(0, '{"a": 1}')
    assert acc.tool_calls() == (ToolCall("c", "f", '{"a": 1}'),)


def test_error_carries_partial_text() -> None:
    acc = Accumulator()
    acc.text("partial ")
    acc.text("answer")
    error = acc.error("incomplete", "cut", status=200)
    assert error.partial == "partial answer"
    assert error.kind == "incomplete"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("stop", "stop"), ("end_turn", "stop"), ("STOP", "stop"), ("COMPLETE", "stop"),
     ("completed", "stop"), ("length", "length"), ("max_tokens", "length"),
     ("MAX_TOKENS", "length"), ("max_output_tokens", "length"), ("tool_use", "tool_calls"),
     ("TOOL_CALL", "tool_calls"), ("SAFETY", "content_filter"), ("weird", "weird"), (None, None)],
)
def test_normalize_finish_reason(raw: str | None, normal: str | None) -> None:
    assert normalize_finish_reason(raw) == normal


def test_many_deltas_are_joined_once() -> None:
    acc = Accumulator()
    for _ in range(50_000):
        acc.text("x")
    assert len(acc.done("stop").text) == 50_000


def test_fast_text_delta_is_an_ordinary_delta() -> None:
    delta = Accumulator().text("tok", index=2)
    assert delta == Delta("tok", "text", 2, None, None)
    assert hash(delta) == hash(Delta("tok", "text", 2))
    assert repr(delta) == repr(Delta("tok", "text", 2))
    with pytest.raises(AttributeError):
        delta.text = "changed"  # type: ignore[misc]


def test_signatures_are_kept_apart_from_text() -> None:
    acc = Accumulator()
    acc.reasoning("let me think")
    acc.add_reasoning_signature("EqQB")
    acc.add_reasoning_signature("Ck8I")
    acc.tool_call(0, "{}", id=None, name="get")
    acc.set_tool_signature(0, "sig-0")
    done = acc.done("STOP")
    assert done.reasoning == "let me think"
    assert done.reasoning_signature == "EqQBCk8I"
    assert done.tool_calls == (ToolCall(None, "get", "{}", "sig-0"),)
    assert Accumulator().done("stop").reasoning_signature is None


# --- compaction: memory near the text, text exact (issue 9, point 8) --------------------------


AROUND = [0, 1, COMPACT_AT - 1, COMPACT_AT, COMPACT_AT + 1, 2 * COMPACT_AT - 1,
          2 * COMPACT_AT, 2 * COMPACT_AT + 1, 3 * COMPACT_AT + 7]


def pieces(count: int) -> list[str]:
    # Distinct pieces of varying length: a lost, repeated or reordered piece shows.
    return [f"{i}é" if i % 3 else f"<{i}>" for i in range(count)]


@pytest.mark.parametrize("count", AROUND)
def test_text_is_exact_around_the_compaction_threshold(count: int) -> None:
    acc = Accumulator()
    for piece in pieces(count):
        acc.text(piece)
        acc.settle()  # as Call does after each read (here: one piece per read)
    want = "".join(pieces(count))
    assert acc.partial == want
    assert acc.counted == len("".join(pieces(count // COMPACT_AT * COMPACT_AT)))
    assert len(acc._text.chunks) == count // COMPACT_AT
    assert acc.size() == len(want)
    done = acc.done("stop")
    assert done.text == want
    assert acc.error("incomplete", "cut").partial == want


@pytest.mark.parametrize("count", AROUND)
def test_every_kind_of_text_is_exact_around_the_threshold(count: int) -> None:
    acc = Accumulator()
    for piece in pieces(count):
        acc.text(piece, index=1)
        acc.reasoning(piece)
        acc.refusal(piece)
        acc.tool_call(0, piece, id="c", name="f")
    want = "".join(pieces(count))
    done = acc.done("stop")
    assert done.choices == (("", want) if count else ())
    assert (done.reasoning, done.refusal) == (want, want)
    assert done.tool_calls == ((ToolCall("c", "f", want),) if count else ())
    assert acc.size() == 4 * len(want)
    assert acc.counted == 4 * len("".join(pieces(count // COMPACT_AT * COMPACT_AT)))


def test_restated_tool_arguments_replace_their_count() -> None:
    acc = Accumulator()
    for piece in pieces(COMPACT_AT + 3):
        acc.tool_call(0, piece, id="c", name="f")
    acc.set_tool_arguments(0, '{"a": 1}')
    assert acc.counted == len('{"a": 1}')
    assert acc.size() == len('{"a": 1}')
    assert acc.tool_calls() == (ToolCall("c", "f", '{"a": 1}'),)


@pytest.mark.parametrize("count", AROUND)
def test_settling_after_a_batch_compacts_it_whole(count: int) -> None:
    acc = Accumulator()
    for piece in pieces(count):
        acc.text(piece)
    assert acc.counted == 0  # the hot path only appends
    settled = len("".join(pieces(count))) if count >= COMPACT_AT else 0
    assert acc.settle() == settled
    assert acc.partial == "".join(pieces(count))
    assert acc.done("stop").text == "".join(pieces(count))


def test_a_million_one_character_pieces_are_held_as_a_few_chunks() -> None:
    acc = Accumulator()
    settle = acc.settle
    for _ in range(10**6):
        acc.text("x")
        settle()
    # Not timed, not measured: the structure that keeps memory near the text's size.
    assert len(acc._text.chunks) == 10**6 // COMPACT_AT
    assert len(acc._text.pending) == 10**6 % COMPACT_AT
    assert acc.partial == "x" * 10**6
