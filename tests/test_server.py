"""The replay server over real loopback sockets.

Most tests talk to it with a raw h11 client and compare the bytes it serves with the
dialect's pure rendering (the server must add framing and nothing else); a few decode
the answer back with :class:`~libchatty.call.Call`, end to end.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import pytest
import trustme
from decoding import check_shape
from libchatty.bindings.server import DEFAULT_TEXT, Fault, ReplayServer
from peers import client_context, server_context
from wire import fixture

from libchatty.dialects import DIALECT_NAMES, get_dialect
from libchatty.endpoint import Endpoint
from libchatty.events import Done, Error, Event, ToolCall, Usage
from libchatty.replay import Renderer, Script, get_renderer, split_tokens
from libchatty.request import ChatRequest, Message

SCRIPT = Script(
    text="The quick brown fox jumps over the lazy dog, twice: café, naïve, 東京.",
    usage=Usage(12, 17, 29),
    model="replay-test",
)
TOOL_SCRIPT = Script(
    text="",
    tool_calls=(ToolCall("call_1", "get_weather", '{"city": "Paris"}'),),
    finish_reason="tool_calls",
    usage=Usage(20, 9, 29),
)


def _available() -> list[Any]:
    """Every dialect name: one that does not load is a failure here, never a skip."""
    for name in DIALECT_NAMES:
        get_dialect(name)
    return list(DIALECT_NAMES)


DIALECTS = _available()


# --- a small raw client --------------------------------------------------------------------
@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)  # body, per HTTP chunk
    closed_early: bool = False  # the server closed before the end of the body

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class RawClient:
    """One connection, h11 client side. Every read is bounded in count and time."""

    def __init__(self, server: ReplayServer, context: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection((server.host, server.port), timeout=10)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.conn = h11.Connection(h11.CLIENT)
        self.raw: list[bytes] = []  # every byte received, as received

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, method: str, target: str, body: Any = None, headers: Sequence[Any] = ()) -> None:
        if self.conn.our_state is h11.DONE:
            self.conn.start_next_cycle()
        data = (
            b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        )
        head = [("host", "localhost"), ("content-length", str(len(data))), *headers]
        if body is not None:
            head.append(("content-type", "application/json"))
        out = self.conn.send(h11.Request(method=method, target=target, headers=head))
        out += self.conn.send(h11.Data(data=data)) if data else b""
        out += self.conn.send(h11.EndOfMessage())
        self.sock.sendall(out)

    def next_event(self) -> Any:
        for _ in range(100_000):
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError:
                return None  # closed mid-body
            if event is not h11.NEED_DATA:
                return event
            data = self.sock.recv(65536)
            self.raw.append(data)
            self.conn.receive_data(data)
        raise AssertionError("no end of response")

    def read(self) -> Reply:
        reply = Reply()
        current: list[bytes] = []
        for _ in range(100_000):
            event = self.next_event()
            if event is None or isinstance(event, h11.ConnectionClosed):
                reply.closed_early = True
                break
            if isinstance(event, h11.Response):
                reply.status = event.status_code
                reply.headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                current.append(bytes(event.data))
                if event.chunk_end:
                    reply.chunks.append(b"".join(current))
                    current = []
            elif isinstance(event, h11.EndOfMessage):
                break
        if current:
            reply.chunks.append(b"".join(current))
        return reply

    def exchange(self, method: str, target: str, body: Any = None) -> Reply:
        self.send(method, target, body)
        return self.read()


def chat_request(name: str, server: ReplayServer, stream: bool = True) -> tuple[str, bytes]:
    """The target and body the dialect's client side would send."""
    endpoint = Endpoint(server.base_url, api_key="test-key", dialect=name)
    request = ChatRequest(model="replay-test", messages=[Message("user", "Hi!")], stream=stream)
    http = get_dialect(name).build_request(endpoint, request)
    return http.target, http.body


def post_chat(
    server: ReplayServer,
    name: str,
    stream: bool = True,
    times: int = 1,
    context: ssl.SSLContext | None = None,
) -> list[Reply]:
    """``times`` chat requests as dialect ``name``'s client side writes them, one after the
    other over one connection; their replies."""
    target, body = chat_request(name, server, stream)
    with RawClient(server, context) as client:
        return [client.exchange("POST", target, body) for _ in range(times)]


