"""The ``libchatty`` command line, run as a real subprocess against the replay server."""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from libchatty.bindings.cli import stats_line
from libchatty.bindings.server import DEFAULT_TEXT, Fault, ReplayServer

from libchatty.events import ToolCall
from libchatty.replay import Script, split_tokens

TEXT = "Paris is the capital of France. Its café culture is famous: naïve but true."
ROOT = Path(__file__).resolve().parents[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any provider key or base URL, so no test can reach a real
    provider by accident."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL", "_API_BASE"))
        and k not in ("OLLAMA_HOST", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
    }
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "libchatty", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env if env is not None else clean_env(),
        cwd=ROOT,
        timeout=60,
    )


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(text=TEXT) as running:
        yield running


def assert_failed_cleanly(result: subprocess.CompletedProcess[str], *says: str) -> None:
    """Exit status 1 and one clean error on stderr (the error line and perhaps a hint, no
    traceback) that says each of ``says``."""
    stderr = result.stderr
    assert result.returncode == 1, stderr
    for phrase in says:
        assert phrase in stderr, (phrase, stderr)
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert any(line.startswith("libchatty: error: ") for line in lines), stderr
    assert len(lines) <= 2, stderr  # the error, and a hint


# --- the embedded default -------------------------------------------------------------------
def test_no_key_and_no_base_url_streams_from_the_embedded_replay() -> None:
    result = run_cli("--stats")
    assert result.returncode == 0, result.stderr
    assert result.stdout == DEFAULT_TEXT + "\n"
    assert "replay server at http://127.0.0.1:" in result.stderr
    assert "[stats] first token" in result.stderr
    assert f"{len(DEFAULT_TEXT.encode())} bytes" in result.stderr


def test_explicit_replay_with_json_events() -> None:
    result = run_cli("--replay", "--json", "Hi")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events[:-1]] == ["delta"] * (len(events) - 1)
    assert events[-1]["type"] == "done"
    assert "".join(e["text"] for e in events[:-1] if e["kind"] == "text") == DEFAULT_TEXT
    assert events[-1]["text"] == DEFAULT_TEXT
    assert events[-1]["usage"]["output_tokens"] == len(split_tokens(DEFAULT_TEXT))


