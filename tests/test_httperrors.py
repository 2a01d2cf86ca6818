"""httperrors: every provider's error response becomes one typed Error."""

from __future__ import annotations

import h11
import pytest
from decoding import error_fields, wanted
from hypothesis import given
from hypothesis import strategies as st
from wire import fixture

from libchatty.httperrors import error_from_response, kind_for_status, parse_duration

ERROR_FIXTURES = [
    "openai-chat/error-400.http",
    "openai-chat/error-401.http",
    "openai-chat/error-404.http",
    "openai-chat/error-429.http",
    "openai-chat/error-500.http",
    "openai-chat/error-503.http",
    "openai-responses/error-400.http",
    "anthropic/error-400.http",
    "anthropic/error-401.http",
    "anthropic/error-429.http",
    "anthropic/error-500.http",
    "anthropic/error-529.http",
    "gemini/error-404.http",
    "gemini/error-429.http",
    "gemini/error-503.http",
    "ollama/error-404-model.http",
    "compat/vllm-error-404.http",
    "compat/error-502-html.http",
    "compat/groq-error-429.http",
    "compat/mistral-error-401.http",
    "compat/mistral-error-429.http",
    "compat/deepseek-error-402.http",
    "compat/openrouter-error-402.http",
]


def parse_response(raw: bytes) -> tuple[h11.Response, bytes]:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    conn.receive_data(b"")
    head = None
    body = []
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body.append(event.data)
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) or event is h11.NEED_DATA:
            break
    assert head is not None
    return head, b"".join(body)


@pytest.mark.parametrize("name", ERROR_FIXTURES)
def test_error_fixtures_decode_as_expected(name: str) -> None:
    head, body = parse_response(fixture(name))
    error = error_from_response(
        head.status_code, head.reason.decode(), list(head.headers), body, partial="so far"
    )
    # Every field expected.json records, exactly (our deliberate differences applied).
    assert error_fields(error) == wanted(name)["error"]
    assert error.partial == "so far"
    assert error.retryable == (head.status_code in {408, 409, 429, 500, 502, 503, 504, 529})


def test_openai_429_takes_the_wait_from_the_bucket_that_ran_dry() -> None:
    head, body = parse_response(fixture("openai-chat/error-429.http"))
    error = error_from_response(429, "", list(head.headers), body)
    assert error.retry_after == pytest.approx(2.524)


def test_retry_after_header_wins_over_rate_limit_headers() -> None:
    head, body = parse_response(fixture("compat/groq-error-429.http"))
    assert error_from_response(429, "", list(head.headers), body).retry_after == 7.0


def test_html_page_gives_its_title() -> None:
    head, body = parse_response(fixture("compat/error-502-html.http"))
    error = error_from_response(502, "Bad Gateway", list(head.headers), body)
    assert error.message == "502 Bad Gateway"
    assert error.kind == "server"


def test_gemini_bad_key_is_auth_not_bad_request() -> None:
    head, body = parse_response(fixture("gemini/error-400.http"))
    error = error_from_response(400, "", list(head.headers), body)
    assert error.kind == "auth"
    assert error.provider_type == "INVALID_ARGUMENT"


def test_http_date_retry_after_is_passed_through() -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    error = error_from_response(503, "", [(b"retry-after", date.encode())], b"")
    assert error.retry_after is None
    assert error.retry_after_date == date
    assert error.kind == "overloaded"
    assert error.message == "HTTP 503"


def test_redirect_names_location_and_is_not_followed() -> None:
    error = error_from_response(301, "Moved", [(b"location", b"https://evil.example/")], b"")
    assert error.kind == "redirect"
    assert "https://evil.example/" in error.message
    assert not error.retryable


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7", 7.0), ("2.524s", 2.524), ("12m57.6s", 777.6), ("120ms", 0.12), ("1h2m3s", 3723.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "-3", "3x", "s", "nan", "inf", "1m 2s"])
def test_parse_duration_refuses_garbage(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "bad_request"), (401, "auth"), (402, "billing"), (403, "permission"),
     (404, "not_found"), (408, "timeout"), (418, "bad_request"), (422, "bad_request"),
     (429, "rate_limit"), (500, "server"), (502, "server"), (503, "overloaded"),
     (529, "overloaded"), (307, "redirect")],
)
def test_kind_for_status(status: int, kind: str) -> None:
    assert kind_for_status(status) == kind