def dialect(name: str) -> Renderer:
    """The provider's side of dialect ``name``: what the server must serve, framed."""
    return get_renderer(name)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(script=SCRIPT) as running:
        yield running


# --- serving what the dialect renders -------------------------------------------------------
@pytest.mark.parametrize("name", DIALECTS)
def test_stream_is_the_rendering_with_chunked_framing(server: ReplayServer, name: str) -> None:
    (reply,) = post_chat(server, name)
    assert reply.status == 200
    assert reply.headers["transfer-encoding"] == "chunked"
    expected_type = {
        "ndjson": "application/x-ndjson",
        "eventstream": "application/vnd.amazon.eventstream",
    }.get(dialect(name).framing, "text/event-stream")
    assert reply.headers["content-type"] == expected_type
    assert reply.body == b"".join(dialect(name).render_stream(SCRIPT))
    assert not reply.closed_early


@pytest.mark.parametrize("name", DIALECTS)
def test_body_when_no_stream_is_asked(server: ReplayServer, name: str) -> None:
    (reply,) = post_chat(server, name, stream=False)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert reply.body == dialect(name).render_body(SCRIPT)


def test_token_delay_sends_one_event_per_chunk() -> None:
    with ReplayServer(script=SCRIPT, token_delay=0.001) as server:
        (reply,) = post_chat(server, "openai-chat")
    assert reply.chunks == dialect("openai-chat").render_stream(SCRIPT)


def test_without_delay_events_are_batched(server: ReplayServer) -> None:
    long = Script(text="word " * 5000)
    with ReplayServer(script=long) as server:
        (reply,) = post_chat(server, "openai-chat")
    events = dialect("openai-chat").render_stream(long)
    assert reply.body == b"".join(events)
    assert 1 < len(reply.chunks) < len(events) / 10


def test_text_is_tokenised_with_usage_and_the_requested_model() -> None:
    with ReplayServer(text="One two three.") as server:
        (reply,) = post_chat(server, "openai-chat", stream=False)
    answer = json.loads(reply.body)
    assert answer["model"] == "replay-test"
    assert answer["choices"][0]["message"]["content"] == "One two three."
    usage = answer["usage"]
    assert usage["completion_tokens"] == len(split_tokens("One two three.")) == 3
    assert usage["prompt_tokens"] >= 1
    assert usage["total_tokens"] == usage["prompt_tokens"] + 3


def test_default_text() -> None:
    with ReplayServer() as server:
        (reply,) = post_chat(server, "openai-chat", stream=False)
    assert json.loads(reply.body)["choices"][0]["message"]["content"] == DEFAULT_TEXT


def test_requests_are_recorded() -> None:
    with ReplayServer(script=SCRIPT, keep_credentials=True) as server:
        target, body = chat_request("openai-chat", server)
        with RawClient(server) as client:
            client.send("POST", target, body, headers=[("authorization", "Bearer test-key")])
            client.read()
    (recorded,) = server.requests
    assert recorded.method == "POST"
    assert recorded.target == "/v1/chat/completions"
    assert recorded.headers["authorization"] == "Bearer test-key"
    assert recorded.body == body
    assert recorded.json["stream"] is True
    assert recorded.json["messages"] == [{"role": "user", "content": "Hi!"}]


def test_keep_alive_carries_several_requests(server: ReplayServer) -> None:
    target, body = chat_request("openai-chat", server)
    with RawClient(server) as client:
        replies = [client.exchange("POST", target, body) for _ in range(3)]
        replies.append(client.exchange("GET", "/v1/models"))
    assert [r.status for r in replies] == [200, 200, 200, 200]
    assert server.connections == 1
    assert len(server.requests) == 4


def test_models_for_health(server: ReplayServer) -> None:
    with RawClient(server) as client:
        reply = client.exchange("GET", "/v1/models")
    assert reply.status == 200
    assert json.loads(reply.body)["data"][0]["id"] == "replay-test"


