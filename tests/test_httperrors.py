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
