"""Accumulator: pieces in, complete Done out; finish reasons normalised."""

from __future__ import annotations

import pytest

from libchatty.accumulate import CHUNKS_PER_BLOCK, COMPACT_AT, Accumulator, normalize_finish_reason
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


BLOCK = COMPACT_AT * CHUNKS_PER_BLOCK  # pieces per block
AROUND = [0, 1, COMPACT_AT - 1, COMPACT_AT, COMPACT_AT + 1, 2 * COMPACT_AT - 1,
          2 * COMPACT_AT, 2 * COMPACT_AT + 1, 3 * COMPACT_AT + 7,
          BLOCK - COMPACT_AT, BLOCK - 1, BLOCK, BLOCK + COMPACT_AT, 2 * BLOCK + 3 * COMPACT_AT + 5]


def held_chunks(count: int) -> int:
    """Strings held for ``count`` pieces added one at a time: a block per
    CHUNKS_PER_BLOCK chunks, then the chunks since."""
    chunks = count // COMPACT_AT
    return chunks // CHUNKS_PER_BLOCK + chunks % CHUNKS_PER_BLOCK


def pieces(count: int) -> list[str]:
    # Distinct pieces of varying length: a lost, repeated or reordered piece shows.
    return [f"{i}é" if i % 3 else f"<{i}>" for i in range(count)]


@pytest.mark.parametrize("count", AROUND)
def test_text_is_exact_around_the_compaction_threshold(count: int) -> None:
    acc = Accumulator()
    for piece in pieces(count):
        acc.text(piece)
    want = "".join(pieces(count))
    assert acc.partial == want
    assert acc.counted == len("".join(pieces(count // COMPACT_AT * COMPACT_AT)))
    assert len(acc._text.chunks) == held_chunks(count)
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
def test_answer_text_is_counted_every_compact_at_pieces(count: int) -> None:
    acc = Accumulator()
    for n, piece in enumerate(pieces(count), 1):
        acc.text(piece)
        assert acc.counted == len("".join(pieces(n // COMPACT_AT * COMPACT_AT)))
        assert len(acc._text.pending) == n % COMPACT_AT
    assert acc.partial == "".join(pieces(count))
    assert acc.done("stop").text == "".join(pieces(count))


def test_a_million_one_character_pieces_are_held_as_a_few_chunks() -> None:
    acc = Accumulator()
    text = acc.text
    for _ in range(10**6):
        text("x")
    # Not timed, not measured: the structure that keeps memory near the text's size.
    assert len(acc._text.chunks) == held_chunks(10**6)
    assert len(acc._text.chunks) < 2_000 and len(acc._text.pending) == 10**6 % COMPACT_AT
    assert acc.partial == "x" * 10**6


# --- pinned by mutation testing (mutate/run.py accumulate) ----------------------------------


def test_reasoning_and_refusal_deltas_carry_their_kind_and_choice() -> None:
    acc = Accumulator()
    assert acc.reasoning("hmm", index=1) == Delta("hmm", "reasoning", 1)
    assert acc.refusal("no", index=2) == Delta("no", "refusal", 2)
    assert acc.refusal("way") == Delta("way", "refusal", 0)
    done = acc.done("stop")
    # Only choice 0's reasoning and refusal are kept: Done has one of each.
    assert (done.reasoning, done.refusal) == ("", "way")


def test_a_later_name_does_not_rename_a_tool_call() -> None:
    acc = Accumulator()
    acc.tool_call(0, "", id="c1", name="get")
    assert acc.tool_call(0, "{}", name="put") == Delta("{}", "tool_call", 0, None, "put")
    assert acc.tool_calls() == (ToolCall("c1", "get", "{}"),)


def test_a_tool_call_first_seen_by_its_signature_or_arguments() -> None:
    acc = Accumulator()
    acc.set_tool_signature(1, "sig")
    acc.set_tool_arguments(0, '{"a": 1}')
    assert acc.tool_calls() == (ToolCall(None, "", '{"a": 1}'), ToolCall(None, "", "", "sig"))


def test_restated_tool_arguments_keep_the_other_counts() -> None:
    acc = Accumulator()
    for _ in range(COMPACT_AT):
        acc.reasoning("r")
    assert acc.counted == COMPACT_AT
    acc.set_tool_arguments(0, '{"a": 1}')
    assert acc.counted == COMPACT_AT + len('{"a": 1}')


def test_choices_skipped_in_between_are_empty() -> None:
    acc = Accumulator()
    acc.text("zero")
    acc.text("two", index=2)
    assert acc.done("stop").choices == ("zero", "", "two")


def test_error_keeps_every_field_given() -> None:
    acc = Accumulator()
    acc.text("so far")
    error = acc.error(
        "rate_limit",
        "slow down",
        status=429,
        retryable=True,
        provider_type="rate_limit_error",
        retry_after=2.5,
    )
    assert (
        error.kind,
        error.message,
        error.status,
        error.retryable,
        error.provider_type,
        error.retry_after,
        error.partial,
    ) == ("rate_limit", "slow down", 429, True, "rate_limit_error", 2.5, "so far")
    bare = Accumulator().error("incomplete", "cut")
    assert (bare.status, bare.retryable, bare.provider_type, bare.retry_after, bare.partial) == (
        None,
        False,
        None,
        None,
        "",
    )


def test_pieces_are_true_once_they_hold_a_piece() -> None:
    from libchatty.accumulate import _Pieces

    parts = _Pieces()
    assert not parts
    parts.pending.append("a")
    assert parts
    parts.compact()
    assert parts and not parts.pending


@pytest.mark.parametrize(
    ("raw", "tools", "normal"),
    [(None, True, "tool_calls"), (None, False, None), ("stop", True, "tool_calls"),
     ("STOP", True, "tool_calls"), ("length", True, "length"), ("weird", True, "weird")],
)
def test_normalize_finish_reason_with_tool_calls(
    raw: str | None, tools: bool, normal: str | None
) -> None:
    assert normalize_finish_reason(raw, tools) == normal


def test_what_an_answer_has_none_of_is_shared_and_stays_empty() -> None:
    from libchatty.accumulate import _NO_PIECES, _NONE

    plain, full = Accumulator(), Accumulator()
    plain.text("hi")
    full.text("a", index=2)
    full.reasoning("r")
    full.refusal("no")
    full.tool_call(0, "{", id="c", name="f")
    full.set_tool_signature(1, "sig")
    full.set_tool_arguments(2, "{}")
    full.add_reasoning_signature("s")
    assert (plain._reasoning, plain._refusal, plain._choices, plain._tools) == (
        _NO_PIECES, _NO_PIECES, _NONE, _NONE
    )
    assert not _NO_PIECES and not _NONE
    done = full.done("stop")
    assert (done.choices, done.reasoning, done.refusal) == (("", "", "a"), "r", "no")
    assert done.tool_calls == (
        ToolCall("c", "f", "{"),
        ToolCall(None, "", "", signature="sig"),
        ToolCall(None, "", "{}"),
    )
    assert done.reasoning_signature == "s"
    assert plain.done("stop").text == "hi"