def test_unknown_path_is_404_and_bad_json_is_400(server: ReplayServer) -> None:
    with RawClient(server) as client:
        missing = client.exchange("POST", "/v1/embeddings", {"input": "x"})
        bad = client.exchange("POST", "/v1/chat/completions", b"{not json")
    assert missing.status == 404
    assert "/v1/embeddings" in json.loads(missing.body)["error"]["message"]
    assert bad.status == 400
    assert json.loads(bad.body)["error"]["message"]


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 70_000, 431),
    ],
    ids=["garbage", "oversized"],
)
def test_a_broken_request_head_gets_an_error_and_a_close(
    server: ReplayServer, head: bytes, status: int
) -> None:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head)
        received = []
        for _ in range(1000):
            data = sock.recv(65536)
            if not data:
                break
            received.append(data)
    answer = b"".join(received)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:100]
    assert server.requests == []


def test_recorded_requests_are_bounded() -> None:
    with ReplayServer(script=SCRIPT, max_recorded=4) as server, RawClient(server) as client:
        for i in range(10):
            client.exchange("GET", f"/v1/models?i={i}")
        kept = [r.target for r in server.requests]
    assert 2 <= len(kept) <= 4
    assert kept[-1] == "/v1/models?i=9"
    assert kept == sorted(kept)


def test_async_with_on_the_running_loop() -> None:
    async def main() -> bytes:
        async with ReplayServer(script=SCRIPT) as server:
            reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), timeout=10)
            writer.close()
            return answer

    answer = asyncio.run(main())
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'"replay-test"' in answer


def test_many_concurrent_connections(server: ReplayServer) -> None:
    target, body = chat_request("openai-chat", server)
    clients = [RawClient(server) for _ in range(64)]
    try:
        for client in clients:
            client.send("POST", target, body)
        replies = [client.read() for client in clients]
    finally:
        for client in clients:
            client.close()
    expected = b"".join(dialect("openai-chat").render_stream(SCRIPT))
    assert all(reply.body == expected for reply in replies)
    assert server.connections == 64


def test_closing_with_idle_and_stalled_connections_does_not_hang() -> None:
    with ReplayServer(script=SCRIPT, faults=[Fault("stall", seconds=3600)]) as server:
        idle = socket.create_connection((server.host, server.port), timeout=10)
        target, body = chat_request("openai-chat", server)
        stalled = RawClient(server)
        stalled.send("POST", target, body)
        for _ in range(1000):  # until the stalled request is in (bounded: 10 s at most)
            if server.requests:
                break
            time.sleep(0.01)
        assert server.connections == 2
    # The context exited (pytest-timeout guards against a hang): both see the close.
    assert idle.recv(10) == b""
    assert stalled.read().closed_early
    idle.close()
    stalled.close()


# --- faults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DIALECTS)
def test_status_fault_has_the_dialect_error_body(server: ReplayServer, name: str) -> None:
    server.add_fault(Fault("status", status=401, message="bad key"))
    reply, after = post_chat(server, name, times=2)  # the fault was used up by the first
    assert reply.status == 401
    assert reply.body == dialect(name).render_error(401, "bad key")
    assert "retry-after" not in reply.headers
    assert after.status == 200


