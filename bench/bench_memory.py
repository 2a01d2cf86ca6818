"""Memory: a 1 GiB event stream through the decoders must not raise peak RSS by more than
a few MiB (events are consumed as they come, as a binding does).

Scenarios, each generated on the fly in 64 KiB pieces (nothing is held but the piece):

* SSE, 1 GiB of OpenAI-shaped ``data: {...}`` events;
* SSE, 1 GiB of events that each carry one 1 MiB data line (fragments at the limit's scale);
* NDJSON, 256 MiB of Ollama-shaped lines.

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
    small = traced_peak("sse-small", 64 * MiB) / 1024
    big = traced_peak("sse-1mib-events", 64 * MiB) / MiB
    print(
        f"\ntracemalloc peak on 64 MiB: sse-small {small:.0f} KiB, sse-1mib-events {big:.2f} MiB"
        " (one event is held while it arrives, then joined and decoded)"
    )
    verdict = "met" if worst <= TARGET_MIB else "MISSED"
    print(f"target: peak RSS rise <= {TARGET_MIB} MiB for 1 GiB: worst {worst:.2f} MiB ({verdict})")
    return 0 if worst <= TARGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
