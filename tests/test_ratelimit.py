"""parse_rate_limit: every provider's documented headers read to exact values, the
duration table, bytes and str pairs, any case, timestamps against a fixed ``now``, and
bad values ignored field by field (never an exception)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.ratelimit import RateLimit, parse_rate_limit

UTC = timezone.utc
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def as_bytes(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


# -- providers' documented header sets ------------------------------------------------

# OpenAI, "Rate limits" guide, section "Rate limits in headers" (sample values as in the
# table there): https://platform.openai.com/docs/guides/rate-limits
OPENAI_DOCS = [
    ("x-ratelimit-limit-requests", "60"),
    ("x-ratelimit-limit-tokens", "150000"),
    ("x-ratelimit-remaining-requests", "59"),
    ("x-ratelimit-remaining-tokens", "149984"),
    ("x-ratelimit-reset-requests", "1s"),
    ("x-ratelimit-reset-tokens", "6m0s"),
]


def test_openai_documented_headers() -> None:
    assert parse_rate_limit(OPENAI_DOCS) == RateLimit(
        requests_limit=60,
        requests_remaining=59,
        requests_reset=1.0,
        tokens_limit=150000,
        tokens_remaining=149984,
        tokens_reset=360.0,
    )


def test_openai_relative_resets_become_times_with_now() -> None:
    assert parse_rate_limit(OPENAI_DOCS, now=NOW) == RateLimit(
        requests_limit=60,
        requests_remaining=59,
        requests_reset=1.0,
        requests_reset_at=NOW + timedelta(seconds=1),
        tokens_limit=150000,
        tokens_remaining=149984,
        tokens_reset=360.0,
        tokens_reset_at=NOW + timedelta(minutes=6),
    )


def test_openai_real_head_with_usage_based_extras() -> None:
    # A head OpenAI sent (community.openai.com thread "How to get rate limit reset time
    # for response API?"): the *_usage_based variants are not documented, so ignored.
    head = [
        ("date", "Mon, 26 May 2025 05:00:04 GMT"),
        ("x-ratelimit-limit-requests", "5000"),
        ("x-ratelimit-limit-tokens", "160000"),
        ("x-ratelimit-limit-tokens_usage_based", "160000"),
        ("x-ratelimit-remaining-requests", "4999"),
        ("x-ratelimit-remaining-tokens", "159976"),
        ("x-ratelimit-remaining-tokens_usage_based", "159976"),
        ("x-ratelimit-reset-requests", "12ms"),
        ("x-ratelimit-reset-tokens", "9ms"),
        ("x-ratelimit-reset-tokens_usage_based", "9ms"),
    ]
    rate = parse_rate_limit(head)
    assert rate == RateLimit(
        requests_limit=5000,
        requests_remaining=4999,
        requests_reset=0.012,
        tokens_limit=160000,
        tokens_remaining=159976,
        tokens_reset=0.009,
    )


# Groq, "Rate Limits" doc, section "Rate Limit Headers" (its example response head):
# https://console.groq.com/docs/rate-limits
GROQ_DOCS = [
    ("retry-after", "2"),
    ("x-ratelimit-limit-requests", "14400"),
    ("x-ratelimit-limit-tokens", "18000"),
    ("x-ratelimit-remaining-requests", "14370"),
    ("x-ratelimit-remaining-tokens", "17997"),
    ("x-ratelimit-reset-requests", "2m59.56s"),
    ("x-ratelimit-reset-tokens", "7.66s"),
]


def test_groq_documented_headers_and_retry_after_is_not_rate_limit_state() -> None:
    assert parse_rate_limit(GROQ_DOCS) == RateLimit(
        requests_limit=14400,
        requests_remaining=14370,
        requests_reset=179.56,
        tokens_limit=18000,
        tokens_remaining=17997,
        tokens_reset=7.66,
    )
    assert parse_rate_limit([("retry-after", "2")]) is None


def test_azure_remaining_headers_and_its_unknown_minus_one() -> None:
    # Azure OpenAI, "Quota management" (x-ratelimit-remaining-requests/-tokens) and
    # learn.microsoft.com Q&A 5625878: the Responses API answering -1, -1, 0.
    assert parse_rate_limit(
        [("x-ratelimit-remaining-requests", "119"), ("x-ratelimit-remaining-tokens", "119000")]
    ) == RateLimit(requests_remaining=119, tokens_remaining=119000)
    assert parse_rate_limit(
        [
            ("x-ratelimit-limit-tokens", "-1"),
            ("x-ratelimit-remaining-tokens", "-1"),
            ("x-ratelimit-reset-tokens", "0"),
        ]
    ) == RateLimit(tokens_reset=0.0)


def test_together_unsuffixed_request_headers() -> None:
    # Together, support.together.ai "Rate limits", table "Rate limits in headers".
    head = [
        ("x-ratelimit-limit", "600"),
        ("x-ratelimit-remaining", "599"),
        ("x-ratelimit-reset", "1"),
    ]
    assert parse_rate_limit(head) == RateLimit(
        requests_limit=600, requests_remaining=599, requests_reset=1.0
    )


def test_openrouter_reset_is_a_unix_time_in_milliseconds() -> None:
    # OpenRouter's X-RateLimit-Reset: Unix epoch milliseconds.
    reset_ms = int((NOW + timedelta(seconds=7.5)).timestamp() * 1000)
    head = [
        ("X-RateLimit-Limit", "20"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", str(reset_ms)),
    ]
    assert parse_rate_limit(head, now=NOW) == RateLimit(
        requests_limit=20,
        requests_remaining=0,
        requests_reset=7.5,
        requests_reset_at=NOW + timedelta(seconds=7.5),
    )
    assert parse_rate_limit(head) == RateLimit(
        requests_limit=20, requests_remaining=0, requests_reset_at=NOW + timedelta(seconds=7.5)
    )


@pytest.mark.parametrize(
    ("value", "seconds", "at"),
    [
        ("999999999", 999999999.0, None),  # one below the threshold: still a duration
        ("1000000000", None, datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)),  # seconds
        ("999999999999", None, None),  # seconds past year 9999: not a time
        ("1000000000000", None, datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)),  # milliseconds
    ],
)
def test_unsuffixed_reset_epoch_thresholds(
    value: str, seconds: float | None, at: datetime | None
) -> None:
    rate = parse_rate_limit([("x-ratelimit-reset", value)])
    assert rate is not None
    assert rate.requests_reset == seconds
    assert rate.requests_reset_at == at


def test_suffixed_headers_win_over_unsuffixed_in_any_order() -> None:
    head = [
        ("x-ratelimit-limit", "1"),
        ("x-ratelimit-limit-requests", "2"),
        ("x-ratelimit-remaining-requests", "3"),
        ("x-ratelimit-remaining", "4"),
    ]
    assert parse_rate_limit(head) == RateLimit(requests_limit=2, requests_remaining=3)
    # Only the unsuffixed one for a field: it fills that field.
    assert parse_rate_limit(
        [("x-ratelimit-remaining", "4"), ("x-ratelimit-limit-requests", "2")]
    ) == (RateLimit(requests_limit=2, requests_remaining=4))


# Anthropic, "Rate limits" (API reference), section "Response headers": every
# anthropic-ratelimit-* header, resets in RFC 3339: https://docs.anthropic.com/en/api/rate-limits
ANTHROPIC_DOCS = [
    ("anthropic-ratelimit-requests-limit", "50"),
    ("anthropic-ratelimit-requests-remaining", "49"),
    ("anthropic-ratelimit-requests-reset", "2024-05-01T12:00:01Z"),
    ("anthropic-ratelimit-tokens-limit", "48000"),
    ("anthropic-ratelimit-tokens-remaining", "47000"),
    ("anthropic-ratelimit-tokens-reset", "2024-05-01T12:00:06Z"),
    ("anthropic-ratelimit-input-tokens-limit", "40000"),
    ("anthropic-ratelimit-input-tokens-remaining", "39000"),
    ("anthropic-ratelimit-input-tokens-reset", "2024-05-01T12:00:02.500Z"),
    ("anthropic-ratelimit-output-tokens-limit", "8000"),
    ("anthropic-ratelimit-output-tokens-remaining", "8000"),
    ("anthropic-ratelimit-output-tokens-reset", "2024-05-01T14:00:00+02:00"),
    ("retry-after", "5"),
]


def test_anthropic_documented_headers_with_now() -> None:
    assert parse_rate_limit(ANTHROPIC_DOCS, now=NOW) == RateLimit(
        requests_limit=50,
        requests_remaining=49,
        requests_reset=1.0,
        requests_reset_at=datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC),
        tokens_limit=48000,
        tokens_remaining=47000,
        tokens_reset=6.0,
        tokens_reset_at=datetime(2024, 5, 1, 12, 0, 6, tzinfo=UTC),
        input_tokens_limit=40000,
        input_tokens_remaining=39000,
        input_tokens_reset=2.5,
        input_tokens_reset_at=datetime(2024, 5, 1, 12, 0, 2, 500000, tzinfo=UTC),
        output_tokens_limit=8000,
        output_tokens_remaining=8000,
        output_tokens_reset=0.0,  # 14:00+02:00 is 12:00 UTC: now
        output_tokens_reset_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )


def test_anthropic_without_now_keeps_absolute_times_only() -> None:
    rate = parse_rate_limit(ANTHROPIC_DOCS)
    assert rate is not None
    assert rate.requests_reset is None
    assert rate.requests_reset_at == datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)
    assert rate.output_tokens_reset is None
    assert rate.output_tokens_reset_at == datetime(
        2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))
    )


def test_a_reset_already_past_is_zero_seconds() -> None:
    rate = parse_rate_limit(
        [("anthropic-ratelimit-requests-reset", "2024-05-01T11:59:00Z")], now=NOW
    )
    assert rate == RateLimit(
        requests_reset=0.0, requests_reset_at=datetime(2024, 5, 1, 11, 59, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("value", "at"),
    [
        ("2024-05-01T12:00:01Z", datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)),
        ("2024-05-01t12:00:01z", datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)),
        ("2024-05-01 12:00:01Z", datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)),
        ("2024-05-01T12:00:01.1Z", datetime(2024, 5, 1, 12, 0, 1, 100000, tzinfo=UTC)),
        ("2024-05-01T12:00:01.123456789Z", datetime(2024, 5, 1, 12, 0, 1, 123456, tzinfo=UTC)),
        (" 2024-05-01T12:00:01-00:30 ", datetime(2024, 5, 1, 12, 30, 1, tzinfo=UTC)),
        # Not RFC 3339: ignored.
        ("2024-05-01T12:00:01", None),  # no offset
        ("2024-05-01T12:00:01+0000", None),
        ("2024-05-01", None),
        ("2024-W18-3T12:00:01Z", None),
        ("2024-13-01T12:00:01Z", None),  # month 13
        ("2024-02-30T12:00:01Z", None),
        ("2024-05-01T24:00:01Z", None),
        ("2024-05-01T12:00:01.Z", None),
        ("2024-05-01T12:00:01.1234567890Z", None),  # 10 fraction digits
        ("1714564801", None),  # Anthropic resets are timestamps, not numbers
        ("", None),
    ],
)
def test_rfc3339_forms(value: str, at: datetime | None) -> None:
    rate = parse_rate_limit([("anthropic-ratelimit-tokens-reset", value)])
    assert rate == RateLimit(tokens_reset_at=at)


# -- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1s", 1.0),
        ("0s", 0.0),
        ("6m0s", 360.0),
        ("2.524s", 2.524),
        ("8.64s", 8.64),
        ("20ms", 0.02),
        ("1h2m3s", 3723.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("12m57.6s", 777.6),
        ("7m12s", 432.0),
        ("1500us", 0.0015),
        ("1500µs", 0.0015),
        ("2000000ns", 0.002),
        ("1m30s500ms", 90.5),
        ("7", 7.0),  # Azure and Together: plain seconds
        ("1.5", 1.5),
        ("0", 0.0),
        (" 2s ", 2.0),
        # Invalid: ignored.
        ("", None),
        ("s", None),
        ("-1s", None),
        ("-1", None),
        ("1d", None),
        ("1 s", None),
        ("1s junk", None),
        ("1S", None),
        ("nan", None),
        ("inf", None),
        ("tomorrow", None),
    ],
)
def test_duration_table(value: str, seconds: float | None) -> None:
    rate = parse_rate_limit([("x-ratelimit-reset-requests", value)])
    assert rate is not None
    assert rate.requests_reset == seconds  # exact: to the nanosecond, as Go counts
    assert rate.requests_reset_at is None


# -- bytes, case, repeats, bad values ---------------------------------------------------


def test_bytes_pairs_equal_str_pairs() -> None:
    assert parse_rate_limit(as_bytes(OPENAI_DOCS)) == parse_rate_limit(OPENAI_DOCS)
    assert parse_rate_limit(as_bytes(ANTHROPIC_DOCS), NOW) == parse_rate_limit(ANTHROPIC_DOCS, NOW)
    mixed: list[tuple[str | bytes, str | bytes]] = [
        (b"x-ratelimit-limit-requests", "60"),
        ("x-ratelimit-remaining-requests", b"59"),
    ]
    assert parse_rate_limit(mixed) == RateLimit(requests_limit=60, requests_remaining=59)


def test_names_in_any_case() -> None:
    shouted = [(name.upper(), value) for name, value in OPENAI_DOCS]
    titled = [(name.title(), value) for name, value in ANTHROPIC_DOCS]
    assert parse_rate_limit(shouted) == parse_rate_limit(OPENAI_DOCS)
    assert parse_rate_limit(titled, NOW) == parse_rate_limit(ANTHROPIC_DOCS, NOW)


def test_no_rate_limit_header_is_none() -> None:
    assert parse_rate_limit([]) is None
    assert parse_rate_limit([("content-type", "text/event-stream"), ("x-request-id", "r")]) is None
    assert parse_rate_limit([("x-ratelimit-limit-requests-day", "14400")]) is None


def test_present_but_unreadable_is_an_empty_rate_limit() -> None:
    assert parse_rate_limit([("x-ratelimit-remaining-tokens", "lots")]) == RateLimit()


def test_the_first_of_a_repeated_header_counts() -> None:
    head = [("x-ratelimit-remaining-requests", "5"), ("x-ratelimit-remaining-requests", "4")]
    assert parse_rate_limit(head) == RateLimit(requests_remaining=5)
    # Even when the first is unreadable: a server repeating itself is not a fallback.
    head = [("x-ratelimit-remaining-requests", "x"), ("x-ratelimit-remaining-requests", "4")]
    assert parse_rate_limit(head) == RateLimit()


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("0", 0),
        ("59", 59),
        (" 59 ", 59),
        ("999999999999999999", 999999999999999999),  # 18 digits: the limit
        ("1000000000000000000", None),  # 19 digits: one past it
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("1e3", None),
        ("1_000", None),
        ("٥", None),  # an Arabic-Indic digit: int() would take it, HTTP would not
        ("", None),
        ("1 2", None),
    ],
)
def test_count_forms(value: str, count: int | None) -> None:
    assert parse_rate_limit([("anthropic-ratelimit-requests-remaining", value)]) == RateLimit(
        requests_remaining=count
    )


def test_bad_values_are_ignored_field_by_field() -> None:
    head = [
        ("x-ratelimit-limit-requests", "sixty"),
        ("x-ratelimit-remaining-requests", "59"),
        ("x-ratelimit-reset-requests", "soon"),
        ("x-ratelimit-reset-tokens", "6m0s"),
        ("anthropic-ratelimit-tokens-reset", "yesterday"),
    ]
    assert parse_rate_limit(head, now=NOW) == RateLimit(
        requests_remaining=59, tokens_reset=360.0, tokens_reset_at=NOW + timedelta(minutes=6)
    )


def test_resets_beyond_the_calendar_are_ignored() -> None:
    far = [("x-ratelimit-reset-requests", "1e300"), ("x-ratelimit-reset", "1e300")]
    rate = parse_rate_limit(far, now=NOW)
    # A duration too long for a datetime keeps its seconds; a timestamp beyond it is nothing.
    assert rate == RateLimit(requests_reset=1e300)
    assert parse_rate_limit([("x-ratelimit-reset", "1e300")], now=NOW) == RateLimit()
    # A date near the end of the calendar plus a long duration: seconds kept, no time.
    end = datetime(9999, 12, 31, tzinfo=UTC)
    assert parse_rate_limit([("x-ratelimit-reset-tokens", "48h")], now=end) == RateLimit(
        tokens_reset=172800.0
    )


def test_naive_now_is_the_callers_mistake() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        parse_rate_limit(OPENAI_DOCS, now=datetime(2024, 5, 1, 12, 0))


LATIN1 = st.characters(max_codepoint=255)
NAMES = [name for name, _ in OPENAI_DOCS + ANTHROPIC_DOCS] + [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(NAMES) | st.text(LATIN1, max_size=20),
            st.text(LATIN1, max_size=40),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_never_raises_for_any_header_values(headers: list[tuple[str, str]], with_now: bool) -> None:
    rate = parse_rate_limit(headers, now=NOW if with_now else None)
    known = {name.lower() for name in NAMES} - {"retry-after"}
    assert (rate is None) == (not any(name.strip().lower() in known for name, _ in headers))
    assert parse_rate_limit(as_bytes(headers), now=NOW if with_now else None) == rate
