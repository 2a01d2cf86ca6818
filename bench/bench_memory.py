"""Memory: a 1 GiB event stream through the decoders must not raise peak RSS by more than
a few MiB (events are consumed as they come, as a binding does).

Scenarios, each generated on the fly in 64 KiB pieces (nothing is held but the piece):

* SSE, 1 GiB of OpenAI-shaped ``data: {...}`` events;
* SSE, 1 GiB of events that each carry one 1 MiB data line (fragments at the limit's scale);
* NDJSON, 256 MiB of Ollama-shaped lines;
* a whole ``Call``: 10**6 one-character deltas (an OpenAI stream, ~70 MB of SSE in 64 KiB
  reads), ending in ``Done``. The answer (1 MB of text) is held, as it must be: the row
  shows that the accumulated pieces cost about the text, not ~60 bytes per delta
  (issue 9: this rose by 70-80 MB before pieces were compacted).

Peak RSS comes from ``resource.getrusage`` (the high-water mark; Linux reports KiB). Each
scenario runs in a fresh subprocess so one's peak cannot hide another's. A short
``tracemalloc`` run on 64 MiB reports the peak of Python allocations as a cross-check.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator

PIECE = 64 * 1024
MiB = 1024 * 1024
TARGET_MIB = 8  # "a few MiB"
CALL_TARGET_MIB = 8  # the 1 MB answer, joined once more for Done, plus a few MiB


def sse_small_events() -> bytes:
    chunk = {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {"content": " café"}, "finish_reason": None}],
    }
    event = b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
    return event * (PIECE // len(event) + 1)


def sse_big_events() -> bytes:
    return b"data: " + b"x" * (MiB - 8) + b"\n\n"


def ndjson_lines() -> bytes:
    line = b'{"model":"llama3.2","message":{"role":"assistant","content":" sky"},"done":false}\n'
    return line * (PIECE // len(line) + 1)


def stream(doubled: bytes, total: int) -> Iterator[bytes]:
    """``total`` bytes repeating a pattern (given twice over, so any window of it is one
    slice), in PIECE-sized pieces; offsets drift, so events straddle piece boundaries."""
    period = len(doubled) // 2
    offset = 0
    sent = 0
    while sent < total:
        start = offset % period
        n = min(PIECE, len(doubled) - start, total - sent)
        yield doubled[start : start + n]
        offset += n
        sent += n


PATTERNS = {
    "sse-small": sse_small_events,
    "sse-1mib-events": sse_big_events,
    "ndjson": ndjson_lines,
}


def doubled(name: str) -> bytes:
    return PATTERNS[name]() * 2


def run_scenario(name: str, pattern: bytes, total: int) -> tuple[int, float]:
    """(events, seconds). The stream is cut at ``total`` bytes, mid-event: what is
    pending then is simply dropped, as when a connection is abandoned."""
    from libchatty.ndjson import NDJSONDecoder
    from libchatty.sse import SSEDecoder

    started = time.perf_counter()
    count = 0
    feed = (SSEDecoder(max_event_size=2 * MiB) if name.startswith("sse") else NDJSONDecoder()).feed
    for piece in stream(pattern, total):
        count += len(feed(piece))
    return count, time.perf_counter() - started


CALL_DELTAS = 10**6


def call_stream(deltas: int) -> Iterator[bytes]:
    """An OpenAI chat stream of ``deltas`` one-character deltas as chunked HTTP, made
    piece by piece (the whole would be ~70 MB)."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    yield head
    letters = "abcdefghijklmnopqrstuvwxyz"
    events = [
        b"data: "
        + json.dumps(
            {"choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]},
            separators=(",", ":"),
        ).encode()
        + b"\n\n"
        for c in letters
    ]
    per_piece = PIECE // len(events[0])
    sent = 0
    while sent < deltas:
        n = min(per_piece, deltas - sent)
        body = b"".join(events[(sent + i) % len(events)] for i in range(n))
        sent += n
        yield b"%x\r\n%s\r\n" % (len(body), body)
    tail = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    yield b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail)


