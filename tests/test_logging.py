"""The ``libchatty`` logger (bindings/_exchange.py): DEBUG records for requests, statuses,
retries, fallbacks, timeouts and pooled connections -- exact texts -- nothing per read or
per delta, and never a credential. Driven by test_driver's scripted fake backend (no
socket, no clock), plus real clients against a loopback server."""

from __future__ import annotations

import logging

import pytest
from libchatty.bindings._api import Timeout
from libchatty.bindings._config import make_config
from libchatty.bindings._log import request_line as _request_line
from libchatty.bindings._pool import Pool
from libchatty.bindings.blocking import Client
from test_driver import STALL, FakeConn, config, json_error, run, sse_response
from test_keepalive import STALE_408, Turn, json_answer, serving
from wire import fixture

from libchatty.events import Done, Error
from libchatty.exceptions import ChatError

KEY = ("http", "api.test", 80)
REQUEST = "request POST /v1/chat/completions (provider openai-chat)"
SECRET = "sk-proj-LOGGED-NEVER-0123456789abcdef"


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="libchatty")
    return caplog


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "libchatty")
    return [r.getMessage() for r in caplog.records if r.name == "libchatty"]


def test_silent_by_default(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing configured: stdlib's last resort prints WARNING and above only, and every
    # record is DEBUG.
    assert logging.getLogger("libchatty").getEffectiveLevel() == logging.WARNING
    caplog.set_level(logging.INFO)
    run([[json_error(503, "busy"), sse_response(["ok"])]])
    assert [r for r in caplog.records if r.name == "libchatty"] == []


def test_a_retry(log: pytest.LogCaptureFixture) -> None:
    events, _, _ = run([[json_error(503, "busy"), sse_response(["ok"])]], jitter=1.0)
    assert isinstance(events[-1], Done)
    assert messages(log) == [
        REQUEST,
        "response status 503: overloaded",
        "retry 1 of 2 in 0.50 s after overloaded (status 503)",
        "reusing a pooled connection to api.test:80",
        REQUEST,
        "response status 200: done",
    ]


def test_a_fallback(log: pytest.LogCaptureFixture) -> None:
    rejected = json_error(400, "Streaming is not supported for this model")
    body = fixture("openai-chat/nonstream-text.http")
    events, exchange, _ = run([[rejected], [body]], pool=Pool())
    assert isinstance(events[-1], Done) and exchange.fell_back
    assert messages(log) == [
        REQUEST,
        "response status 400: bad_request",
        "falling back to a non-streaming request after bad_request (status 400)",
        "reusing a pooled connection to api.test:80",
        REQUEST,
        # the fake's 400 connection has nothing more to say: closed as a stale one
        "pooled connection to api.test:80 was closed by the server; reconnecting",
        REQUEST,
        "response status 200: done",
    ]


def test_reuse_and_discard(log: pytest.LogCaptureFixture) -> None:
    pool = Pool()
    clean, dirty = FakeConn("clean", [sse_response(["ok"])]), FakeConn("dirty", [])
    dirty.waiting = True
    pool.put(KEY, clean)
    pool.put(KEY, dirty)
    run([], pool=pool)
    assert messages(log) == [
        "discarding a pooled connection to api.test:80: unexpected data or end of stream "
        "waiting on it",
        "reusing a pooled connection to api.test:80",
        REQUEST,
        "response status 200: done",
    ]


def test_a_timeout_and_a_stall(log: pytest.LogCaptureFixture) -> None:
    cut = sse_response(["a"], done=False)
    run([[cut, STALL]], cfg=config(timeout=Timeout(idle=5)))
    run([[cut, STALL]], cfg=config(timeout=Timeout(idle=5, stall=2)))
    assert messages(log) == [
        REQUEST,
        "gave up: no data from the server for 5 s (idle timeout)",
        REQUEST,
        "gave up: no content from the server for 2 s (stall timeout)",
    ]


def test_connection_not_kept(log: pytest.LogCaptureFixture) -> None:
    closing = sse_response(["a"]).replace(b"200 OK\r\n", b"200 OK\r\nConnection: close\r\n")
    run([[closing]])
    assert messages(log) == [
        REQUEST,
        "response status 200: done",
        "closing the connection to api.test:80: the response was not read to its end or "
        "the server asked to close",
    ]


def test_nothing_per_read_or_per_delta(log: pytest.LogCaptureFixture) -> None:
    pieces = [f"t{i} " for i in range(500)]
    response = sse_response(pieces)
    reads = [response[i:i + 7] for i in range(0, len(response), 7)]  # thousands of reads
    events, _, _ = run([reads])
    assert len(events) == 501
    assert messages(log) == [REQUEST, "response status 200: done"]


def test_request_line_never_shows_query_values() -> None:
    request = (b"POST /v1beta/models/g:streamGenerateContent?alt=sse&key=AIzaSECRET HTTP/1.1"
               b"\r\nHost: x\r\n\r\n")
    assert _request_line(request) == "POST /v1beta/models/g:streamGenerateContent?alt=…&key=…"
    assert _request_line(b"GET / HTTP/1.1\r\n\r\n") == "GET /"


def test_the_key_is_in_no_record(log: pytest.LogCaptureFixture) -> None:
    # Errors quoting the key, retries, a fallback, a stale pooled connection, a 408:
    # everything that logs, with a key configured. Fake transport first...
    cfg = make_config(base_url="http://api.test/v1", api_key=SECRET, env={}, max_retries=1)
    rejected = json_error(400, f"stream not supported for key {SECRET}")
    quoting_503 = json_error(503, f"overloaded for key {SECRET}")
    echo = json_error(401, f"Incorrect API key provided: {SECRET}")
    events, exchange, _ = run([[rejected, quoting_503, echo]], cfg=cfg)
    assert exchange.fell_back and isinstance(events[-1], Error) and events[-1].status == 401
    # ... then a real client with SECRET, against a loopback server that echoes it.
    body_401 = json_error(401, f"Incorrect API key provided: {SECRET[:12]}****{SECRET[-4:]}")
    turns = (Turn(json_answer("one"), later=STALE_408, close=True),
             Turn(json_error(503, f"busy, {SECRET}")), Turn(body_401))
    with serving(*turns) as server, Client(
        base_url=server.base_url, api_key=SECRET, env={}, max_retries=1,
        timeout=Timeout(connect=10, idle=10),
    ) as client:
        assert client.chat("hi", "m").text == "one"
        server.release()
        with pytest.raises(ChatError) as info:
            client.chat("hi", "m")
    assert info.value.error.status == 401
    text = log.text + "".join(str(r.args) for r in log.records)
    assert "falling back" in text and "retry 1 of 1" in text
    assert "discarding a pooled connection" in text
    assert SECRET not in text and SECRET[:8] not in text and SECRET[-8:] not in text
    assert isinstance(info.value.error, Error)
