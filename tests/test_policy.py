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
        assert not should_retry(err(retryable=True), 0, 5, delivered=True)

    def test_not_retryable(self) -> None:
        assert not should_retry(err("auth", 401), 0, 5, delivered=False)

    def test_retry_after_too_long_is_not_waited_for(self) -> None:
        ok = err("rate_limit", 429, retryable=True, retry_after=MAX_RETRY_AFTER)
        too_long = err("rate_limit", 429, retryable=True, retry_after=MAX_RETRY_AFTER + 1)
        assert should_retry(ok, 0, 2, delivered=False)
        assert not should_retry(too_long, 0, 2, delivered=False)

    @given(
        retryable=st.booleans(),
        attempt=st.integers(0, 10),
        max_retries=st.integers(0, 10),
        delivered=st.booleans(),
    )
    def test_never_more_than_budget_nor_after_delivery(
        self, retryable: bool, attempt: int, max_retries: int, delivered: bool
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

    @given(
        attempt=st.integers(-5, 1000),
        retry_after=st.one_of(st.none(), st.floats(0, 1e6)),
        jitter=st.floats(-10, 10),
    )
    def test_bounds(self, attempt: int, retry_after: float | None, jitter: float) -> None:
        delay = backoff_delay(attempt, retry_after, jitter)
        if retry_after is None:
            assert BASE_BACKOFF / 2 <= delay <= MAX_BACKOFF
        else:
            assert retry_after <= delay <= retry_after + 1.0
