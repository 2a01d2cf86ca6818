"""bindings/blocking.py: the blocking Client over real loopback sockets, against the
replay server (plain and TLS), a CONNECT proxy, and the configuration rules."""

from __future__ import annotations

import socket
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from libchatty.bindings._api import STOP, MissingAPIKeyError, Timeout, build_request
from libchatty.bindings._proxy import Proxy, proxy_from_env
from libchatty.bindings.blocking import Client
from libchatty.bindings.server import Fault, ReplayServer
from peers import ConnectProxy, client_context, server_context

from libchatty.events import Delta, Done, Error
from libchatty.exceptions import ChatError

TEXT = "The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps again."
SECRET = "sk-secret-key-1234567890"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    # keep_credentials: these tests check the Authorization header the client sent.
    with ReplayServer(text=TEXT, keep_credentials=True) as running:
        yield running


def client_for(server: ReplayServer, **kwargs: Any) -> Client:
    kwargs.setdefault("api_key", SECRET)
    kwargs.setdefault("env", {})
    return Client(base_url=server.base_url, **kwargs)


# --- plain ------------------------------------------------------------------------------------


def test_non_streaming_chat(server: ReplayServer) -> None:
    with client_for(server) as client:
        answer = client.chat("hi", "replay-1")
    assert answer.text == TEXT and answer.finish_reason == "stop" and not answer.streamed
    assert answer.usage is not None and answer.usage.output_tokens
    request = server.requests[0]
    assert request.json.get("stream") is not True
    assert request.headers["authorization"] == f"Bearer {SECRET}"


def test_streaming_chat_with_on_delta(server: ReplayServer) -> None:
    pieces: list[tuple[str, bool]] = []
    with client_for(server) as client:
        answer = client.chat("hi", "replay-1", on_delta=lambda t, d: pieces.append((t, d)))
    assert answer.text == TEXT and answer.streamed
    assert "".join(t for t, _ in pieces) == TEXT
    assert pieces[-1] == ("", True) and not any(d for _, d in pieces[:-1])
    assert len(pieces) > 10
    assert server.requests[0].json["stream"] is True


def test_on_event_gets_every_typed_event(server: ReplayServer) -> None:
    seen: list[object] = []
    with client_for(server) as client:
        client.chat([{"role": "user", "content": "hi"}], "replay-1", on_event=seen.append)
    assert all(type(e) is Delta for e in seen[:-1]) and type(seen[-1]) is Done


def test_options_reach_the_request(server: ReplayServer) -> None:
    with client_for(server) as client:
        client.chat("hi", "replay-1", temperature=0.5, max_tokens=7, stop=["x"])
    body = server.requests[0].json
    assert body["temperature"] == 0.5 and body["stop"] == ["x"]
    assert 7 in (body.get("max_tokens"), body.get("max_completion_tokens"))


def test_unknown_option_is_a_type_error(server: ReplayServer) -> None:
    with client_for(server) as client, pytest.raises(TypeError, match="temprature"):
        client.chat("hi", "replay-1", temprature=0.5)


def test_callbacks_given_as_none_are_no_callbacks(server: ReplayServer) -> None:
    # chat()'s keywords arrive as one mapping (ChatArguments): the callbacks are taken
    # out before the request is built, and None is the same as not giving one.
    with client_for(server) as client:
        answer = client.chat(
            "hi", "replay-1", on_delta=None, on_event=None, on_partial=None, temperature=0.5
        )
    assert answer.text == TEXT and not answer.streamed
    body = server.requests[0].json
    assert body.get("stream") is not True and body["temperature"] == 0.5


def test_stream_takes_no_callback(server: ReplayServer) -> None:
    with client_for(server) as client:
        events = client.stream("hi", "replay-1", on_delta=print)  # type: ignore[call-overload]
        with pytest.raises(TypeError) as info, events:
            pass
    assert str(info.value).startswith("unexpected option(s) on_delta; accepted: extra, ")
    assert server.requests == []


def test_stream_iterator(server: ReplayServer) -> None:
    with client_for(server) as client, client.stream("hi", "replay-1") as events:
        got = list(events)
    assert "".join(e.text for e in got if type(e) is Delta) == TEXT
    assert type(got[-1]) is Done and got[-1].text == TEXT


# --- keep-alive -------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(server: ReplayServer) -> None:
    with client_for(server) as client:
        for _ in range(3):
            assert client.chat("hi", "replay-1").text == TEXT
            assert client.chat("hi", "replay-1", on_delta=lambda t, d: None).text == TEXT
        with client.stream("hi", "replay-1") as events:
            assert type(list(events)[-1]) is Done
    assert server.connections == 1 and len(server.requests) == 7