# --- arguments and the request they make ----------------------------------------------------
def test_model_and_message_and_options(server: ReplayServer) -> None:
    result = run_cli(
        "-s",
        "--base-url",
        server.base_url,
        "--system",
        "Be brief.",
        "--temperature",
        "0.5",
        "--max-tokens",
        "64",
        "my-model",
        "Capital of France?",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT + "\n"
    (request,) = server.requests
    assert request.target == "/v1/chat/completions"
    assert request.json["model"] == "my-model"
    assert request.json["stream"] is True
    assert request.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert request.json["temperature"] == 0.5
    # A compatible server (not api.openai.com) takes max_tokens.
    assert request.json["max_tokens"] == 64 and "max_completion_tokens" not in request.json
    assert "replay server" not in result.stderr


def test_message_from_stdin(server: ReplayServer) -> None:
    result = run_cli("-s", "--base-url", server.base_url, "my-model", stdin="From stdin, héllo\n")
    assert result.returncode == 0, result.stderr
    assert server.requests[0].json["messages"][-1]["content"] == "From stdin, héllo\n"
    assert result.stdout == TEXT + "\n"


def test_one_argument_with_spaces_is_the_message() -> None:
    result = run_cli("--replay", "What is your name?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == DEFAULT_TEXT + "\n"


def test_piped_output_streams_by_default(server: ReplayServer) -> None:
    # stdout is a pipe here: the request still streams (no -s needed).
    result = run_cli("--base-url", server.base_url, "m", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT + "\n"
    assert server.requests[0].json == {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_no_stream_flag(server: ReplayServer) -> None:
    result = run_cli("--no-stream", "--stats", "--base-url", server.base_url, "m", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT + "\n"
    assert "stream" not in server.requests[0].json
    assert result.stderr.startswith("[stats] not streamed: no rate, ")


def read_while_running(argv: list[str], expected: bytes) -> bytes:
    """Start the CLI with stdout on a pipe, read until ``expected``'s length has arrived
    (bounded in reads and time), check the process is still running, then kill it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "libchatty", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        got = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            for _ in range(200):
                if len(got) >= len(expected) or not sel.select(timeout=30):
                    break
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                got += chunk
        assert proc.poll() is None  # still streaming: the text was flushed, not buffered
        return got
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_tokens_are_flushed_as_they_arrive() -> None:
    # The server stalls after a few events: the text before the stall must already be on
    # the CLI's stdout (a pipe, no -s) while the process is still waiting.
    events_before = 5
    with ReplayServer(
        text=TEXT, faults=[Fault("stall", after_events=events_before, seconds=60)]
    ) as server:
        expected = "".join(split_tokens(TEXT)[: events_before - 1]).encode()  # role chunk first
        assert read_while_running(["--base-url", server.base_url, "m", "Hi"], expected) == expected


def test_piped_output_arrives_token_by_token_before_the_end() -> None:
    # With the server's per-token delay the whole answer takes about 40 s; its first
    # tokens must reach the pipe long before that, while the process still runs.
    tokens = split_tokens(TEXT)
    with ReplayServer(text=TEXT, token_delay=40 / len(tokens)) as server:
        expected = tokens[0].encode()
        got = read_while_running(["--base-url", server.base_url, "m", "Hi"], expected)
    assert got == expected


# --- tool calls -----------------------------------------------------------------------------
CALLS = (
    ToolCall("call_1", "get_weather", '{"city":  "Paris",\n "unit": "°C"}'),
    ToolCall("call_2", "get_time", "{}"),
)
TOOL_LINES = '[tool call] get_weather {"city": "Paris", "unit": "°C"}\n[tool call] get_time {}\n'


@pytest.fixture
def tool_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=Script(tool_calls=CALLS, finish_reason="tool_calls")) as running:
        yield running


@pytest.mark.parametrize("mode", [[], ["--no-stream"]])
def test_a_tool_call_only_answer_prints_the_calls(
    tool_server: ReplayServer, mode: list[str]
) -> None:
    result = run_cli(*mode, "--base-url", tool_server.base_url, "m", "Weather?")
    assert (result.returncode, result.stdout, result.stderr) == (0, TOOL_LINES, "")


def test_tool_calls_follow_the_text() -> None:
    script = Script(text="Let me check.", tool_calls=CALLS[1:], finish_reason="tool_calls")
    with ReplayServer(script=script) as server:
        result = run_cli("--base-url", server.base_url, "m", "Time?")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Let me check.\n[tool call] get_time {}\n"


@pytest.mark.parametrize("mode", [[], ["--no-stream"]])
def test_tool_calls_in_json_mode(tool_server: ReplayServer, mode: list[str]) -> None:
    result = run_cli("--json", *mode, "--base-url", tool_server.base_url, "m", "Weather?")
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["type"] == "done"
    assert done["finish_reason"] == "tool_calls"
    assert done["tool_calls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": CALLS[0].arguments, "signature": None},
        {"id": "call_2", "name": "get_time", "arguments": "{}", "signature": None},
    ]


# --- --timeout and --retries ----------------------------------------------------------------
def test_timeout_against_a_stalling_server(server: ReplayServer) -> None:
    server.add_fault(Fault("stall", after_events=6, seconds=30))
    result = run_cli("--timeout", "0.5", "--base-url", server.base_url, "m", "Hi")
    assert result.stdout == "".join(split_tokens(TEXT)[:5]) + "\n"  # the role chunk first
    assert_failed_cleanly(result, "libchatty: error: timeout", "no answer in time")
    assert len(server.requests) == 1  # text had arrived: no retry, no fallback


def test_timeout_is_not_applied_without_the_flag(server: ReplayServer) -> None:
    server.add_fault(Fault("stall", after_events=6, seconds=1.0))
    result = run_cli("--base-url", server.base_url, "m", "Hi")
    assert (result.returncode, result.stdout) == (0, TEXT + "\n")


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_timeout_must_be_positive(value: str) -> None:
    result = run_cli("--timeout", value, "--replay", "Hi")
    assert result.returncode == 2
    assert f"argument --timeout: must be a positive number of seconds, not '{value}'" in (
        result.stderr
    )


def test_retries_0_makes_one_request_against_a_429(server: ReplayServer) -> None:
    server.add_fault(Fault("status", status=429, retry_after=0))
    result = run_cli("--retries", "0", "--base-url", server.base_url, "m", "Hi")
    assert_failed_cleanly(result, "rate_limit (HTTP 429)", "rate limited")
    assert len(server.requests) == 1


def test_retries_1_retries_a_429_once(server: ReplayServer) -> None:
    for _ in range(3):
        server.add_fault(Fault("status", status=429, retry_after=0))
    result = run_cli("--retries", "1", "--base-url", server.base_url, "m", "Hi")
    assert_failed_cleanly(result, "rate_limit (HTTP 429)")
    assert len(server.requests) == 2


def test_retries_recover_from_one_429(server: ReplayServer) -> None:
    server.add_fault(Fault("status", status=429, retry_after=0))
    result = run_cli("--retries", "1", "--base-url", server.base_url, "m", "Hi")
    assert (result.returncode, result.stdout) == (0, TEXT + "\n")
    assert len(server.requests) == 2


@pytest.mark.parametrize("value", ["-1", "1.5", "many"])
def test_retries_must_be_a_whole_number(value: str) -> None:
    result = run_cli("--retries", value, "--replay", "Hi")
    assert result.returncode == 2
    assert f"argument --retries: must be a whole number >= 0, not '{value}'" in result.stderr


# --- --stats ----------------------------------------------------------------------------------
STATS_STREAMED = re.compile(
    r"\[stats\] first token \d+ ms, (\d+\.\d) tokens/s over (\d+) ms, "
    r"(\d+) tokens \(usage\), (\d+) bytes of text, total \d+ ms\n"
)


def test_stats_line_of_a_paced_stream() -> None:
    tokens = split_tokens(TEXT)
    with ReplayServer(text=TEXT, token_delay=0.02) as server:
        result = run_cli("--stats", "--base-url", server.base_url, "m", "Hi")
    assert result.returncode == 0, result.stderr
    match = STATS_STREAMED.fullmatch(result.stderr)
    assert match is not None, result.stderr
    assert int(match[3]) == len(tokens)  # the replay server reports one token per delta
    assert int(match[4]) == len(TEXT.encode())


def test_stats_line_of_a_burst_says_there_is_no_rate(server: ReplayServer) -> None:
    # No token delay: the whole answer is one network read.
    result = run_cli("--stats", "--base-url", server.base_url, "m", "Hi")
    assert result.returncode == 0, result.stderr
    pattern = (
        r"\[stats\] first token \d+ ms, rate n/a \(arrived in one burst\), "
        rf"{len(split_tokens(TEXT))} tokens \(usage\), {len(TEXT.encode())} bytes of text, "
        r"total \d+ ms\n"
    )
    assert re.fullmatch(pattern, result.stderr), result.stderr


STARTED = 100.0


@pytest.mark.parametrize(
    ("first", "last", "deltas", "tokens", "middle"),
    [
        # 11 deltas over 2 s: 10 arrived after the first one.
        (100.5, 102.5, 11, None, "5.0 deltas/s over 2000 ms, 11 deltas (no usage reported)"),
        # 44 tokens in 11 deltas: 40 tokens after the first delta, over 2 s.
        (100.5, 102.5, 11, 44, "20.0 tokens/s over 2000 ms, 44 tokens (usage)"),
        # Usage 0 (some servers send it) is not a count: the deltas are.
        (100.5, 102.5, 11, 0, "5.0 deltas/s over 2000 ms, 11 deltas (no usage reported)"),
        # The window at the limit is measured; just under it is one burst.
        (100.5, 100.51, 2, None, "100.0 deltas/s over 10 ms, 2 deltas (no usage reported)"),
        (100.5, 100.5099, 2, None, "rate n/a (arrived in one burst), 2 deltas (no usage reported)"),
        (100.5, 100.5, 1, 7, "rate n/a (one delta), 7 tokens (usage)"),
    ],
)
def test_stats_rate_is_measured_from_first_to_last_content(
    first: float, last: float, deltas: int, tokens: int | None, middle: str
) -> None:
    line = stats_line(
        streamed=True,
        started=STARTED,
        first=first,
        last=last,
        end=110.0,  # a long tail after the last token (the end of the body) does not count
        deltas=deltas,
        output_tokens=tokens,
        text_bytes=42,
    )
    assert line == f"[stats] first token 500 ms, {middle}, 42 bytes of text, total 10000 ms"


def test_stats_without_content_or_stream() -> None:
    common = {"started": STARTED, "end": 100.25, "text_bytes": 0}
    nothing = stats_line(
        streamed=True, first=None, last=None, deltas=0, output_tokens=None, **common
    )
    assert nothing == (
        "[stats] no content streamed, 0 deltas (no usage reported), 0 bytes of text, total 250 ms"
    )
    plain = stats_line(streamed=False, first=None, last=None, deltas=0, output_tokens=9, **common)
    assert plain == "[stats] not streamed: no rate, 9 tokens (usage), 0 bytes of text, total 250 ms"


# --- errors ---------------------------------------------------------------------------------
def test_401_is_one_line_with_a_hint(server: ReplayServer) -> None:
    server.add_fault(Fault("status", status=401, message="Incorrect API key provided"))
    result = run_cli("-s", "--base-url", server.base_url, "m", "Hi")
    assert result.stdout == ""
    assert_failed_cleanly(
        result, "auth (HTTP 401): Incorrect API key provided", "hint:", "OPENAI_API_KEY"
    )


def test_json_error_event_and_the_error_line(server: ReplayServer) -> None:
    server.add_fault(Fault("status", status=404, message="The model 'm' does not exist"))
    result = run_cli("--json", "--base-url", server.base_url, "m", "Hi")
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["type"] == "error" and event["kind"] == "not_found" and event["status"] == 404
    assert_failed_cleanly(
        result, "not_found (HTTP 404): The model 'm' does not exist", "check the model name"
    )


def test_429_after_retries_says_rate_limited(server: ReplayServer) -> None:
    for _ in range(10):
        server.add_fault(Fault("status", status=429, retry_after=0))
    result = run_cli("-s", "--base-url", server.base_url, "m", "Hi")
    assert_failed_cleanly(result, "rate_limit (HTTP 429)", "rate limited")


def test_cut_mid_stream_keeps_the_partial_text(server: ReplayServer) -> None:
    server.add_fault(Fault("cut", after_events=6))
    result = run_cli("-s", "--base-url", server.base_url, "m", "Hi")
    partial = "".join(split_tokens(TEXT)[:5])
    assert result.stdout == partial + "\n"
    assert_failed_cleanly(result, "incomplete")


def test_bad_base_url_is_a_connection_error() -> None:
    with ReplayServer() as gone:
        url = gone.base_url  # a port that was just free and is now closed again
    result = run_cli("-s", "--base-url", url, "m", "Hi")
    assert_failed_cleanly(result, "connection", "could not reach")


def test_debug_shows_the_traceback(server: ReplayServer) -> None:
    server.add_fault(Fault("status", status=401))
    result = run_cli("--debug", "-s", "--base-url", server.base_url, "m", "Hi")
    assert result.returncode == 1  # the interpreter's status for an uncaught exception
    assert "libchatty: error: auth (HTTP 401)" in result.stderr  # still said plainly, first
    assert "Traceback" in result.stderr and "ChatError" in result.stderr


def test_missing_key_for_a_named_provider_names_the_variable() -> None:
    result = run_cli("--provider", "anthropic", "claude-x", "Hi")
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_provider_is_a_usage_error() -> None:
    result = run_cli("--provider", "nope", "m", "Hi")
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_a_key_never_appears_in_output() -> None:
    secret = "sk-test-0123456789abcdef-secret"
    with ReplayServer(text=TEXT, keep_credentials=True) as server:
        server.add_fault(Fault("status", status=401))
        result = run_cli(
            "-s", "--base-url", server.base_url, "m", "Hi", env=clean_env(OPENAI_API_KEY=secret)
        )
    assert_failed_cleanly(result)
    assert secret not in result.stderr + result.stdout
    assert server.requests[0].headers.get("authorization") == f"Bearer {secret}"


def test_help() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "--base-url" in result.stdout and "MESSAGE" in result.stdout
