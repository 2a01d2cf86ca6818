"""The replay package: renderers kept out of the client, and the sans-I/O replay server.

The server is driven in-process (request bytes in, output items out) and its answers are
read back with an h11 client written here; a few tests go through the asyncio binding,
the pytest fixture and the command line, on loopback only.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st
from libchatty.bindings.blocking import Client
from libchatty.bindings.server import ReplayServer, _parse_args
from wire import byte_by_byte, random_splits

from libchatty.dialects import DIALECT_NAMES
from libchatty.events import ToolCall, Usage
from libchatty.replay import (
    RENDERER_NAMES,
    Fault,
    Output,
    Pause,
    Replay,
    Script,
    get_renderer,
)
from libchatty.replay import server as sans_io

CLIENT_DIALECTS = ["openai_chat", "openai_responses", "anthropic", "gemini", "ollama"]
TOOL_TURN = Script(
    tool_calls=(ToolCall("call_1", "get_weather", '{"city": "Paris"}'),),
    finish_reason="tool_calls",
)
TEXT_TURN = Script(text="It is 21 °C in Paris.", usage=Usage(30, 9, 39))
SECRET = "sk-live-0123456789abcdef"


# --- helpers --------------------------------------------------------------------------------
def request(
    target: str = "/v1/chat/completions",
    body: Any = None,
    headers: tuple[tuple[str, str], ...] = (),
    method: str = "POST",
) -> bytes:
    if body is None:
        body = {"model": "gpt-4o", "messages": [], "stream": True}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    lines = [f"{method} {target} HTTP/1.1", "host: replay", f"content-length: {len(raw)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


def feed(replay: Replay, pieces: list[bytes]) -> tuple[list[Output], bool]:
    """Every piece to one connection; the output with adjacent bytes joined (so that the
    split of the output does not matter, only its bytes and pauses), and ``closed``."""
    conn = replay.connection()
    out: list[Output] = []
    for piece in pieces:
        for item in conn.receive_data(piece):
            if isinstance(item, bytes) and out and isinstance(out[-1], bytes):
                out[-1] += item
            else:
                out.append(item)
    return out, conn.closed


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes, bool]]:
    """(status, headers, body, complete) of each response in ``data``."""
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    found: list[tuple[int, dict[str, str], bytes, bool]] = []
    while True:
        client.send(h11.Request(method="POST", target="/", headers=[("host", "x")]))
        client.send(h11.EndOfMessage())
        event = client.next_event()
        if event is h11.NEED_DATA:
            return found
        assert isinstance(event, h11.Response)
        headers = {k.decode(): v.decode() for k, v in event.headers}
        body: list[bytes] = []
        while True:
            part = client.next_event()
            if isinstance(part, h11.Data):
                body.append(bytes(part.data))
            else:
                complete = isinstance(part, h11.EndOfMessage)
                found.append((event.status_code, headers, b"".join(body), complete))
                if not complete:
                    return found
                break
        client.start_next_cycle()


def answers(replay: Replay, *requests: bytes) -> list[tuple[int, dict[str, str], bytes, bool]]:
    out, _ = feed(replay, [b"".join(requests)])
    return responses(b"".join(item for item in out if isinstance(item, bytes)))


OPENAI = get_renderer("openai-chat")


# --- the client side loads none of it -------------------------------------------------------
@pytest.mark.parametrize("module", CLIENT_DIALECTS)
def test_no_client_dialect_loads_the_replay_side(module: str) -> None:
    code = (
        f"import sys, libchatty.dialects.{module}\n"
        "print(sorted(m for m in sys.modules if m.startswith(('libchatty.replay', "
        "'libchatty.script'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "[]\n"


def test_every_dialect_has_its_renderer() -> None:
    assert RENDERER_NAMES == (
        "openai-chat", "openai-responses", "anthropic", "gemini", "ollama", "cohere",
        "bedrock",
    )  # fmt: skip
    assert set(RENDERER_NAMES) <= set(DIALECT_NAMES)
    assert [get_renderer(name).name for name in RENDERER_NAMES] == list(RENDERER_NAMES)
    with pytest.raises(ValueError) as caught:
        get_renderer("smoke-signals")
    assert str(caught.value) == (
        "unknown dialect 'smoke-signals'; known: openai-chat, openai-responses, anthropic, "
        "gemini, ollama, cohere, bedrock"
    )


# --- the sans-I/O server: any split ---------------------------------------------------------
SCENARIOS: dict[str, dict[str, Any]] = {
    "stream, two pipelined": dict(script=TEXT_TURN),
    "paced": dict(script=TEXT_TURN, token_delay=0.25),
    "sequence": dict(script=[TOOL_TURN, TEXT_TURN]),
    "cut": dict(script=TEXT_TURN, faults=[Fault("cut", after_events=2)]),
    "stall": dict(script=TEXT_TURN, faults=[Fault("stall", after_events=1, seconds=2)]),
}
TWO = request() + request(body={"model": "m", "messages": [], "stream": False})


@pytest.mark.parametrize("name", SCENARIOS)
@given(seed=st.integers(0, 2**32))
def test_any_split_of_the_requests_gives_the_same_output(name: str, seed: int) -> None:
    expected = feed(Replay(**SCENARIOS[name]), [TWO])
    assert feed(Replay(**SCENARIOS[name]), byte_by_byte(TWO)) == expected
    assert feed(Replay(**SCENARIOS[name]), random_splits(TWO, seed)) == expected


# --- which requests each renderer takes -----------------------------------------------------
VERTEX_CLAUDE = "/v1/projects/p/locations/l/publishers/anthropic/models/claude-x@1:rawPredict"
# (renderer, target, body) -> (matches a POST, asks for a stream).
CLAIMS: list[tuple[str, str, dict[str, Any], tuple[bool, bool]]] = [
    ("openai-chat", "/v1/chat/completions?api-version=1", {"stream": True}, (True, True)),
    ("openai-chat", "/v1/chat/completions", {"stream": "yes"}, (True, False)),
    ("openai-chat", "/v1/responses", {}, (False, False)),
    ("openai-responses", "/v1/responses", {"stream": True}, (True, True)),
    ("openai-responses", "/v1/responses?x=/chat/completions", {}, (True, False)),
    ("anthropic", "/v1/messages", {"stream": True}, (True, True)),
    ("anthropic", VERTEX_CLAUDE, {"stream": False}, (True, False)),
    ("anthropic", "/v1/messages/count_tokens", {}, (False, False)),
    ("cohere", "/v2/chat", {"stream": True}, (True, True)),
    ("cohere", "/v1/chat", {"stream": True}, (False, True)),
    ("gemini", "/v1beta/models/g:streamGenerateContent?alt=sse", {}, (True, True)),
    ("gemini", "/v1beta/models/g:generateContent", {"stream": True}, (True, False)),
    ("ollama", "/api/generate", {}, (True, True)),
    ("ollama", "/api/chat", {"stream": False}, (True, False)),
    ("ollama", "/api/tags", {}, (False, True)),
]


@pytest.mark.parametrize(("name", "target", "body", "claims"), CLAIMS)
def test_which_requests_a_renderer_takes_and_streams(
    name: str, target: str, body: dict[str, Any], claims: tuple[bool, bool]
) -> None:
    renderer = get_renderer(name)
    assert (renderer.matches("POST", target), renderer.is_stream_request(target, body)) == claims
    assert not renderer.matches("GET", target)


# The wire word of each Script finish reason, per renderer (read from a non-streamed body).
WIRE_REASONS = {
    "anthropic": ("end_turn", "max_tokens", "tool_use", "refusal"),
    "bedrock": ("end_turn", "max_tokens", "tool_use", "content_filtered"),
    "cohere": ("COMPLETE", "MAX_TOKENS", "TOOL_CALL", "ERROR_TOXIC"),
    "gemini": ("STOP", "MAX_TOKENS", "STOP", "SAFETY"),
}


def wire_reason(name: str, finish_reason: str) -> str:
    body = json.loads(get_renderer(name).render_body(Script("hi", finish_reason=finish_reason)))
    found = {
        "anthropic": lambda: body["stop_reason"],
        "bedrock": lambda: body["stopReason"],
        "cohere": lambda: body["finish_reason"],
        "gemini": lambda: body["candidates"][0]["finishReason"],
    }[name]()
    assert isinstance(found, str)
    return found


@pytest.mark.parametrize("name", WIRE_REASONS)
def test_each_finish_reason_in_the_providers_words(name: str) -> None:
    normalised = ("stop", "length", "tool_calls", "content_filter")
    assert tuple(wire_reason(name, reason) for reason in normalised) == WIRE_REASONS[name]
    assert wire_reason(name, "weird") == "weird"  # not one of the four: sent as it is


# --- what it answers --------------------------------------------------------------------------
def test_a_sequence_answers_in_order_then_says_it_is_used_up() -> None:
    replay = Replay(script=[TOOL_TURN, TEXT_TURN])
    plain = request(body={"model": "m", "messages": []})
    first, second, third = answers(replay, plain, plain, plain)
    assert first == (200, first[1], OPENAI.render_body(TOOL_TURN), True)
    assert second == (200, second[1], OPENAI.render_body(TEXT_TURN), True)
    message = "replay: the scripted sequence has 2 answers; this is request 3"
    assert third == (410, third[1], OPENAI.render_error(410, message), True)
    replay.answer(script=[TEXT_TURN])  # starts again
    (again,) = answers(replay, plain)
    assert again[2] == OPENAI.render_body(TEXT_TURN)


def test_a_streamed_answer_is_the_rendered_events_chunked() -> None:
    (reply,) = answers(Replay(script=TEXT_TURN), request())
    assert reply[0] == 200 and reply[1]["content-type"] == "text/event-stream"
    assert reply[1]["transfer-encoding"] == "chunked"
    assert reply[2] == b"".join(OPENAI.render_stream(TEXT_TURN))


def test_routes_by_model_then_longest_path() -> None:
    a, b, c = Script(text="a"), Script(text="b"), Script(text="c")
    replay = Replay(routes={"gpt-4o": a, "/messages": b, "/v1/messages": c, "/responses": "d"})
    anthropic = get_renderer("anthropic")
    body = {"model": "claude", "messages": [], "max_tokens": 5}
    got = answers(
        replay,
        request(body={"model": "gpt-4o", "messages": []}),
        request("/v1/messages", body),  # the longer path route wins
        request("/v1/messages", {**body, "model": "gpt-4o"}),  # a model route wins
        request("/v1/responses", {"model": "x", "input": "hi"}),
    )
    assert [r[2] for r in got[:3]] == [
        OPENAI.render_body(a), anthropic.render_body(c), anthropic.render_body(a),
    ]  # fmt: skip
    text = json.loads(got[3][2])["output"][0]["content"][0]["text"]
    assert text == "d"


def test_gemini_routes_by_the_model_in_its_path() -> None:
    replay = Replay(routes={"gemini-2.5-flash": TEXT_TURN})
    target = "/v1beta/models/gemini-2.5-flash:generateContent?key=" + SECRET
    (reply,) = answers(replay, request(target, {"contents": []}))
    assert reply[2] == get_renderer("gemini").render_body(TEXT_TURN)


def test_no_route_and_no_default_is_a_404_naming_model_and_path() -> None:
    replay = Replay(routes={"gpt-4o": TEXT_TURN})
    (reply,) = answers(replay, request(body={"model": "o3", "messages": []}))
    message = "replay: no route for model 'o3' at /v1/chat/completions"
    assert reply == (404, reply[1], OPENAI.render_error(404, message), True)


def test_token_delay_is_a_pause_between_events() -> None:
    out, closed = feed(Replay(script=TEXT_TURN, token_delay=0.25), [request()])
    events = OPENAI.render_stream(TEXT_TURN)
    assert [item for item in out if isinstance(item, Pause)] == [Pause(0.25)] * (len(events) - 1)
    assert not closed


def test_stall_faults_are_pauses_where_they_strike() -> None:
    replay = Replay(script=TEXT_TURN, faults=[Fault.parse("stall=forever,after=2")])
    out, _ = feed(replay, [request()])
    head_and_two, pause, rest = out
    assert pause == Pause(math.inf)
    assert isinstance(head_and_two, bytes) and isinstance(rest, bytes)
    (reply,) = responses(head_and_two)
    assert reply[2] == b"".join(OPENAI.render_stream(TEXT_TURN)[:2]) and not reply[3]
    (whole,) = responses(head_and_two + rest)
    assert whole[2] == b"".join(OPENAI.render_stream(TEXT_TURN)) and whole[3]
    before_head, _ = feed(Replay(script=TEXT_TURN, faults=[Fault("stall", seconds=3)]), [request()])
    assert before_head[0] == Pause(3.0) and len(before_head) == 2  # and only there


@pytest.mark.parametrize("after", [0, 3])
def test_cut_after_n_events_closes_after_exactly_those(after: int) -> None:
    out, closed = feed(
        Replay(script=TEXT_TURN, faults=[Fault.parse(f"cut-after={after}")]), [request()]
    )
    assert closed
    (reply,) = responses(b"".join(out))  # type: ignore[arg-type]
    assert reply[2] == b"".join(OPENAI.render_stream(TEXT_TURN)[:after]) and not reply[3]


def test_status_fault_with_retry_after() -> None:
    replay = Replay(script=TEXT_TURN, faults=[Fault.parse("status=429,retry-after=2")])
    (reply,) = answers(replay, request())
    message = "replay fault: HTTP 429 Too Many Requests"
    assert (reply[0], reply[1]["retry-after"], reply[2]) == (
        429, "2", OPENAI.render_error(429, message),
    )  # fmt: skip


# --- Fault.parse ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("status=429,retry-after=2", Fault("status", status=429, retry_after=2.0)),
        ("status=503,retry-after=Wed, 21 Oct 2015 07:28:00 GMT",
         Fault("status", status=503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")),
        ("cut", Fault("cut")),
        ("cut-after=3", Fault("cut", after_events=3)),
        ("stall=forever,after=2", Fault("stall", after_events=2, seconds=math.inf)),
        ("stall=0.5", Fault("stall", seconds=0.5)),
        ("malformed=1", Fault("malformed", after_events=1)),
        ("json", Fault("json")),
        ("stream-error=2,message=down, sorry", Fault("stream_error", after_events=2,
                                                    message="down, sorry")),
        ("reject_stream", Fault("reject_stream")),
    ],
)  # fmt: skip
def test_fault_parse(spec: str, fault: Fault) -> None:
    assert Fault.parse(spec) == fault


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown fault 'nope'; known: status, cut, cut-after, stall, malformed, json, "
                 "stream-error, reject-stream"),
        ("json=3", "fault 'json' takes no value"),
        ("status=abc", "fault status must be a number, not 'abc'"),
        ("cut,bogus=1", "bad fault option 'bogus=1'; known: status, retry-after, after, "
                        "seconds, message=..."),
        ("status=600", "Fault.status must be an HTTP status, not 600"),
        ("stall=-1", "Fault.seconds must not be negative"),
    ],
)  # fmt: skip
def test_fault_parse_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Fault.parse(spec)
    assert str(caught.value) == message


# --- bounds and credentials -------------------------------------------------------------------
def test_the_request_body_bound_at_the_limit_and_one_past() -> None:
    limit = sans_io._MAX_BODY
    (at_limit,) = answers(Replay(), request(body=b" " * limit))
    assert at_limit[2] == OPENAI.render_error(400, "the request body is not a JSON object")
    out, closed = feed(Replay(), [request(body=b" " * (limit + 1))])
    (past,) = responses(b"".join(out))  # type: ignore[arg-type]
    assert (past[0], json.loads(past[2])["error"]["message"], closed) == (
        413, "request body too large", True,
    )  # fmt: skip


def test_the_log_redacts_credentials_unless_kept() -> None:
    headers = (("Authorization", f"Bearer {SECRET}"), ("x-trace", "t1"))
    target = f"/v1beta/models/g:generateContent?key={SECRET}&alt=sse"
    for keep, shown in ((False, "***"), (True, SECRET)):
        replay = Replay(keep_credentials=keep)
        answers(replay, request(target, {"contents": []}, headers))
        (logged,) = replay.requests
        assert (logged.method, logged.path, logged.json) == (
            "POST",
            target.split("?")[0],
            {"contents": []},
        )
        assert logged.target == f"{target.split('?')[0]}?key={shown}&alt=sse"
        assert logged.headers["authorization"] == ("***" if not keep else f"Bearer {SECRET}")
        assert logged.headers["x-trace"] == "t1"
        assert SECRET not in repr(logged)


def test_a_malformed_head_is_refused_without_echoing_it() -> None:
    bad = f"POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer {SECRET}\r\nbad\r\n\r\n"
    out, closed = feed(Replay(), [bad.encode()])
    data = b"".join(item for item in out if isinstance(item, bytes))
    (reply,) = responses(data)
    assert reply[0] == 400 and closed
    assert json.loads(reply[2])["error"]["message"] == "bad request: malformed HTTP request head"
    assert SECRET.encode() not in data and b"authorization" not in data


# --- the binding, the fixture, the command line -----------------------------------------------
@pytest.mark.replay(script=[TOOL_TURN, TEXT_TURN])
def test_one_server_answers_a_two_turn_tool_loop(replay_server: ReplayServer) -> None:
    from libchatty import Message

    with Client(base_url=replay_server.base_url, api_key=SECRET) as client:
        first = client.chat([Message("user", "weather?")], "gpt-4o")
        assert first.tool_calls == TOOL_TURN.tool_calls
        second = client.chat([Message("user", "weather?"), first.to_message()], "gpt-4o")
    assert second.text == TEXT_TURN.text
    assert [r.json["messages"][-1]["role"] for r in replay_server.requests] == ["user", "assistant"]
    assert replay_server.requests[0].headers["authorization"] == "***"


def test_the_fixture_is_fresh_and_changes_its_answer(replay_server: ReplayServer) -> None:
    from libchatty import Message

    assert replay_server.requests == []
    replay_server.answer(text="changed")
    with Client(base_url=replay_server.base_url, api_key="k") as client:
        assert client.chat([Message("user", "hi")], "m").text == "changed"


def test_the_command_line_queues_faults(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse_args(["--fault", "cut-after=3", "--fault", "status=429,retry-after=2"])
    assert args.fault == [
        Fault("cut", after_events=3),
        Fault("status", status=429, retry_after=2.0),
    ]
    with pytest.raises(SystemExit) as exited:
        _parse_args(["--fault", "json=3"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith("argument --fault: fault 'json' takes no value\n")


#: The README's example, run as its own test file exactly as written there.
README_EXAMPLE = """\
import json