@given(
    status=st.integers(300, 599),
    body=st.binary(max_size=300),
    headers=st.lists(
        st.tuples(st.sampled_from([b"retry-after", b"x-ratelimit-reset-tokens", b"x"]),
                  st.binary(max_size=20)),
        max_size=3,
    ),
)
def test_never_raises_on_any_body(
    status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    error = error_from_response(status, "Reason", headers, body)
    assert error.message
    assert error.status == status


# -- pinned by mutation testing (mutate/run.py httperrors) ----------------------------


def test_google_details_skip_entries_that_are_not_objects() -> None:
    # A non-object entry is skipped, not the end of the list: the RetryInfo after it
    # still gives the wait and the reason after it still makes a bad key "auth".
    body = (
        b'{"error": {"code": 400, "message": "bad key", "status": "INVALID_ARGUMENT",'
        b' "details": ["junk", {"retryDelay": "3s"}, 7, {"reason": "API_KEY_INVALID"}]}}'
    )
    error = error_from_response(400, "Bad Request", [], body)
    assert error.retry_after == 3.0
    assert error.kind == "auth"
    assert error.message == "bad key"


def test_flat_detail_field_is_the_message() -> None:
    # FastAPI-style servers (vLLM's front, many proxies): {"detail": "..."}.
    error = error_from_response(422, "Unprocessable", [], b'{"detail": "field required"}')
    assert error.message == "field required"
    assert error.kind == "bad_request"


def test_flat_message_wins_over_detail() -> None:
    body = b'{"message": "from message", "detail": "from detail", "type": "invalid"}'
    error = error_from_response(400, "", [], body)
    assert error.message == "from message"
    assert error.provider_type == "invalid"


def test_html_title_with_invalid_utf8_is_replaced_not_raised() -> None:
    body = b"<html><title>Bad \xff Gateway</title></html>"
    error = error_from_response(502, "Bad Gateway", [], body)
    assert error.message == "Bad \ufffd Gateway"


def test_plain_text_body_is_the_message() -> None:
    error = error_from_response(502, "Bad Gateway", [], b"  upstream connect error \xfe \n")
    assert error.message == "upstream connect error \ufffd"


def test_markup_without_title_gives_the_status_line() -> None:
    error = error_from_response(502, "Bad Gateway", [], b"<html><body>oops</body></html>")
    assert error.message == "HTTP 502 Bad Gateway"
    assert error.partial == ""  # the default: no answer text came before the error


@pytest.mark.parametrize(
    ("status", "kind"),
    [(299, "bad_request"), (300, "redirect"), (399, "redirect"), (499, "bad_request"),
     (599, "server")],
)
def test_kind_for_status_at_the_range_edges(status: int, kind: str) -> None:
    assert kind_for_status(status) == kind


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("0.5", 0.5), (" 3 ", 3.0)])
def test_parse_duration_small_numbers(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def _ratelimit(**values: str) -> list[tuple[bytes, bytes]]:
    return [(f"x-ratelimit-{k.replace('_', '-')}".encode(), v.encode()) for k, v in values.items()]


def test_a_429_with_only_the_requests_reset_waits_for_it() -> None:
    error = error_from_response(429, "", _ratelimit(reset_requests="1.5s"), b"")
    assert error.retry_after == 1.5


def test_a_429_waits_for_the_dry_bucket_not_the_longest() -> None:
    headers = _ratelimit(
        reset_requests="1s", remaining_requests=" 0 ", reset_tokens="5s", remaining_tokens="900"
    )
    assert error_from_response(429, "", headers, b"").retry_after == 1.0
    headers = _ratelimit(
        reset_requests="1s", remaining_requests="7", reset_tokens="5s", remaining_tokens="0"
    )
    assert error_from_response(429, "", headers, b"").retry_after == 5.0


def test_a_429_with_no_dry_bucket_waits_for_the_longest() -> None:
    headers = _ratelimit(reset_requests="4s", reset_tokens="2s", remaining_tokens="10")
    assert error_from_response(429, "", headers, b"").retry_after == 4.0
    headers = _ratelimit(reset_requests="4s", reset_tokens="6s")
    assert error_from_response(429, "", headers, b"").retry_after == 6.0


def test_rate_limit_headers_are_ignored_on_other_statuses() -> None:
    headers = _ratelimit(reset_requests="4s", remaining_requests="0")
    assert error_from_response(503, "", headers, b"").retry_after is None


def test_redirect_message_exactly() -> None:
    error = error_from_response(302, "Found", [(b"location", b"https://x.example/v1")], b"")
    assert error.message == (
        "HTTP 302 redirect to https://x.example/v1 not followed (an API redirect could "
        "carry the key to another host); check the base URL"
    )
    error = error_from_response(308, "Permanent Redirect", [], b'{"message": "moved"}')
    assert error.message == (
        "HTTP 308 redirect to an unnamed location not followed (an API redirect could "
        "carry the key to another host); check the base URL"
    )


def test_message_bound_at_the_limit_and_one_past() -> None:
    at = error_from_response(500, "", [], b'{"message": "' + b"m" * 2000 + b'"}')
    assert at.message == "m" * 2000
    past = error_from_response(500, "", [], b'{"message": "' + b"m" * 2001 + b'"}')
    assert past.message == "m" * 2000 + "..."