def test_429_has_retry_after(server: ReplayServer) -> None:
    server.add_fault(Fault("status", status=429))
    server.add_fault(Fault("status", status=429, retry_after=7))
    server.add_fault(Fault("status", status=503, retry_after=0.25))
    server.add_fault(Fault("status", status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"))
    replies = post_chat(server, "openai-chat", times=4)
    assert [r.status for r in replies] == [429, 429, 503, 429]
    assert [r.headers["retry-after"] for r in replies] == [
        "1",
        "7",
        "0.25",
        "Wed, 21 Oct 2015 07:28:00 GMT",
    ]
    assert json.loads(replies[0].body)["error"]["message"]


def test_faults_are_taken_in_order_one_per_request() -> None:
    faults = [Fault("status", status=500), Fault("status", status=502)]
    with ReplayServer(script=SCRIPT, faults=faults) as server:
        server.add_fault(Fault("status", status=504))
        statuses = [reply.status for reply in post_chat(server, "openai-chat", times=4)]
    assert statuses == [500, 502, 504, 200]


@pytest.mark.parametrize("name", DIALECTS)
def test_cut_after_events(server: ReplayServer, name: str) -> None:
    server.add_fault(Fault("cut", after_events=2))
    (reply,) = post_chat(server, name)
    assert reply.status == 200
    assert reply.closed_early
    assert reply.body == b"".join(dialect(name).render_stream(SCRIPT)[:2])


def test_cut_before_any_response(server: ReplayServer) -> None:
    server.add_fault(Fault("cut"))
    target, body = chat_request("openai-chat", server)
    with RawClient(server) as client:
        client.send("POST", target, body)
        assert client.sock.recv(100) == b""


def test_cut_halfway_through_a_body(server: ReplayServer) -> None:
    server.add_fault(Fault("cut", after_events=0))
    (reply,) = post_chat(server, "openai-chat", stream=False)
    full = dialect("openai-chat").render_body(SCRIPT)
    assert reply.closed_early
    assert reply.body == full[: len(full) // 2]


@pytest.mark.parametrize("name", DIALECTS)
def test_stream_error_event(server: ReplayServer, name: str) -> None:
    server.add_fault(Fault("stream_error", after_events=3, message="overloaded, sorry"))
    reply, again = post_chat(server, name, times=2)  # the connection is still alive
    d = dialect(name)
    assert reply.body == b"".join(d.render_stream(SCRIPT)[:3]) + d.render_stream_error(
        "overloaded, sorry"
    )
    assert not reply.closed_early
    assert again.body == b"".join(d.render_stream(SCRIPT))


@pytest.mark.parametrize("name", DIALECTS)
def test_malformed_event(server: ReplayServer, name: str) -> None:
    server.add_fault(Fault("malformed", after_events=1))
    (reply,) = post_chat(server, name)
    events = dialect(name).render_stream(SCRIPT)
    assert reply.body.startswith(events[0])
    assert reply.body.endswith(b"".join(events[2:]))
    broken = reply.body[len(events[0]) : len(reply.body) - len(b"".join(events[2:]))]
    assert broken != events[1]
    payload = broken.removeprefix(b"data: ").strip()
    with pytest.raises(ValueError):
        json.loads(payload)


def test_malformed_body(server: ReplayServer) -> None:
    server.add_fault(Fault("malformed"))
    (reply,) = post_chat(server, "openai-chat", stream=False)
    assert reply.status == 200 and not reply.closed_early
    with pytest.raises(ValueError):
        json.loads(reply.body)


@pytest.mark.parametrize("name", DIALECTS)
def test_json_fault_answers_a_stream_request_with_a_body(server: ReplayServer, name: str) -> None:
    server.add_fault(Fault("json"))
    (reply,) = post_chat(server, name)
    assert reply.headers["content-type"] == "application/json"
    assert reply.body == dialect(name).render_body(SCRIPT)


def test_reject_stream_then_plain_request_succeeds(server: ReplayServer) -> None:
    server.add_fault(Fault("reject_stream"))
    server.add_fault(Fault("reject_stream"))
    target, body = chat_request("openai-chat", server)
    _, plain = chat_request("openai-chat", server, stream=False)
    with RawClient(server) as client:
        rejected = client.exchange("POST", target, body)
        answered = client.exchange("POST", target, plain)  # takes the 2nd fault, not a stream
    assert rejected.status == 400
    error = json.loads(rejected.body)["error"]
    assert "stream" in error["message"] and error["param"] == "stream"
    assert answered.status == 200
    assert answered.body == dialect("openai-chat").render_body(SCRIPT)


def test_stall_sends_nothing_then_carries_on(server: ReplayServer) -> None:
    server.add_fault(Fault("stall", after_events=2, seconds=0.5))
    target, body = chat_request("openai-chat", server)
    events = dialect("openai-chat").render_stream(SCRIPT)
    with RawClient(server) as client:
        client.send("POST", target, body)
        head = client.next_event()
        assert isinstance(head, h11.Response)
        got: list[bytes] = []
        while len(b"".join(got)) < len(b"".join(events[:2])):
            event = client.next_event()
            assert isinstance(event, h11.Data)
            got.append(bytes(event.data))
        assert b"".join(got) == b"".join(events[:2])
        client.sock.settimeout(0.05)  # the server is stalled for 0.5 s: nothing comes now
        with pytest.raises(socket.timeout):
            client.sock.recv(100)
        client.sock.settimeout(10)
        rest = client.read()
    assert b"".join(got) + rest.body == b"".join(events)


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="status"):
        Fault("status", status=1000)
    with pytest.raises(ValueError, match="after_events"):
        Fault("cut", after_events=-1)
    with pytest.raises(ValueError, match="text or a script"):
        ReplayServer(text="a", script=SCRIPT)


# --- transcripts ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "openai-chat/stream-text.http",
        "openai-chat/nonstream-tool-calls.http",
        "anthropic/stream-text.http",
        "openai-chat/error-429.http",
    ],
)
def test_transcript_is_replayed_byte_for_byte_with_keep_alive(name: str) -> None:
    data = fixture(name)
    with ReplayServer(transcript=data) as server:
        with RawClient(server) as client:
            first = client.exchange("POST", "/v1/chat/completions", {"stream": True})
            received = b"".join(client.raw)
            second = client.exchange("POST", "/v1/anything", {"stream": True})
        assert server.connections == 1
    assert received == data
    assert second.body == first.body and second.status == first.status