import pytest

from libchatty import Message, Tool, ToolCall
from libchatty.bindings.blocking import Client
from libchatty.replay import Script

WEATHER = Tool("get_weather", "Current weather in a city",
               {"type": "object", "properties": {"city": {"type": "string"}}})


def ask_weather(client: Client, question: str) -> str:      # your application
    messages = [Message("user", question)]
    for _ in range(5):
        answer = client.chat(messages, "gpt-4o-mini", tools=[WEATHER])
        if not answer.tool_calls:
            return answer.text
        messages.append(answer.to_message())
        for call in answer.tool_calls:
            city = json.loads(call.arguments)["city"]
            result = json.dumps({"city": city, "temp_c": 21})
            messages.append(Message("tool", result, tool_call_id=call.id, name=call.name))
    raise RuntimeError("the model kept asking for tools")


@pytest.mark.replay(script=[                                 # turn 1, then turn 2
    Script(tool_calls=(ToolCall("call_1", "get_weather", '{"city": "Paris"}'),),
           finish_reason="tool_calls"),
    Script(text="It is 21 °C in Paris."),
])
def test_ask_weather(replay_server):
    client = Client(base_url=replay_server.base_url, api_key="test")
    assert ask_weather(client, "Weather in Paris?") == "It is 21 °C in Paris."
    first, second = replay_server.requests                   # what your code sent
    assert first.json["tools"][0]["function"]["name"] == "get_weather"
    assert second.json["messages"][-1]["content"] == '{"city": "Paris", "temp_c": 21}'
"""


def test_the_readme_example_passes(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["libchatty.bindings.pytest_plugin"]\n')
    (tmp_path / "test_weather.py").write_text(textwrap.dedent(README_EXAMPLE))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
