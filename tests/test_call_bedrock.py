"""Bedrock through Call: a SigV4-signed request (botocore's SigV4Auth as the oracle), the
event-stream fixtures through the raw and framed doors at any split, exceptions inside the
stream, a cut stream, HTTP errors named by x-amzn-ErrorType, and AWS secrets redacted."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime, timezone
from unittest import mock

import h11
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from wire import chunked_response, cut_at, fixture, fixture_names

from libchatty import (
    AWSCredentials,
    Call,
    ChatRequest,
    Delta,
    Done,
    Endpoint,
    Error,
    Event,
    LocalProtocolError,
    Message,
)
from libchatty.dialects import get_dialect
from libchatty.eventstream import EventStreamDecoder
from libchatty.exceptions import RemoteProtocolError
from libchatty.redact import MARKER, Redactor

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CREDS = AWSCredentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FQoGZXIvYXdzEXAMPLETOKEN"
)
AT = datetime(2025, 5, 1, 12, 34, 56, tzinfo=timezone.utc)
BASE = "https://bedrock-runtime.us-east-1.amazonaws.com"
ENDPOINT = Endpoint(BASE, None, dialect="bedrock", region="us-east-1", aws_credentials=CREDS)
EVENTSTREAM = "application/vnd.amazon.eventstream"
STREAMS = [name for name in fixture_names("bedrock") if name.endswith(".bin")]


def make_call(stream: bool = True, now: datetime | None = AT) -> Call:
    return Call(ENDPOINT, ChatRequest(MODEL, [Message("user", "hi")], stream=stream), now=now)


def botocore_authorization(url: str, headers: list[tuple[str, str]], body: bytes) -> str:
    """botocore's Authorization for the same request at AT (its clock frozen)."""
    request = AWSRequest(method="POST", url=url, data=body)
    for name, value in headers:
        request.headers[name] = value
    creds = Credentials(CREDS.access_key_id, CREDS.secret_access_key, CREDS.session_token)
    naive = AT.replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        SigV4Auth(creds, "bedrock", "us-east-1").add_auth(request)
    return str(request.headers["Authorization"])


