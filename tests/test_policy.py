"""libchatty.policy: retry, fallback and backoff decisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.events import Error
from libchatty.policy import (
    BASE_BACKOFF,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    backoff_delay,
    says_streaming_unsupported,
    should_fallback_to_non_streaming,
    should_retry,
)


def err(kind: str = "server", status: int | None = 500, **fields: object) -> Error:
    return Error(kind=kind, message=str(fields.pop("message", "boom")), status=status,
                 **fields)  # type: ignore[arg-type]


class TestShouldRetry:
    def test_retryable_before_delivery_within_budget(self) -> None:
        assert should_retry(err(retryable=True), 0, 2, delivered=False)
        assert should_retry(err(retryable=True), 1, 2, delivered=False)

    def test_budget_exhausted(self) -> None:
        assert not should_retry(err(retryable=True), 2, 2, delivered=False)
        assert not should_retry(err(retryable=True), 0, 0, delivered=False)

    def test_never_after_delivery(self) -> None:
        assert not should_retry(err(retryable=True), 0, 5, delivered=True)

    def test_not_retryable(self) -> None:
        assert not should_retry(err("auth", 401), 0, 5, delivered=False)

    def test_retry_after_too_long_is_not_waited_for(self) -> None:
        ok = err("rate_limit", 429, retryable=True, retry_after=MAX_RETRY_AFTER)
        too_long = err("rate_limit", 429, retryable=True, retry_after=MAX_RETRY_AFTER + 1)
        assert should_retry(ok, 0, 2, delivered=False)
        assert not should_retry(too_long, 0, 2, delivered=False)

    def test_retry_after_bounds(self) -> None:
        # Any wait up to the cap is honoured, zero included; None means "no preference".
        for retry_after in (None, 0.0, 1.0, MAX_RETRY_AFTER - 0.5, MAX_RETRY_AFTER):
            error = err("rate_limit", 429, retryable=True, retry_after=retry_after)
            assert should_retry(error, 0, 1, delivered=False) is True
        just_over = err("rate_limit", 429, retryable=True, retry_after=MAX_RETRY_AFTER + 0.001)
        assert should_retry(just_over, 0, 1, delivered=False) is False

    def test_a_long_retry_after_is_refused_even_with_budget_left(self) -> None:
        too_long = err("rate_limit", 429, retryable=True, retry_after=3600.0)
        assert should_retry(too_long, 0, 10, delivered=False) is False


# Module-level, not in a class: mutate/run.py calls the tests more than once per process,
# and hypothesis refuses a method called from two different instances.
@given(
    retryable=st.booleans(),
    attempt=st.integers(0, 10),
    max_retries=st.integers(0, 10),
    delivered=st.booleans(),
)
def test_never_more_than_budget_nor_after_delivery(
    retryable: bool, attempt: int, max_retries: int, delivered: bool
) -> None:
    decision = should_retry(err(retryable=retryable), attempt, max_retries, delivered)
    assert decision == (retryable and not delivered and attempt < max_retries)


class TestFallback:
    @pytest.mark.parametrize(
        "message",
        [
            "Streaming is not supported for this model",
            "stream is not supported",
            "Unrecognized request argument supplied: stream",
            "'stream_options' is not allowed",
            "This model doesn't support streaming",
            "Invalid value for stream",
        ],
    )
    @pytest.mark.parametrize("status", [400, 422])
    def test_rejected_stream(self, status: int, message: str) -> None:
        assert says_streaming_unsupported(message)
        assert should_fallback_to_non_streaming(err("bad_request", status, message=message),
                                                delivered=False)

    @pytest.mark.parametrize(
        "message", ["max_tokens is too large", "stream", "messages must not be empty", ""]
    )
    def test_other_bad_requests_do_not_fall_back(self, message: str) -> None:
        assert not should_fallback_to_non_streaming(
            err("bad_request", 400, message=message), delivered=False
        )

    def test_501(self) -> None:
        assert should_fallback_to_non_streaming(err("server", 501), delivered=False)

    @pytest.mark.parametrize("kind", ["connection", "incomplete"])
    def test_broken_connection_before_output(self, kind: str) -> None:
        assert should_fallback_to_non_streaming(err(kind, None), delivered=False)

    @pytest.mark.parametrize("kind", ["connection", "incomplete"])
    def test_2xx_stream_cut_before_output(self, kind: str) -> None:
        assert should_fallback_to_non_streaming(err(kind, 200), delivered=False)

    @pytest.mark.parametrize("status", [404, 500, 503])
    def test_broken_error_response_does_not_fall_back(self, status: int) -> None:
        assert not should_fallback_to_non_streaming(err("incomplete", status), delivered=False)

    @pytest.mark.parametrize("kind", ["timeout", "rate_limit", "auth", "protocol", "provider"])
    def test_other_kinds_do_not_fall_back(self, kind: str) -> None:
        assert not should_fallback_to_non_streaming(err(kind, None), delivered=False)

    @pytest.mark.parametrize("status", [None, 200, 501])
    @pytest.mark.parametrize(
        "message",
        ["no data from the server for 5 s (idle timeout)",
         "no content from the server for 2 s (stall timeout)",
         "the call took longer than the total timeout (9 s)",
         "streaming is not supported"],
    )
    def test_never_after_a_timeout(self, status: int | None, message: str) -> None:
        # A slow server is no evidence that it cannot stream: the non-streaming request
        # would repeat the whole wait. Even with a 501 status or a "not supported" text.
        error = err("timeout", status, message=message)
        assert should_fallback_to_non_streaming(error, delivered=False) is False

    def test_never_after_delivery(self) -> None:
        assert not should_fallback_to_non_streaming(err("server", 501), delivered=True)
        assert not should_fallback_to_non_streaming(err("connection", None), delivered=True)

    @pytest.mark.parametrize(
        "message",
        [
            "stream: not accepted",
            "streaming isn't possible here",
            "stream unsupported",
            "unrecognised field stream",
            "unrecognized field stream",
            "unknown parameter stream",
            "stream invalid",
            "streaming disabled",
            "streaming unavailable",
            "stream is no longer offered",
            "unexpected stream",
            "stream forbidden",
            "extra inputs: stream",
            "stream=false only",
        ],
    )
    def test_each_refusal_word_alone(self, message: str) -> None:
        # One message per alternative of the refusal pattern, each with no other.
        assert says_streaming_unsupported(message) is True
        assert says_streaming_unsupported(message.upper()) is True  # case does not matter
        assert says_streaming_unsupported(message.replace("stream", "strem")) is False

    @pytest.mark.parametrize(
        "message",
        ["stream nothing", "streaming notes", "stream cannot", "messages must not be empty"],
    )
    def test_a_refusal_needs_both_words(self, message: str) -> None:
        # "not" only as a word: "nothing"/"notes" say nothing; "stream" is required.
        assert says_streaming_unsupported(message) is False

    @pytest.mark.parametrize(
        ("status", "expected"),
        [(None, True), (199, False), (200, True), (206, True), (299, True), (300, False),
         (302, False), (401, False), (499, False), (502, False)],
    )
    @pytest.mark.parametrize("kind", ["connection", "incomplete"])
    def test_broken_stream_falls_back_only_for_2xx_or_no_response(
        self, kind: str, status: int | None, expected: bool
    ) -> None:
        assert should_fallback_to_non_streaming(err(kind, status), delivered=False) is expected

    @pytest.mark.parametrize("status", [401, 404, 413, 421, 423, 500])
    def test_streaming_refusal_text_counts_only_on_400_and_422(self, status: int) -> None:
        error = err("bad_request", status, message="stream is not supported")
        assert should_fallback_to_non_streaming(error, delivered=False) is False

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_501_only(self, status: int) -> None:
        assert should_fallback_to_non_streaming(err("server", status), delivered=False) is False


class TestBackoff:
    def test_exponential_and_capped(self) -> None:
        # jitter 1.0 gives the ceiling, 0.0 half of it.
        assert backoff_delay(0, None, 1.0) == BASE_BACKOFF
        assert backoff_delay(1, None, 1.0) == 2 * BASE_BACKOFF
        assert backoff_delay(2, None, 0.0) == 2 * BASE_BACKOFF
        assert backoff_delay(50, None, 1.0) == MAX_BACKOFF

    def test_retry_after_is_honoured(self) -> None:
        assert backoff_delay(0, 3.0, 0.0) == 3.0
        assert backoff_delay(5, 3.0, 1.0) == pytest.approx(3.3)
        assert backoff_delay(0, 30.0, 1.0) == pytest.approx(31.0)  # jitter at most 1 s
        assert backoff_delay(0, 0.0, 1.0) == 0.0

    def test_jitter_is_clamped_to_0_1(self) -> None:
        # Out-of-range draws act as the nearest end: never below half the ceiling, never
        # above it, never a negative wait.
        assert backoff_delay(0, None, 5.0) == BASE_BACKOFF
        assert backoff_delay(0, None, 1.5) == BASE_BACKOFF
        assert backoff_delay(0, None, -3.0) == BASE_BACKOFF / 2
        assert backoff_delay(3, None, 0.5) == 0.75 * 8 * BASE_BACKOFF
        assert backoff_delay(0, 10.0, 7.0) == 11.0
        assert backoff_delay(0, 10.0, -7.0) == 10.0

    def test_each_attempt_doubles_until_the_cap(self) -> None:
        ceilings = [backoff_delay(a, None, 1.0) for a in range(7)]
        assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
        halves = [backoff_delay(a, None, 0.0) for a in range(7)]
        assert halves == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]

    def test_negative_attempt_counts_as_the_first(self) -> None:
        assert backoff_delay(-1, None, 1.0) == BASE_BACKOFF
        assert backoff_delay(-50, None, 0.0) == BASE_BACKOFF / 2

    def test_huge_attempt_is_capped_without_overflow(self) -> None:
        # 2.0 ** 5000 would overflow a float: the exponent is capped first.
        assert backoff_delay(5000, None, 1.0) == MAX_BACKOFF
        assert backoff_delay(10**9, None, 0.0) == MAX_BACKOFF / 2

    def test_retry_after_jitter_is_a_tenth_up_to_one_second(self) -> None:
        assert backoff_delay(0, 5.0, 0.5) == 5.25
        assert backoff_delay(0, 10.0, 1.0) == 11.0  # a tenth is exactly the 1 s cap
        assert backoff_delay(0, 20.0, 0.5) == 21.0 - 0.5
        assert backoff_delay(3, 2.0, 0.0) == 2.0  # the attempt does not matter

    def test_negative_retry_after_is_ignored(self) -> None:
        # A negative wait is nonsense: back off as if the server had said nothing.
        assert backoff_delay(0, -1.0, 1.0) == BASE_BACKOFF
        assert backoff_delay(2, -0.001, 0.0) == 2 * BASE_BACKOFF


# Module-level for the same reason as test_never_more_than_budget_nor_after_delivery.
@given(
    attempt=st.integers(-5, 1000),
    retry_after=st.one_of(st.none(), st.floats(0, 1e6)),
    jitter=st.floats(-10, 10),
)
def test_backoff_bounds(attempt: int, retry_after: float | None, jitter: float) -> None:
    delay = backoff_delay(attempt, retry_after, jitter)
    if retry_after is None:
        assert BASE_BACKOFF / 2 <= delay <= MAX_BACKOFF
    else:
        assert retry_after <= delay <= retry_after + 1.0
