"""``libchatty batch``: the input formats, the output and resume rules, the rate policy
(pure, with a hand-held clock), and whole runs against loopback servers."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import pytest
from libchatty.bindings._pool import MAX_IDLE_PER_HOST
from libchatty.bindings.asyncio import AsyncClient
from libchatty.bindings.batch import Settings, arun_file, arun_records, run_file, run_loop
from libchatty.bindings.batch_input import BadLine, Job, id_key, iter_lines, parse_line, read_jobs
from libchatty.bindings.batch_output import OutputBusy, ResultWriter, encode_record, scan_output
from libchatty.bindings.batch_progress import Progress, Summary
from libchatty.bindings.batch_rate import AIMD, RatePolicy, TokenBucket
from libchatty.bindings.batch_runner import batch_client, run_jobs
from libchatty.bindings.server import Fault, ReplayServer

from libchatty.replay import Script, split_tokens

ROOT = Path(__file__).resolve().parents[1]
USER = [{"role": "user", "content": "hi"}]


# --- input ---------------------------------------------------------------------------------
def test_libchatty_line_options_go_to_chat_or_extra() -> None:
    # stream and max_retries are the batch's own: a line cannot override them.
    line = {"id": 7, "messages": USER, "model": "m", "temperature": 0.5, "seed": 3,
            "stream": True, "max_retries": 9, "extra": {"user": "u"}}  # fmt: skip
    assert parse_line(1, json.dumps(line)) == Job(
        id=7, key="7", line=1, messages=USER, model="m",
        options={"temperature": 0.5, "seed": 3, "extra": {"user": "u"}}, input_tokens=8,
    )  # fmt: skip


def test_openai_batch_line_as_it_is() -> None:
    line = {"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 5,
                     "response_format": {"type": "json_object"}}}  # fmt: skip
    assert parse_line(3, json.dumps(line).encode()) == Job(
        id="req-1", key='"req-1"', line=3, messages=USER, model="gpt-4o-mini",
        options={"max_tokens": 5, "response_format": {"type": "json_object"}},
        input_tokens=8,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{nope", BadLine(2, "line 2: not JSON (Expecting property name enclosed in double quotes)")),  # noqa: E501
        (b'{"id": "\xff"}', BadLine(2, "line 2: not JSON (UnicodeDecodeError)")),
        (b"[1]", BadLine(2, "line 2: not a JSON object")),
        (b'{"messages": []}', BadLine(2, 'line 2: no "id"')),
        (b'{"id": 1, "messages": []}', BadLine(2, 'line 2: "messages" must be a non-empty list', 1)),  # noqa: E501
        (b'{"id": {}, "messages": [1]}', BadLine(2, "line 2: the id must be a string or a number")),
        (b'{"id": 1, "messages": [1], "model": 3}', BadLine(2, 'line 2: "model" must be a string', 1)),  # noqa: E501
        (b'{"custom_id": "x", "url": "/v1/embeddings", "body": {}}',
         BadLine(2, "line 2: only POST /v1/chat/completions is supported, not POST /v1/embeddings", "x")),  # noqa: E501
        (b'{"custom_id": "x", "body": []}', BadLine(2, 'line 2: "body" is not a JSON object', "x")),
        (b'{"custom_id": null}', BadLine(2, 'line 2: "custom_id" is null')),
    ],
)  # fmt: skip
def test_bad_lines_say_why_with_the_line_number(raw: bytes, expected: BadLine) -> None:
    assert parse_line(2, raw) == expected


def test_line_length_bound_at_the_limit_and_one_past() -> None:
    at = b'{"id":1,"messages":["' + b"x" * 10 + b'"]}\n'
    limit = len(at)  # the newline counts
    past = b'{"id":2,"messages":["' + b"x" * 11 + b'"]}\n'
    data = io.BytesIO(at + past + b"\n" + at.replace(b'"id":1', b'"id":3'))
    assert [(n, line) for n, line in iter_lines(data, limit)] == [
        (1, at), (2, None), (4, at.replace(b'"id":1', b'"id":3'))
    ]  # fmt: skip


def test_duplicate_id_is_a_bad_line_without_the_id() -> None:
    lines: list[dict[str, Any]] = [
        {"id": 1, "messages": USER},
        {"id": "1", "messages": USER},
        {"id": 1, "messages": USER},
    ]
    items = list(read_jobs(lines))
    assert [type(i).__name__ for i in items] == ["Job", "Job", "BadLine"]
    assert items[2] == BadLine(3, "line 3: duplicate id 1")
    assert id_key(1) != id_key("1")


# --- output --------------------------------------------------------------------------------
def _line(record: dict[str, Any]) -> bytes:
    return encode_record(record)


@pytest.mark.parametrize("fast", [True, False])
def test_a_record_is_one_compact_utf8_line_with_or_without_orjson(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from libchatty.bindings import batch_output

    if fast:
        pytest.importorskip("orjson")
    else:
        monkeypatch.setattr(batch_output, "_orjson", None)
    record = {"id": "é", "ok": True, "text": 'a "猫"\n\u2028', "usage": None, "ttft": 0.25,
              "tool_calls": [{"arguments": "{}"}], "n": 2**63}  # fmt: skip
    assert encode_record(record) == (
        '{"id":"é","ok":true,"text":"a \\"猫\\"\\n\u2028","usage":null,"ttft":0.25,'
        '"tool_calls":[{"arguments":"{}"}],"n":9223372036854775808}\n'
    ).encode()
    assert encode_record({"id": 3, "text": "\ud800"}) == b'{"id":3,"text":"\\ud800"}\n'


def test_scan_last_line_per_id_wins_and_a_torn_tail_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    whole = (
        _line({"id": "a", "ok": False}) + _line({"id": "a", "ok": True})
        + _line({"id": "b", "ok": True}) + _line({"id": "b", "ok": False})
        + _line({"id": None, "line": 9, "ok": False}) + b"garbage\n"
    )  # fmt: skip
    path.write_bytes(whole + b'{"id": "c", "ok": tr')
    state = scan_output(str(path))
    assert (state.done, state.failed, state.bad_lines) == ({'"a"'}, {'"b"'}, {9})
    assert (state.valid_end, state.torn, state.corrupt) == (len(whole), 20, 1)
    assert state.skips('"b"', retry_errors=False) and not state.skips('"b"', retry_errors=True)


def test_writer_truncates_a_torn_tail_then_appends_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(_line({"id": 1, "ok": True}) + b'{"id": 2, "ok"')
    with ResultWriter(str(path)) as writer:
        assert writer.state.done == {"1"} and writer.state.torn == 14
        writer.write({"id": 2, "ok": True, "text": "\u00e9\n"})
        writer.write({"id": 3, "ok": True, "text": "\ud800"})  # not UTF-8: ASCII escapes
    assert path.read_bytes() == (
        b'{"id":1,"ok":true}\n{"id":2,"ok":true,"text":"\xc3\xa9\\n"}\n'
        b'{"id":3,"ok":true,"text":"\\ud800"}\n'
    )


def test_one_run_per_output_file(tmp_path: Path) -> None:
    path = str(tmp_path / "out.jsonl")
    with ResultWriter(path), pytest.raises(OutputBusy, match="another run"):
        ResultWriter(path)
    ResultWriter(path).close()  # released


# --- rate policy (pure) --------------------------------------------------------------------
def test_token_bucket_holds_one_second_and_reserves_in_order() -> None:
    bucket = TokenBucket(120, now=0.0)  # 2/s, capacity 2
    assert [bucket.reserve(1, 0.0) for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    assert bucket.reserve(1, 10.0) == 0.0  # refilled to capacity only (2), not 20
    assert bucket.reserve(1, 10.0) == 0.0
    assert bucket.reserve(1, 10.0) == 0.5
    bucket.adjust(-1, 10.0)  # a refund
    assert bucket.reserve(1, 10.0) == 0.5


def test_tpm_is_corrected_by_usage() -> None:
    policy = RatePolicy(4, rpm=None, tpm=600, now=0.0)  # 10 tokens/s, capacity 10
    assert policy.reserve(10, 0.0) == 0.0
    policy.succeeded(10, input_used=10, output_used=10, now=0.0)  # 10 more than estimated
    assert policy.reserve(5, 0.0) == 1.5
    assert policy.estimate(5) == 6  # plus the average output seen (0.1 * 10)


def test_aimd_halves_once_per_burst_and_regains_slowly() -> None:
    aimd = AIMD(16)
    epoch = aimd.epoch
    assert [aimd.throttled(epoch) for _ in range(5)] == [True, False, False, False, False]
    assert aimd.limit == 8
    assert aimd.throttled(aimd.epoch) and aimd.limit == 4
    for _ in range(4):
        aimd.success()
    assert aimd.limit == 5  # +1 per `limit` successes
    for _ in range(10):
        aimd.throttled(aimd.epoch)
    assert aimd.limit == 1  # never below one


def test_throttle_pauses_until_retry_after_or_backs_off() -> None:
    policy = RatePolicy(8, None, None, now=0.0)
    policy.throttled(0, retry_after=2.5, now=1.0)
    assert policy.paused_until == 3.5 and policy.aimd.limit == 4
    policy.throttled(0, retry_after=None, now=1.0)  # second throttle in a row: 2 s
    assert policy.paused_until == 3.5
    policy.throttled(1, retry_after=None, now=3.0)  # third: 4 s
    assert policy.paused_until == 7.0 and policy.aimd.limit == 2


def test_ratelimit_headers_pause_and_cap() -> None:
    policy = RatePolicy(8, None, None, now=0.0)
    policy.observe_headers({"x-ratelimit-remaining-requests": "3"}, now=0.0)
    assert policy.aimd.limit == 3 and policy.paused_until == 0.0
    policy.observe_headers(
        {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m2.5s"}, now=1.0
    )
    assert policy.paused_until == 63.5


# --- progress and summary ------------------------------------------------------------------
def test_summary_text() -> None:
    summary = Summary(lines=10, skipped=2, succeeded=6, attempts=9, throttled=3,
                      input_tokens=60, output_tokens=300, elapsed=2.0)  # fmt: skip
    summary.failed.update({"input": 1, "rate_limit": 1})
    assert summary.format() == (
        "batch: 6 succeeded, 2 failed (input 1, rate_limit 1), 2 skipped (already in the "
        "output), 10 lines read\n"
        "batch: 9 requests sent, 3 throttled (429/503/529)\n"
        "batch: tokens 60 in, 300 out\n"
        "batch: 2.0 s, 4.0 results/s, 150 output tokens/s"
    )


def test_plain_status_lines_every_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(out, 4, bar=False, interval=10.0, clock=lambda: now[0])
    progress.update(True, 5)
    now[0] = 10.0
    progress.update(False, 0)
    progress.close()
    assert out.getvalue() == ("batch: 2/4 done, 1 errors, 0.2 req/s, 0 tok/s, ETA 10 s\n" * 2)


# --- whole runs against the replay server -------------------------------------------------
def _run(
    server: ReplayServer, records: list[Any], settings: Settings
) -> tuple[dict[Any, dict[str, Any]], Summary]:
    async def go() -> tuple[list[dict[str, Any]], Summary]:
        async with AsyncClient(base_url=server.base_url, max_retries=0) as client:
            return await arun_records(client, records, settings)

    results, summary = asyncio.run(go())
    by_id = {r["id"] if r["id"] is not None else ("line", r["line"]): r for r in results}
    assert len(by_id) == len(results)
    return by_id, summary


def _answer(i: int) -> str:
    return f"Answer number {i}: é, 猫."


@pytest.fixture
def routed() -> Iterator[ReplayServer]:
    with ReplayServer(routes={f"m{i}": _answer(i) for i in range(20)}) as server:
        yield server


def test_openai_batch_format_and_line_options_override(routed: ReplayServer) -> None:
    records = [
        {
            "custom_id": f"c{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": f"m{i}", "messages": USER, "temperature": 0.25},
        }
        for i in range(5)
    ] + [{"id": 5, "messages": USER}]  # the run's model and temperature
    results, summary = _run(routed, records, Settings(model="m7", options={"temperature": 1.0}))
    for i in range(5):
        record = results[f"c{i}"]
        assert (record["ok"], record["text"], record["attempts"]) == (True, _answer(i), 1)
        assert record["usage"]["output_tokens"] == len(split_tokens(_answer(i)))
        assert record["finish_reason"] == "stop" and record["ttft"] is not None
    assert results[5]["text"] == _answer(7)
    temperatures = sorted(json.loads(r.body)["temperature"] for r in routed.requests)
    assert temperatures == [0.25] * 5 + [1.0]
    assert (summary.succeeded, summary.failures, summary.attempts) == (6, 0, 6)


def test_errors_are_records_and_retryable_ones_are_retried(routed: ReplayServer) -> None:
    routed.add_fault(Fault("status", status=400, message="bad thing"))
    records = ["not json", {"id": "x", "messages": USER, "model": "m1"}]
    results, summary = _run(routed, records, Settings(concurrency=1))
    assert results[("line", 1)]["error"]["kind"] == "input"
    assert results["x"]["error"] == {
        "kind": "bad_request", "message": results["x"]["error"]["message"], "status": 400,
        "partial": "", "retry_after": None,
    }  # fmt: skip
    assert "bad thing" in results["x"]["error"]["message"]
    assert (results["x"]["attempts"], summary.failed) == (1, {"input": 1, "bad_request": 1})

    routed.add_fault(Fault("status", status=429, retry_after=0.05))
    routed.add_fault(Fault("status", status=503))
    results, summary = _run(routed, [{"id": "y", "messages": USER, "model": "m2"}], Settings())
    assert (results["y"]["ok"], results["y"]["text"], results["y"]["attempts"]) == (
        True,
        _answer(2),
        3,
    )
    assert (summary.throttled, summary.attempts) == (2, 3)


def test_max_retries_at_the_limit_and_one_past(routed: ReplayServer) -> None:
    for _ in range(2):
        routed.add_fault(Fault("status", status=429, retry_after=0.01))
    results, _ = _run(routed, [{"id": 1, "messages": USER, "model": "m1"}], Settings(max_retries=2))
    assert (results[1]["ok"], results[1]["attempts"]) == (True, 3)
    for _ in range(2):
        routed.add_fault(Fault("status", status=429, retry_after=0.01))
    results, _ = _run(routed, [{"id": 1, "messages": USER, "model": "m1"}], Settings(max_retries=1))
    assert (results[1]["ok"], results[1]["attempts"]) == (False, 2)
    assert (results[1]["error"]["kind"], results[1]["error"]["retry_after"]) == ("rate_limit", 0.01)


def test_resume_skips_done_and_retry_errors_supersedes(
    routed: ReplayServer, tmp_path: Path
) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(
        json.dumps({"id": i, "messages": USER, "model": f"m{i}"}) + "\n" for i in range(4)
    ) + "{broken\n")  # fmt: skip

    def run(retry_errors: bool) -> Summary:
        async def go() -> Summary:
            async with AsyncClient(base_url=routed.base_url, max_retries=0) as client:
                settings = Settings(concurrency=1, retry_errors=retry_errors, max_retries=0)
                return await arun_file(client, str(source), str(output), settings)

        return asyncio.run(go())

    routed.add_fault(Fault("status", status=500))  # request 0 fails, not retried
    first = run(False)
    assert (first.succeeded, first.failed, first.skipped) == (3, {"server": 1, "input": 1}, 0)
    again = run(False)
    assert (again.succeeded, again.failures, again.skipped, again.attempts) == (0, 0, 5, 0)
    retried = run(True)
    assert (retried.succeeded, retried.failed, retried.skipped) == (1, {"input": 1}, 3)
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    pairs = [(str(r["id"]), r["ok"]) for r in lines]  # in the order they completed
    assert sorted(pairs[:5]) == [
        ("0", False),
        ("1", True),
        ("2", True),
        ("3", True),
        ("None", False),
    ]
    assert sorted(pairs[5:]) == [("0", True), ("None", False)]
    final = scan_output(str(output))
    assert (final.done, final.failed) == ({"0", "1", "2", "3"}, set())


def test_cli_batch_subcommand(routed: ReplayServer, tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(
        json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "m3", "messages": USER}}) + "\n"
        + json.dumps({"id": "b", "messages": USER}) + "\n"
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-m", "libchatty", "batch", str(source), "-o", str(output),
         "--base-url", routed.base_url, "--model", "m4", "--concurrency", "2"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    texts = {r["id"]: r["text"] for r in map(json.loads, output.read_text().splitlines())}
    assert texts == {"a": _answer(3), "b": _answer(4)}
    assert (
        "batch: 2 succeeded, 0 failed, 0 skipped (already in the output), 2 lines read"
        in result.stderr
    )
    usage = subprocess.run(
        [sys.executable, "-m", "libchatty", "batch", str(source), "-o", str(output)],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )  # fmt: skip
    assert usage.returncode == 2 and "give --provider or --base-url" in usage.stderr


# --- adaptive rate control against a server that enforces a limit ---------------------------
class RateLimitedServer:
    """Loopback HTTP/1.1: at most ``limit`` chat requests per ``window`` seconds (fixed
    windows); the others get 429 with ``Retry-After`` = the rest of the window (+ 50 ms)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.accepted = self.rejected = 0
        self.windows: dict[int, int] = {}
        self.started = 0.0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    def __enter__(self) -> RateLimitedServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.started = time.monotonic()
        self._ready.set()
        async with server:
            await self._stop.wait()

    def _decide(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        elapsed = time.monotonic() - self.started
        window = math.floor(elapsed / self.window)
        if self.windows.get(window, 0) >= self.limit:
            self.rejected += 1
            wait = (window + 1) * self.window - elapsed + 0.05
            error = b'{"error": {"message": "rate limited", "type": "rate_limit_exceeded"}}'
            return (
                429,
                [("retry-after", f"{wait:.3f}"), ("content-type", "application/json")],
                error,
            )
        self.windows[window] = self.windows.get(window, 0) + 1
        self.accepted += 1
        name = json.loads(body)["messages"][0]["content"]
        chunks = [{"choices": [{"index": 0, "delta": {"content": f"ok {name}"}}]},
                  {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]  # fmt: skip
        sse = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
        return 200, [("content-type", "text/event-stream")], sse + b"data: [DONE]\n\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        body: list[bytes] = []
        try:
            for _ in range(10_000):  # bounded: requests on one connection
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    if not data:
                        return
                elif isinstance(event, h11.Data):
                    body.append(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    status, headers, payload = self._decide(b"".join(body))
                    body.clear()
                    headers.append(("content-length", str(len(payload))))
                    writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
                    writer.write(conn.send(h11.Data(data=payload)) + conn.send(h11.EndOfMessage()))
                    await writer.drain()
                    conn.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except (OSError, h11.ProtocolError):
            return
        finally:
            writer.close()


def test_adaptive_rate_control_settles_under_an_rpm_limit() -> None:
    total, limit, concurrency = 60, 10, 8
    with RateLimitedServer(limit=limit, window=0.5) as server:
        records = [{"id": i, "messages": [{"role": "user", "content": str(i)}], "model": "m"}
                   for i in range(total)]  # fmt: skip
        base_url = f"http://127.0.0.1:{server.port}/v1"

        async def go() -> tuple[list[dict[str, Any]], Summary]:
            async with AsyncClient(base_url=base_url, max_retries=0) as client:
                return await arun_records(
                    client, records, Settings(concurrency=concurrency, max_retries=50)
                )

        results, summary = asyncio.run(go())
    assert sorted((r["id"], r["text"]) for r in results) == [(i, f"ok {i}") for i in range(total)]
    assert server.accepted == total and summary.throttled == server.rejected
    # A 429 only comes once a window's `limit` requests were accepted, so at most
    # total // limit windows see any; in each, the first 429 pauses every new request
    # until the window ends, so only the requests already in flight (<= concurrency)
    # can be rejected there. A client without the pause would retry into the same
    # window again and again.
    assert server.rejected <= (total // limit) * concurrency


# --- the response's rate-limit headers and the structured answer in the records -----------------
def test_each_responses_rate_limit_headers_reach_the_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = json.dumps({"id": "c", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}).encode()
    head = ("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            "x-ratelimit-remaining-requests: 3\r\nx-ratelimit-reset-requests: 1s\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    seen: list[dict[str, str]] = []
    original = RatePolicy.observe_headers

    def observe(self: RatePolicy, headers: dict[str, str], now: float) -> None:
        seen.append(headers)
        original(self, headers, now)
        assert self.aimd.limit == 3  # capped at what the server says is left

    monkeypatch.setattr(RatePolicy, "observe_headers", observe)
    with ReplayServer(transcript=head + body) as server:
        results, _ = _run(server, [{"id": i, "messages": USER, "model": "m"} for i in range(2)],
                          Settings(concurrency=8))  # fmt: skip
    assert [r["text"] for r in results.values()] == ["ok", "ok"]
    assert seen == [{"content-type": "application/json", "x-ratelimit-remaining-requests": "3",
                     "x-ratelimit-reset-requests": "1s"}] * 2  # fmt: skip


def test_parsed_is_in_the_record_when_a_schema_was_asked() -> None:
    with ReplayServer(script=Script(text='{"n": 1}')) as server:
        results, _ = _run(server, [
            {"id": "a", "messages": USER, "model": "m", "response_format": {"type": "json_object"}},
            {"id": "b", "messages": USER, "model": "m"},
        ], Settings())  # fmt: skip
    assert results["a"]["parsed"] == {"n": 1}
    assert "parsed" not in results["b"]


def test_an_answer_that_is_not_json_is_a_structured_output_failure() -> None:
    with ReplayServer(text="not json") as server:
        results, summary = _run(server, [{"id": "a", "messages": USER, "model": "m",
                                          "response_format": {"type": "json_object"}}],
                                Settings())  # fmt: skip
    assert results["a"]["ok"] is False
    assert (results["a"]["error"]["kind"], results["a"]["error"]["partial"]) == (
        "structured_output", "not json")  # fmt: skip
    assert (results["a"]["attempts"], summary.failed) == (1, {"structured_output": 1})


# --- the request path: first-token time, connection reuse, cancellation ---------------------
def _counting_clock() -> Any:
    ticks = iter(range(1_000))
    return lambda: float(next(ticks))


def test_ttft_is_read_once_at_the_first_delta_and_none_without_content() -> None:
    # A clock that ticks once per read: the run reads it at the start of the request, at
    # the first Delta (once, however many follow) and at the end -- so ttft is exactly
    # one tick and duration two. A request that fails before any content reads it twice.
    async def go(server: ReplayServer) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        async with AsyncClient(base_url=server.base_url, max_retries=0) as client:
            jobs = read_jobs([{"id": 1, "messages": USER, "model": "m"}])
            settings = Settings(max_retries=0)
            await run_jobs(client, jobs, results.append, settings, clock=_counting_clock())
        return results

    text = "one two three four five"
    with ReplayServer(text=text, token_delay=0.02) as server:  # the deltas in several reads
        [done] = asyncio.run(go(server))
        server.add_fault(Fault("status", status=400))
        [failed] = asyncio.run(go(server))
    assert len(split_tokens(text)) == 5  # several deltas, one clock read among them
    assert (done["text"], done["ttft"], done["duration"]) == (text, 1.0, 2.0)
    assert (failed["ok"], failed["ttft"], failed["duration"]) == (False, None, 1.0)


@pytest.mark.parametrize(
    ("concurrency", "kept"),
    [(8, MAX_IDLE_PER_HOST), (MAX_IDLE_PER_HOST, MAX_IDLE_PER_HOST),
     (MAX_IDLE_PER_HOST + 1, MAX_IDLE_PER_HOST + 1)],
)  # fmt: skip
def test_batch_client_keeps_an_idle_connection_per_request_in_flight(
    concurrency: int, kept: int
) -> None:
    client = batch_client(None, concurrency, base_url="http://127.0.0.1:9/v1")
    assert client.config.max_retries == 0  # every 429 reaches the batch's rate control
    closed: list[object] = []

    class Idle:
        def abort(self) -> None:
            closed.append(self)

    key = ("http", "127.0.0.1", 9)
    for _ in range(kept + 1):
        client.pool.put(key, Idle())
    assert (client.pool.idle_count(key), len(closed)) == (kept, 1)


@pytest.mark.parametrize("concurrency", [MAX_IDLE_PER_HOST, MAX_IDLE_PER_HOST + 1])
def test_a_run_opens_one_connection_per_request_in_flight(concurrency: int, tmp_path: Path) -> None:
    # The first `concurrency` requests start together and each opens a connection;
    # every later one starts when one has ended, and takes its connection back from the
    # pool. With the default pool (64 idle), a run above 64 closed and reopened some.
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    total = 2 * concurrency
    source.write_text("".join(json.dumps({"id": i, "messages": USER}) + "\n" for i in range(total)))
    with ReplayServer(text="ok") as server:
        settings = Settings(model="m", concurrency=concurrency)
        summary = run_file(str(source), str(output), None, settings, base_url=server.base_url)
        assert server.connections == concurrency
    assert (summary.succeeded, summary.failures) == (total, 0)
    assert len(output.read_text().splitlines()) == total


def test_cancelling_a_run_closes_its_connections_and_writes_nothing() -> None:
    conns: list[Any] = []
    results: list[dict[str, Any]] = []

    async def go(server: ReplayServer) -> None:
        async with AsyncClient(base_url=server.base_url, max_retries=0) as client:
            connect = client.backend.connect

            async def recording(host: str, port: int, timeout: float | None) -> Any:
                conn = await connect(host, port, timeout)
                conns.append(conn)
                return conn

            client.backend.connect = recording  # type: ignore[method-assign]
            records = [{"id": i, "messages": USER, "model": "m"} for i in range(3)]
            run = asyncio.create_task(run_jobs(client, read_jobs(records), results.append,
                                               Settings(concurrency=3)))  # fmt: skip
            for _ in range(1_000):  # bounded: until the server has all three requests
                if len(server.requests) == 3:
                    break
                await asyncio.sleep(0.01)
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run
            assert client.pool.idle_count(("http", "127.0.0.1", server.port)) == 0

    with ReplayServer(text="slow answer here", token_delay=30.0) as server:
        asyncio.run(go(server))
    assert (len(conns), results) == (3, [])
    assert [conn.transport.is_closing() for conn in conns] == [True] * 3


# --- the event loop --------------------------------------------------------------------------
async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_run_loop_runs_on_the_loop_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    assert run_loop(_loop_module(), "asyncio") == "asyncio"
    assert run_loop(_loop_module(), "uvloop") == "uvloop"
    assert run_loop(_loop_module()) == "uvloop"  # auto: uvloop when installed
    monkeypatch.setitem(sys.modules, "uvloop", None)  # now it is not
    assert run_loop(_loop_module()) == "asyncio"
    main = _loop_module()
    with pytest.raises(ValueError) as missing:
        run_loop(main, "uvloop")
    assert str(missing.value) == "--loop uvloop: uvloop is not installed"
    assert inspect.getcoroutinestate(main) == "CORO_CLOSED"  # never left un-awaited
    with pytest.raises(ValueError) as unknown:
        run_loop(_loop_module(), "trio")
    assert str(unknown.value) == "the event loop is one of auto, asyncio, uvloop, not 'trio'"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_run_gives_the_same_records_on_either_loop(
    loop: str, routed: ReplayServer, tmp_path: Path
) -> None:
    pytest.importorskip(loop)
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(
        json.dumps({"id": i, "messages": USER, "model": f"m{i}"}) + "\n" for i in range(20)
    ))  # fmt: skip
    summary = run_file(str(source), str(output), None, Settings(concurrency=4), loop=loop,
                       base_url=routed.base_url)  # fmt: skip
    texts = {r["id"]: r["text"] for r in map(json.loads, output.read_text().splitlines())}
    assert texts == {i: _answer(i) for i in range(20)}
    assert (summary.succeeded, summary.failures) == (20, 0)
