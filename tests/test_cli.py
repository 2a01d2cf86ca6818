"""The ``libchatty`` command line, run as a real subprocess against the replay server."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from libchatty.bindings.server import DEFAULT_TEXT, Fault, ReplayServer

from libchatty.script import split_tokens

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
    assert 64 in (request.json.get("max_tokens"), request.json.get("max_completion_tokens"))
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


def test_piped_output_without_stream_flag_sends_a_plain_request(server: ReplayServer) -> None:
    result = run_cli("--base-url", server.base_url, "m", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT + "\n"
    assert server.requests[0].json.get("stream") in (None, False)


def test_no_stream_flag(server: ReplayServer) -> None:
    result = run_cli("--no-stream", "--stats", "--base-url", server.base_url, "m", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT + "\n"
    assert server.requests[0].json.get("stream") in (None, False)
    assert "[stats]" in result.stderr


def test_tokens_are_flushed_as_they_arrive() -> None:
    # The server stalls after a few events: the text before the stall must already be on
    # the CLI's stdout while the process is still waiting.
    events_before = 5
    with ReplayServer(
        text=TEXT, faults=[Fault("stall", after_events=events_before, seconds=60)]
    ) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "libchatty", "-s", "--base-url", server.base_url, "m", "Hi"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            expected = "".join(split_tokens(TEXT)[: events_before - 1]).encode()  # role chunk first
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
            assert got == expected
            assert proc.poll() is None  # still streaming: the text was flushed, not buffered
        finally:
            proc.kill()
            proc.communicate(timeout=30)


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


def test_a_key_never_appears_in_output(server: ReplayServer) -> None:
    secret = "sk-test-0123456789abcdef-secret"
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