def run_call(deltas: int) -> tuple[int, float]:
    """(events, seconds) for ``deltas`` one-character deltas through a ``Call``; the
    events are dropped as they come, as a binding delivering them does."""
    from libchatty.call import Call
    from libchatty.endpoint import Endpoint
    from libchatty.events import Done
    from libchatty.request import ChatRequest, Message

    started = time.perf_counter()
    call = Call(
        Endpoint("https://api.openai.com/v1", "sk-bench"),
        ChatRequest("gpt-4o-mini", [Message("user", "count")]),
    )
    call.start()
    count = 0
    last = None
    for piece in call_stream(deltas):
        events = call.receive_data(piece)
        count += len(events)
        if events:
            last = events[-1]
    assert type(last) is Done and len(last.text) == deltas, last
    return count, time.perf_counter() - started


def call_child(deltas: int) -> None:
    run_call(1000)  # imports and first allocations
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count, seconds = run_call(deltas)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": count, "seconds": seconds, "before_kib": before,
                      "after_kib": after}))


def child(name: str, total: int) -> None:
    pattern = doubled(name)
    run_scenario(name, pattern, 256 * 1024)  # imports and first allocations
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count, seconds = run_scenario(name, pattern, total)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "events": count,
                "bytes": total,
                "seconds": seconds,
                "before_kib": before,
                "after_kib": after,
            }
        )
    )


def traced_peak(name: str, total: int) -> int:
    pattern = doubled(name)
    run_scenario(name, pattern, 256 * 1024)  # imports are not the decoder's memory
    tracemalloc.start()
    run_scenario(name, pattern, total)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        if sys.argv[2] == "call":
            call_child(int(sys.argv[3]))
        else:
            child(sys.argv[2], int(sys.argv[3]))
        return 0
    scenarios = [("sse-small", 1024 * MiB), ("sse-1mib-events", 1024 * MiB), ("ndjson", 256 * MiB)]
    print(f"{'scenario':<18} {'stream':>9} {'events':>10} {'MB/s':>7} {'peak RSS rise':>14}")
    worst = 0.0
    for name, total in scenarios:
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, str(total)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout)
        rise = (result["after_kib"] - result["before_kib"]) / 1024
        worst = max(worst, rise)
        rate = result["bytes"] / result["seconds"] / 1e6
        print(
            f"{name:<18} {total // MiB:>6} MiB {result['events']:>10,} {rate:>7.0f} "
            f"{rise:>10.2f} MiB"
        )
    out = subprocess.run(
        [sys.executable, __file__, "--child", "call", str(CALL_DELTAS)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    call_rise = (result["after_kib"] - result["before_kib"]) / 1024
    print(
        f"{'call-1e6-deltas':<18} {'~70':>6} MiB {result['events']:>10,} "
        f"{'':>7} {call_rise:>10.2f} MiB  (holds the 1 MB answer; target <= "
        f"{CALL_TARGET_MIB} MiB)"
    )
    small = traced_peak("sse-small", 64 * MiB) / 1024
    big = traced_peak("sse-1mib-events", 64 * MiB) / MiB
    print(
        f"\ntracemalloc peak on 64 MiB: sse-small {small:.0f} KiB, sse-1mib-events {big:.2f} MiB"
        " (one event is held while it arrives, then joined and decoded)"
    )
    verdict = "met" if worst <= TARGET_MIB else "MISSED"
    print(f"target: peak RSS rise <= {TARGET_MIB} MiB for 1 GiB: worst {worst:.2f} MiB ({verdict})")
    call_verdict = "met" if call_rise <= CALL_TARGET_MIB else "MISSED"
    print(
        f"target: 10**6 one-character deltas through Call raise peak RSS <= "
        f"{CALL_TARGET_MIB} MiB: {call_rise:.2f} MiB ({call_verdict})"
    )
    return 0 if worst <= TARGET_MIB and call_rise <= CALL_TARGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