def test_unframed_transcript_closes_the_connection() -> None:
    data = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: [DONE]\n\n"
    with ReplayServer(transcript=data) as server, RawClient(server) as client:
        client.send("POST", "/v1/chat/completions", {})
        received = []
        for _ in range(100):
            chunk = client.sock.recv(65536)
            if not chunk:
                break
            received.append(chunk)
    assert b"".join(received) == data


# --- TLS --------------------------------------------------------------------------------------
def test_tls_with_trustme(ca: trustme.CA) -> None:
    server_ctx = server_context(ca, "localhost", "127.0.0.1")
    client_ctx = client_context(ca)
    with ReplayServer(script=SCRIPT, ssl_context=server_ctx) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        replies = post_chat(server, "openai-chat", times=2, context=client_ctx)
        assert server.connections == 1
    expected = b"".join(dialect("openai-chat").render_stream(SCRIPT))
    assert [r.body for r in replies] == [expected, expected]


# --- end to end with Call -----------------------------------------------------------------
def call_events(server: ReplayServer, name: str, stream: bool) -> list[Event]:
    from libchatty.call import Call

    endpoint = Endpoint(server.base_url, api_key="test-key", dialect=name)
    request = ChatRequest(model="replay-test", messages=[Message("user", "Hi!")], stream=stream)
    call = Call(endpoint, request)
    events: list[Event] = []
    with socket.create_connection((call.host, call.port), timeout=10) as sock:
        sock.sendall(call.start())
        for _ in range(100_000):
            if not call.wants_data:
                break
            data = sock.recv(65536)
            events.extend(call.receive_data(data))
            if not data:
                break
    return events


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize("name", DIALECTS)
def test_call_decodes_what_the_server_serves(server: ReplayServer, name: str, stream: bool) -> None:
    done = check_shape(call_events(server, name, stream))  # the deltas join to done.text
    assert isinstance(done, Done), done
    assert done.text == SCRIPT.text
    assert done.finish_reason == "stop"
    assert done.usage == SCRIPT.usage


@pytest.mark.parametrize("name", DIALECTS)
def test_call_decodes_tool_calls(name: str) -> None:
    with ReplayServer(script=TOOL_SCRIPT) as server:
        done = check_shape(call_events(server, name, True))
    assert isinstance(done, Done), done
    assert done.finish_reason == "tool_calls"
    (call,) = done.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}