def parse_request(data: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """(target, headers, body) as a server reads them (h11, not the code under test)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    head = conn.next_event()
    assert isinstance(head, h11.Request)
    body = conn.next_event()
    assert isinstance(body, h11.Data)
    headers = [(n.decode(), v.decode()) for n, v in head.headers.raw_items()]
    return head.target.decode(), headers, bytes(body.data)


# Added by the signer (botocore adds its own) or never signed (proxies rewrite it).
UNSIGNED = {"authorization", "x-amz-date", "x-amz-security-token", "user-agent"}


def test_the_raw_request_is_signed_as_botocore_signs_it() -> None:
    target, headers, body = parse_request(make_call().start())
    assert target == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    sent = dict((n.lower(), v) for n, v in headers)
    assert sent["accept"] == EVENTSTREAM
    assert sent["x-amz-date"] == "20250501T123456Z"
    assert sent["x-amz-security-token"] == CREDS.session_token
    unsigned = [(n, v) for n, v in headers if n.lower() not in UNSIGNED]
    assert sent["authorization"] == botocore_authorization(BASE + target, unsigned, body)


def test_the_framed_request_is_signed_as_botocore_signs_it() -> None:
    request = make_call().http_request()
    assert (
        request.url == BASE + "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    )
    sent = dict((n.lower(), v) for n, v in request.headers)
    assert "content-length" not in sent and "host" not in sent
    # The stack adds Host (signed: the signer names it) and Content-Length (not signed).
    unsigned = [(n, v) for n, v in request.headers if n.lower() not in UNSIGNED]
    oracle = botocore_authorization(
        request.url, [("Host", "bedrock-runtime.us-east-1.amazonaws.com"), *unsigned], request.body
    )
    assert sent["authorization"] == oracle
    assert "content-length" not in oracle.split("SignedHeaders=")[1].split(",")[0]


def test_a_signed_call_without_now_is_refused() -> None:
    for door in ("start", "http_request"):
        call = make_call(now=None)
        with pytest.raises(LocalProtocolError) as info:
            getattr(call, door)()
        assert str(info.value) == "a SigV4-signed Bedrock call needs now= (the current UTC time)"


def dialect_events(body: bytes) -> list[Event]:
    """What the dialect makes of a whole stream, read here without Call; an Error gets the
    status 200 that Call fills in."""
    framing = EventStreamDecoder()
    decoder = get_dialect("bedrock").stream_decoder(ChatRequest(MODEL, [Message("user", "hi")]))
    events: list[Event] = []
    got: list[Event] = []
    for message in framing.feed(body):
        got = decoder.stream_message(message)
        events += got
        if got and type(got[-1]) is not Delta:
            break
    else:
        with contextlib.suppress(RemoteProtocolError):
            framing.close()
        events.append(decoder.end())
    last = events[-1]
    if isinstance(last, Error):
        events[-1] = replace(last, status=200)
    return events


@pytest.mark.parametrize("name", STREAMS)
def test_every_stream_fixture_through_the_raw_door(name: str) -> None:
    body = fixture(name)
    response = chunked_response([body], EVENTSTREAM)
    want = dialect_events(body)
    bytewise = [response[i : i + 1] for i in range(len(response))]
    # stream-cut's Error is made at the body's end, so its body was read whole too.
    at_end = isinstance(want[-1], Done) or name == "bedrock/stream-cut.bin"
    for pieces, reusable in ([response], True), (bytewise, at_end):
        # Whole: the body was read to its end with the terminal event, so even after an
        # Error the connection is at a clean boundary. Byte by byte, reading stops at an
        # Error (the rest is never read: not reusable); after Done it drains to the end.
        call = make_call()
        call.start()
        events: list[Event] = []
        for piece in pieces:
            if call.wants_data:
                events += call.receive_data(piece)
        assert events == want, name
        assert not call.wants_data
        assert call.reusable is reusable


@given(
    st.sampled_from(STREAMS),
    st.lists(st.integers(0, 1 << 16), max_size=10),
    st.lists(st.integers(0, 1 << 16), max_size=10),
)
def test_stream_fixtures_at_random_splits_through_both_doors(
    name: str, cuts: list[int], body_cuts: list[int]
) -> None:
    body = fixture(name)
    want = dialect_events(body)
    raw = make_call()
    raw.start()
    events: list[Event] = []
    for piece in cut_at(chunked_response([body], EVENTSTREAM), cuts):
        if raw.wants_data:
            events += raw.receive_data(piece)
    assert events == want
    framed = make_call()
    framed.http_request()
    events = framed.receive_head(200, {"Content-Type": EVENTSTREAM})
    for piece in cut_at(body, body_cuts):
        if framed.wants_data:
            events += framed.receive_body(piece)
    if framed.wants_data:
        events += framed.receive_end()
    assert events == want


def test_a_throttling_exception_mid_stream_is_a_retryable_rate_limit_with_the_partial() -> None:
    call = make_call()
    call.start()
    events = call.receive_data(
        chunked_response([fixture("bedrock/stream-throttling.bin")], EVENTSTREAM)
    )
    assert events == [
        Delta("Partial an"),
        Delta("swer"),
        Error(
            "rate_limit",
            "Too many tokens, please wait before trying again.",
            status=200,
            retryable=True,
            partial="Partial answer",
            provider_type="throttlingException",
        ),
    ]


def test_a_stream_cut_inside_a_message_is_incomplete() -> None:
    # The HTTP body ends as framed, inside an event stream message.
    call = make_call()
    call.start()
    events = call.receive_data(chunked_response([fixture("bedrock/stream-cut.bin")], EVENTSTREAM))
    assert events[-1] == Error(
        "incomplete",
        "the Bedrock stream ended before messageStop",
        status=200,
        partial="The sky is blue because",
    )
    # The connection fails inside the HTTP body.
    text = chunked_response([fixture("bedrock/stream-text.bin")], EVENTSTREAM)
    call = make_call()
    call.start()
    events = call.receive_data(text[: len(text) // 2]) + call.receive_data(b"")
    assert isinstance(events[-1], Error)
    assert (events[-1].kind, events[-1].message) == (
        "incomplete",
        "the connection closed before the response ended",
    )
    assert events[-1].partial == "".join(e.text for e in events if isinstance(e, Delta))


def test_an_http_error_is_named_by_x_amzn_errortype() -> None:
    call = make_call()
    call.start()
    [error] = call.receive_data(fixture("bedrock/error-throttling.http"))
    assert error == Error(
        "rate_limit",
        "Too many requests, please wait before trying again.",
        status=429,
        retryable=True,
        provider_type="ThrottlingException",
    )
    assert isinstance(error, Error) and error.request_id == "0c0e2f3a-1111-4222-8333-944455556666"


def test_aws_secrets_are_redacted_from_errors() -> None:
    body = (
        b'{"message":"bad signature for '
        + CREDS.secret_access_key.encode()
        + b" with token "
        + (CREDS.session_token or "").encode()
        + b'"}'
    )
    head = (
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
        b"x-amzn-ErrorType: AccessDeniedException\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    call = make_call()
    call.start()
    [error] = call.receive_data(head + body)
    assert isinstance(error, Error)
    assert error.message == f"bad signature for {MARKER} with token {MARKER}"
    secrets = Redactor([CREDS.secret_access_key, CREDS.session_token or ""])
    assert not secrets.leaks(repr(error)) and not secrets.leaks(repr(error.headers))


# --- pinned by mutation testing (mutate/run.py callbody) ---------------------------------------


def test_aws_secrets_add_to_the_endpoints_own_and_no_token_is_no_secret() -> None:
    # Signed with a key pair but no session token, behind a gateway whose token header is
    # a credential too: both the AWS secret and the gateway token go; "XXXX" (nothing's
    # secret) stays.
    creds = AWSCredentials("AKIDEXAMPLE", CREDS.secret_access_key)
    endpoint = Endpoint(
        BASE,
        None,
        dialect="bedrock",
        region="us-east-1",
        aws_credentials=creds,
        headers={"x-gateway-token": "gw-token-0123456789"},
    )
    body = (
        b'{"message":"gateway gw-token-0123456789 refused XXXX signed with '
        + CREDS.secret_access_key.encode()
        + b'"}'
    )
    head = (
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
        b"x-amzn-ErrorType: AccessDeniedException\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    call = Call(endpoint, ChatRequest(MODEL, [Message("user", "hi")]), now=AT)
    call.start()
    [error] = call.receive_data(head + body)
    assert isinstance(error, Error)
    assert error.message == f"gateway {MARKER} refused XXXX signed with {MARKER}"