def test_leaving_a_stream_early_closes_its_connection(server: ReplayServer) -> None:
    with client_for(server) as client:
        with client.stream("hi", "replay-1") as events:
            assert type(next(events)) is Delta
        assert client.chat("hi", "replay-1").text == TEXT
    assert server.connections == 2


# --- callbacks --------------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_raising_callback_propagates_and_closes(server: ReplayServer) -> None:
    seen: list[str] = []

    def on_delta(text: str, done: bool) -> None:
        seen.append(text)
        if len(seen) == 3:
            raise Boom("stop here")

    with client_for(server) as client:
        with pytest.raises(Boom, match="stop here") as info:
            client.chat("hi", "replay-1", on_delta=on_delta)
        frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
        assert frames[-1] == "on_delta"  # the traceback reaches the raise
        assert len(seen) == 3
        assert client.chat("hi", "replay-1").text == TEXT
    assert server.connections == 2  # the interrupted connection was not reused


def test_stop_value_ends_cleanly(server: ReplayServer) -> None:
    seen: list[str] = []

    def on_delta(text: str, done: bool) -> object:
        seen.append(text)
        return STOP if len(seen) == 2 else None

    with client_for(server) as client:
        answer = client.chat("hi", "replay-1", on_delta=on_delta)
    assert answer.finish_reason == "stopped" and answer.text == "".join(seen)
    assert TEXT.startswith(answer.text) and answer.text != TEXT


# --- faults -----------------------------------------------------------------------------------


def test_cut_mid_stream_raises_with_partial(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="cut", after_events=3))
    seen: list[str] = []
    with client_for(server) as client, pytest.raises(ChatError) as info:
        client.chat("hi", "replay-1", on_delta=lambda t, d: seen.append(t))
    error = info.value.error
    assert error.kind == "incomplete"  # a cut inside the chunked body, not before a response
    assert info.value.partial == "".join(seen) and seen
    assert len(server.requests) == 1  # never re-requested after a delta


def test_rejected_stream_falls_back_and_callback_still_gets_text(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="reject_stream"))
    pieces: list[tuple[str, bool]] = []
    with client_for(server) as client:
        answer = client.chat("hi", "replay-1", on_delta=lambda t, d: pieces.append((t, d)))
    assert answer.text == TEXT and not answer.streamed
    assert "".join(t for t, _ in pieces) == TEXT and pieces[-1] == ("", True)
    assert [r.json.get("stream") is True for r in server.requests] == [True, False]


def test_json_answer_to_a_stream_request(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="json"))
    pieces: list[str] = []
    with client_for(server) as client:
        answer = client.chat("hi", "replay-1", on_delta=lambda t, d: pieces.append(t))
    assert answer.text == TEXT and not answer.streamed and "".join(pieces) == TEXT
    assert len(server.requests) == 1


def test_429_with_retry_after_is_retried(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="status", status=429, retry_after=0.05))
    with client_for(server) as client:
        assert client.chat("hi", "replay-1", on_delta=lambda t, d: None).text == TEXT
    assert len(server.requests) == 2


def test_error_status_is_raised_without_the_key(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="status", status=401, message="Incorrect API key provided"))
    with client_for(server) as client, pytest.raises(ChatError) as info:
        client.chat("hi", "replay-1")
    assert info.value.kind == "auth" and info.value.status == 401
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.error)
    assert len(server.requests) == 1


def test_redirect_is_not_followed(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="status", status=307))
    with client_for(server) as client, pytest.raises(ChatError) as info:
        client.chat("hi", "replay-1")
    assert info.value.kind == "redirect" and len(server.requests) == 1


def test_idle_timeout_against_a_stalled_server(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="stall", after_events=2, seconds=5.0))
    seen: list[str] = []
    # The idle timeout is well above a loaded machine's first-byte time, well below the stall.
    client = client_for(server, timeout=Timeout(connect=5, idle=1.5), max_retries=0)
    with client, pytest.raises(ChatError) as info:
        client.chat("hi", "replay-1", on_delta=lambda t, d: seen.append(t))
    assert info.value.kind == "timeout" and "idle" in str(info.value)
    assert info.value.partial == "".join(seen) and seen


def test_total_timeout(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="stall", after_events=1, seconds=5.0))
    client = client_for(server, timeout=Timeout(connect=5, idle=10, total=0.3))
    with client, pytest.raises(ChatError) as info:
        client.chat("hi", "replay-1", on_delta=lambda t, d: None)
    assert info.value.kind == "timeout" and "total" in str(info.value)