@pytest.mark.parametrize("name", DIALECTS)
def test_call_sees_a_cut_as_incomplete_with_partial_text(server: ReplayServer, name: str) -> None:
    # Halfway: some text has gone out whatever the dialect's preamble events are.
    server.add_fault(Fault("cut", after_events=len(dialect(name).render_stream(SCRIPT)) // 2))
    error = check_shape(call_events(server, name, True))  # partial: the text delivered
    assert isinstance(error, Error), error
    assert error.kind == "incomplete"
    assert error.partial and SCRIPT.text.startswith(error.partial)
    assert error.partial != SCRIPT.text


def test_call_sees_a_401_and_a_stream_error(server: ReplayServer) -> None:
    server.add_fault(Fault("status", status=401, message="Incorrect API key provided"))
    server.add_fault(Fault("stream_error", after_events=3))
    auth = check_shape(call_events(server, "openai-chat", True))
    provider = check_shape(call_events(server, "openai-chat", True))
    assert isinstance(auth, Error) and auth.kind == "auth" and auth.status == 401
    assert isinstance(provider, Error) and provider.kind == "provider"
    assert provider.partial and SCRIPT.text.startswith(provider.partial)


# --- python -m libchatty.serve --------------------------------------------------------------
def test_standalone_server_prints_its_url_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    src = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "libchatty.serve", "--print-url", "--text", "Hi there"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=src,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
        body = json.dumps({"model": "m", "messages": [], "stream": False}).encode()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            conn = h11.Connection(h11.CLIENT)
            headers = [("host", host), ("content-length", str(len(body)))]
            sock.sendall(
                conn.send(
                    h11.Request(method="POST", target="/v1/chat/completions", headers=headers)
                )
                + conn.send(h11.Data(data=body))
                + conn.send(h11.EndOfMessage())
            )
            chunks = []
            for _ in range(1000):
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
        assert json.loads(b"".join(chunks))["choices"][0]["message"]["content"] == "Hi there"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


# --- credentials never leave the client's request (issue 9, point 3) ---------------------------
SECRET = "sk-live-SECRET-0123456789"
CREDENTIALS = [
    ("authorization", f"Bearer {SECRET}"),
    ("x-api-key", SECRET),
    ("api-key", SECRET),
    ("x-goog-api-key", SECRET),
    ("proxy-authorization", f"Basic {SECRET}"),
]


def test_credentials_are_recorded_redacted_by_default(server: ReplayServer) -> None:
    target, body = chat_request("gemini", server)
    target += f"&key={SECRET}&Api_Key={SECRET}&other=1"
    with RawClient(server) as client:
        client.send("POST", target, body, headers=[*CREDENTIALS, ("x-title", "mine")])
        reply = client.read()
    assert reply.status == 200
    (recorded,) = server.requests
    assert recorded.target == (
        "/v1/models/replay-test:streamGenerateContent?alt=sse&key=***&Api_Key=***&other=1"
    )
    assert {name: recorded.headers[name] for name, _ in CREDENTIALS} == {
        name: "***" for name, _ in CREDENTIALS
    }
    assert recorded.headers["x-title"] == "mine"
    assert SECRET not in repr(server.requests)


def test_recorded_request_repr_shows_no_header_value_nor_body() -> None:
    with ReplayServer(script=SCRIPT, keep_credentials=True) as server:
        target, body = chat_request("openai-chat", server)
        with RawClient(server) as client:
            client.send("POST", target + f"?key={SECRET}", body, headers=CREDENTIALS)
            client.read()
    (recorded,) = server.requests
    assert recorded.headers["x-api-key"] == SECRET  # kept, as asked
    assert repr(recorded) == (
        "RecordedRequest(method='POST', target='/v1/chat/completions?key=***', "
        "headers=[host, content-length, authorization, x-api-key, api-key, x-goog-api-key, "
        f"proxy-authorization, content-type], body=<{len(body)} bytes>)"
    )


def test_a_404_names_the_path_only(server: ReplayServer) -> None:
    with RawClient(server) as client:
        client.send("POST", f"/v1/embeddings?key={SECRET}", {"input": "x"}, headers=CREDENTIALS)
        missing = client.read()
    assert missing.status == 404
    assert json.loads(missing.body)["error"]["message"] == "no replay route for POST /v1/embeddings"
    assert SECRET.encode() not in b"".join(client.raw)


def test_a_404_path_is_cut(server: ReplayServer) -> None:
    with RawClient(server) as client:
        at_limit = client.exchange("GET", "/" + "p" * 199)
        past_limit = client.exchange("GET", "/" + "p" * 200)
    assert json.loads(at_limit.body)["error"]["message"] == "no replay route for GET /" + "p" * 199
    assert json.loads(past_limit.body)["error"]["message"] == (
        "no replay route for GET /" + "p" * 199 + "..."
    )


@pytest.mark.parametrize(
    ("head", "status", "message"),
    [
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization Bearer "
            + SECRET.encode()
            + b"\r\n\r\n",
            400,
            "bad request: malformed HTTP request head",
        ),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-api-key: "
            + SECRET.encode()
            + b"\r\nx-big: "
            + b"a" * 70_000,
            431,
            "request head too large",
        ),
    ],
    ids=["malformed", "oversized"],
)
def test_a_broken_head_is_answered_without_quoting_it(
    server: ReplayServer, head: bytes, status: int, message: str
) -> None:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head)
        received = []
        for _ in range(1000):
            data = sock.recv(65536)
            if not data:
                break
            received.append(data)
    answer = b"".join(received)
    assert answer.startswith(b"HTTP/1.1 %d " % status)
    assert SECRET.encode() not in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["message"] == message
