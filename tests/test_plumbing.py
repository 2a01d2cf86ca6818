"""The shared dialect plumbing's own contracts: what every dialect test reaches only
through one provider's wire (``stream_error``'s handling of a provider type, ``with_meta``,
``Staged``)."""

from __future__ import annotations

from typing import Any

import pytest

from libchatty.accumulate import Accumulator
from libchatty.dialects.plumbing import MAX_MESSAGE, Staged, stream_error, with_meta
from libchatty.events import Delta, Done, Error

TABLE = {"overloaded_error": ("overloaded", True), "invalid_request_error": ("bad_request", False)}


def error_for(message: Any, provider_type: Any, **options: Any) -> Error:
    acc = Accumulator()
    acc.text("so far")
    return stream_error(acc, message, provider_type, TABLE, default="the stream failed", **options)


@pytest.mark.parametrize(
    ("provider_type", "kind", "retryable", "kept"),
    [
        ("overloaded_error", "overloaded", True, "overloaded_error"),  # known: the table
        ("invalid_request_error", "bad_request", False, "invalid_request_error"),
        ("something_new", "provider", False, "something_new"),  # unknown: a provider error
        ("", "provider", False, None),  # an empty type is no type
        (None, "provider", False, None),
        (529, "provider", False, "529"),  # a status code as the type: kept as text
        (["overloaded_error"], "provider", False, None),  # not a string: ignored
        ({"type": "x"}, "provider", False, None),
        (2.5, "provider", False, None),
    ],
)
def test_the_provider_type_picks_the_kind_and_is_kept_only_as_a_nonempty_string(
    provider_type: Any, kind: str, retryable: bool, kept: str | None
) -> None:
    assert error_for("boom", provider_type) == Error(
        kind=kind,
        message="boom",
        status=200,
        retryable=retryable,
        partial="so far",
        provider_type=kept,
    )


def test_an_unknown_type_is_retryable_when_it_names_a_retry_word_in_any_case() -> None:
    words = ("overload", "timeout")
    assert error_for("x", "Upstream_TIMEOUT", retry_words=words).retryable is True
    assert error_for("x", "quota", retry_words=words).retryable is False
    assert error_for("x", "quota", retry_words=words, retryable=True).retryable is True
    # a known type's own retryability stands, whatever its words
    assert error_for("x", "invalid_request_error", retry_words=("request",)).retryable is False


def test_the_message_and_the_type_are_bounded() -> None:
    error = error_for("m" * (MAX_MESSAGE + 1), "t" * 101)
    assert error.message == "m" * MAX_MESSAGE
    assert error.provider_type == "t" * 100
    at_limit = error_for("m" * MAX_MESSAGE, "t" * 100)
    assert (at_limit.message, at_limit.provider_type) == ("m" * MAX_MESSAGE, "t" * 100)


@pytest.mark.parametrize("message", ["", None, 7, ["boom"]])
def test_a_missing_or_odd_message_gives_the_default(message: Any) -> None:
    assert error_for(message, None).message == "the stream failed"


DONE = Done(finish_reason="stop", text="hi", response_id="r-0", model="m-0")


@pytest.mark.parametrize("meta", [None, (None, None)])
def test_with_meta_keeps_the_done_when_the_server_reported_nothing(meta: Any) -> None:
    assert with_meta(DONE, meta) is DONE


@pytest.mark.parametrize(
    ("meta", "response_id", "model"),
    [(("r-1", "m-1"), "r-1", "m-1"), (("r-1", None), "r-1", None), ((None, "m-1"), None, "m-1")],
)
def test_with_meta_sets_what_the_server_reported(
    meta: tuple[str | None, str | None], response_id: str | None, model: str | None
) -> None:
    done = with_meta(DONE, meta)
    assert (done.response_id, done.model, done.text) == (response_id, model, "hi")


def test_staged_calls_reach_the_accumulator_only_on_commit_and_in_order() -> None:
    acc = Accumulator()
    staged = Staged()
    staged.text("a")
    staged.reasoning("r")
    staged.refusal("no")
    staged.tool_call(0, '{"x"', id="c-1", name="f")
    staged.set_tool_signature(0, "sig")
    staged.text("b", 1)
    assert acc.size() == 0  # nothing reached it yet
    assert staged.commit(acc) == [
        Delta(text="a"),
        Delta(text="r", kind="reasoning"),
        Delta(text="no", kind="refusal"),
        Delta(text='{"x"', kind="tool_call", tool_call_id="c-1", tool_name="f"),
        Delta(text="b", index=1),
    ]
    assert staged.commit(acc) == []  # committed steps are not made twice