def test_connection_refused() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", env={}, max_retries=0)
    with pytest.raises(ChatError) as info:
        client.chat("hi", "m")
    assert info.value.kind == "connection" and f"127.0.0.1:{port}" in str(info.value)


# --- TLS --------------------------------------------------------------------------------------


def test_tls_with_a_custom_ca(ca: trustme.CA) -> None:
    with ReplayServer(text=TEXT, ssl_context=server_context(ca, "127.0.0.1")) as tls_server:
        assert tls_server.base_url.startswith("https://")
        with client_for(tls_server, ssl_context=client_context(ca)) as client:
            assert client.chat("hi", "m").text == TEXT
            assert client.chat("hi", "m", on_delta=lambda t, d: None).text == TEXT
        assert tls_server.connections == 1


def test_tls_is_verified_by_default(ca: trustme.CA) -> None:
    with ReplayServer(text=TEXT, ssl_context=server_context(ca, "127.0.0.1")) as tls_server:
        with client_for(tls_server) as client, pytest.raises(ChatError) as info:
            client.chat("hi", "m")
        assert info.value.kind == "connection" and "certificate" in str(info.value)
        assert tls_server.requests == []


# --- proxy ------------------------------------------------------------------------------------




def test_https_through_a_connect_proxy(ca: trustme.CA) -> None:
    context = server_context(ca, "api.example.test")
    with ReplayServer(text=TEXT, ssl_context=context) as tls_server:
        proxy = ConnectProxy(tls_server.port)
        try:
            env = {"HTTPS_PROXY": f"http://user:p%40ss@127.0.0.1:{proxy.port}"}
            client = Client(
                base_url=f"https://api.example.test:{tls_server.port}/v1",
                api_key=SECRET,
                env=env,
                ssl_context=client_context(ca),
            )
            with client:
                assert client.chat("hi", "m", on_delta=lambda t, d: None).text == TEXT
        finally:
            proxy.close()
    head = proxy.heads[0]
    assert head.startswith(f"CONNECT api.example.test:{tls_server.port} HTTP/1.1".encode())
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz" in head  # user:p@ss
    assert SECRET.encode() not in head


# --- configuration ----------------------------------------------------------------------------


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY") as info:
        Client("openai", env={})
    assert "OPENAI_API_KEY" in info.value.variables


def test_key_from_the_environment_and_never_in_repr(server: ReplayServer) -> None:
    client = Client("openai", base_url=server.base_url, env={"OPENAI_API_KEY": SECRET})
    assert SECRET not in repr(client) and SECRET not in repr(client.config)
    with client:
        client.chat("hi", "m")
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("bad", ["sk-abc\r\nX-Evil: 1", "sk-abc\n", "sk\x00"])
def test_header_breaking_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        Client(base_url="http://127.0.0.1:9/v1", api_key=bad, env={})
    assert bad not in str(info.value)


def test_header_breaking_model_is_refused(server: ReplayServer) -> None:
    with client_for(server) as client, pytest.raises(ValueError):
        client.chat("hi", "gpt\r\nX-Evil: 1")
    assert server.requests == []


def test_timeout_coercion() -> None:
    assert Timeout.coerce(5) == Timeout(5, 5, None)
    assert Timeout.coerce(None) == Timeout(None, None, None)
    with pytest.raises(ValueError):
        Timeout(connect=0)


def test_build_request() -> None:
    request = build_request("hello", "m", True, {"temperature": 1.0})
    assert request.messages[0].role == "user" and request.messages[0].content == "hello"
    assert request.stream and request.temperature == 1.0


class TestProxyFromEnv:
    def test_https_proxy(self) -> None:
        proxy = proxy_from_env("https", "api.openai.com", 443, {"HTTPS_PROXY": "proxy:3128"})
        assert proxy == Proxy("proxy", 3128, None)

    def test_lower_case_and_all_proxy(self) -> None:
        assert proxy_from_env("https", "a.com", 443, {"all_proxy": "http://p:1"}) == Proxy("p", 1)

    def test_plain_http_and_loopback_go_direct(self) -> None:
        env = {"HTTPS_PROXY": "http://p:1"}
        assert proxy_from_env("http", "a.com", 80, env) is None
        assert proxy_from_env("https", "localhost", 443, env) is None
        assert proxy_from_env("https", "127.0.0.1", 443, env) is None

    @pytest.mark.parametrize(
        "no_proxy",
        ["a.com", ".a.com", "*.a.com", "x.org, api.a.com", "*", "api.a.com:443", "10.0.0.0/8"],
    )
    def test_no_proxy_bypasses(self, no_proxy: str) -> None:
        env = {"HTTPS_PROXY": "http://p:1", "NO_PROXY": no_proxy}
        host = "10.1.2.3" if "/" in no_proxy else "api.a.com"
        assert proxy_from_env("https", host, 443, env) is None

    @pytest.mark.parametrize("no_proxy", ["b.com", "pi.a.com", "api.a.com:8443", "10.0.0.0/8"])
    def test_no_proxy_non_matching(self, no_proxy: str) -> None:
        env = {"HTTPS_PROXY": "http://p:1", "NO_PROXY": no_proxy}
        assert proxy_from_env("https", "api.a.com", 443, env) == Proxy("p", 1)

    def test_credentials_kept_out_of_repr(self) -> None:
        proxy = proxy_from_env("https", "a.com", 443, {"HTTPS_PROXY": "http://u:secret@p:1"})
        assert proxy is not None and proxy.authorization == "Basic dTpzZWNyZXQ="
        assert "secret" not in repr(proxy) and "dTpzZWNyZXQ" not in repr(proxy)

    def test_unsupported_proxy_scheme(self) -> None:
        with pytest.raises(ValueError, match="socks5"):
            proxy_from_env("https", "a.com", 443, {"HTTPS_PROXY": "socks5://p:1"})


def test_error_events_are_not_given_to_callbacks(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="status", status=400, message="bad"))
    seen: list[object] = []
    with client_for(server) as client, pytest.raises(ChatError):
        client.chat("hi", "m", on_event=seen.append)
    assert not any(type(e) is Error for e in seen)


def test_completion_and_timeout_are_immutable_values() -> None:
    import copy
    import pickle

    from libchatty.bindings._api import Completion

    answer = Completion("hi", finish_reason="stop", streamed=True)
    assert answer == Completion("hi", finish_reason="stop", streamed=True)
    assert hash(answer) == hash(Completion("hi", finish_reason="stop", streamed=True))
    assert answer != Completion("hi")
    assert repr(answer).startswith("Completion(text='hi', reasoning=''")
    for clone in (copy.copy(answer), copy.deepcopy(answer), pickle.loads(pickle.dumps(answer))):
        assert clone == answer
    with pytest.raises(AttributeError):
        answer.text = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Timeout().idle = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(Timeout(1, 2, 3))) == Timeout(1, 2, 3)


# --- Completion.reasoning_signature and to_message (the turn a tool loop sends back) ----------
def test_completion_keeps_the_reasoning_signature_from_done() -> None:
    import pickle

    from libchatty.bindings._api import Completion

    from libchatty.events import ToolCall

    call = ToolCall("toolu_1", "Read", '{"path":"/x"}', "c2ln")
    done = Done("tool_calls", "", "Need it.", (call,), reasoning_signature="EqQB==")
    answer = Completion.from_done(done, streamed=True)
    assert answer.reasoning_signature == "EqQB==" and answer.tool_calls == (call,)
    assert "reasoning_signature='EqQB==', response_id=None, " in repr(answer)
    assert answer != Completion.from_done(Done("tool_calls", "", "Need it.", (call,)), True)
    assert pickle.loads(pickle.dumps(answer)) == answer
    assert Completion("hi").reasoning_signature is None


def test_to_message_is_the_assistant_turn_with_calls_and_signatures() -> None:
    from libchatty.bindings._api import Completion

    from libchatty.events import ToolCall
    from libchatty.request import Message

    calls = (ToolCall("a", "f", "{}", "sig-a"), ToolCall(None, "g", '{"x":1}'))
    signed = Completion("", "think", tool_calls=calls, reasoning_signature="rsig")
    assert signed.to_message() == Message(
        "assistant", None, calls, reasoning="think", reasoning_signature="rsig"
    )
    # Text is kept even with calls; an answer without calls keeps "" (never None).
    assert Completion("Let me look.", tool_calls=calls).to_message() == Message(
        "assistant", "Let me look.", calls
    )
    assert Completion("").to_message() == Message("assistant", "")
    assert Completion("Hi.", "").to_message().reasoning is None


def test_a_completion_turn_goes_back_through_chat(server: ReplayServer) -> None:
    with client_for(server) as client:
        first = client.chat("hi", "m")
        history = [{"role": "user", "content": "hi"}, first.to_message()]
        second = client.chat([*history, {"role": "user", "content": "more"}], "m")
    assert second.text == TEXT
    sent = server.requests[-1].json["messages"]
    assert sent[1] == {"role": "assistant", "content": TEXT}
