"""The HTTP/1.1 body reader (``libchatty.http1body``) against h11 and the floor.

Run: ``python bench/bench_http1body.py [--runs N] [--events N] [--json FILE]``
(``bench/run.py --only http1body`` runs it in the bench virtualenv).

The input: ``--events`` OpenAI chat-completion chunk events (the JSON shape of a real
gpt-4o stream), each its own HTTP chunk, behind a chunked response head. Two shapes:

* live: one HTTP chunk per read -- a model sending one token per read;
* 4 KiB reads -- a buffered socket.

Rows, each turning the same bytes into the answer text:

* (a) floor: ``bytes.split(b"\\n\\n")`` + ``json.loads`` + the dict lookups for
  ``choices[0].delta.content``, fed the *de-chunked* body in the same reads (for the
  live shape: one SSE event per piece) -- no HTTP at all;
* (b) h11: ``receive_data`` + the ``next_event`` loop over the HTTP bytes, then (a) on
  each ``Data``;
* (c) libchatty: h11 for the head, then ``ChunkedBody.feed`` per read, then (a) on what
  it returns.

Times are best of ``--runs`` rounds with ``time.perf_counter`` (GC off while timing; the
three take turns within a round, so load on a shared machine hits them alike); ratios are
against (a). Target (issue 14): (c) within ~1.2x of (a) in the live shape.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any, Final

import h11

from libchatty.http1body import ChunkedBody, reader_for

TARGET: Final = 1.2
READ_SIZE: Final = 4 * 1024
HEAD: Final = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\n"
    b"x-request-id: req_3ad9e7f1b0c24b8e9f0a7c6d5e4f3a2b\r\n"
    b"\r\n"
)
WORDS: Final = ["The", " capital", " of", " France", " is", " Paris", ".", " Café", " 🚀"]


def events(count: int) -> list[bytes]:
    out = []
    for i in range(count):
        chunk = {
            "id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL",
            "object": "chat.completion.chunk",
            "created": 1727346168,
            "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_5050236cbd",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": WORDS[i % len(WORDS)]},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        }
        out.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    return out


def reads(data: bytes, size: int = READ_SIZE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- the contenders ---------------------------------------------------------------------
def floor(pieces: list[bytes], loads: Callable[[bytes], Any] = json.loads) -> str:
    """(a): split + loads + lookups on body bytes."""
    out: list[str] = []
    rest = b""
    for piece in pieces:
        parts = (rest + piece).split(b"\n\n")
        rest = parts.pop()
        for part in parts:
            if part.startswith(b"data: {"):
                choices = loads(part[6:])["choices"]
                if choices:
                    text = choices[0]["delta"].get("content")
                    if text:
                        out.append(text)
    return "".join(out)


def client() -> h11.Connection:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/v1/chat/completions", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    return conn


def with_h11(pieces: list[bytes]) -> str:
    """(b): h11's receive_data/next_event loop, the floor on each Data."""
    conn = client()
    out: list[str] = []
    rest = b""
    for piece in pieces:
        conn.receive_data(piece)
        while True:
            event = conn.next_event()
            if type(event) is h11.Data:
                parts = (rest + event.data).split(b"\n\n")
                rest = parts.pop()
                for part in parts:
                    if part.startswith(b"data: {"):
                        choices = json.loads(part[6:])["choices"]
                        if choices:
                            text = choices[0]["delta"].get("content")
                            if text:
                                out.append(text)
            elif event is h11.NEED_DATA or type(event) is h11.EndOfMessage:
                break
    return "".join(out)


def with_reader(pieces: list[bytes]) -> str:
    """(c): h11 for the head, then the body reader, the floor on what each feed returns."""
    conn = client()
    out: list[str] = []
    rest = b""
    reader = None
    later: list[bytes] = []
    for i, piece in enumerate(pieces):
        conn.receive_data(piece)
        response = conn.next_event()
        if type(response) is h11.Response:
            reader = reader_for(b"POST", response)
            later = pieces[i + 1 :]
            break
    assert isinstance(reader, ChunkedBody)
    feed = reader.feed
    first = conn.trailing_data[0]
    for piece in [first, *later] if first else later:
        data = feed(piece)  # never b"" here: that would mean end of input
        if not data:
            continue
        parts = (rest + data).split(b"\n\n")
        rest = parts.pop()
        for part in parts:
            if part.startswith(b"data: {"):
                choices = json.loads(part[6:])["choices"]
                if choices:
                    text = choices[0]["delta"].get("content")
                    if text:
                        out.append(text)
    assert reader.done and not reader.trailing
    return "".join(out)


def race(
    contenders: list[tuple[Callable[[list[bytes]], str], list[bytes]]], runs: int, want: str
) -> list[float]:
    """Best time of each ``run(pieces)`` over ``runs`` rounds. The contenders take turns
    within each round, so a busy machine slows them alike."""
    for run, pieces in contenders:
        assert run(pieces) == want, "a contender decoded something else"
    best = [float("inf")] * len(contenders)
    for _ in range(runs):
        for k, (run, pieces) in enumerate(contenders):
            gc.disable()
            start = time.perf_counter()
            run(pieces)
            best[k] = min(best[k], time.perf_counter() - start)
            gc.enable()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per row (best of)")
    parser.add_argument("--events", type=int, default=20_000, help="SSE events in the stream")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()

    n = args.events
    body_events = events(n)
    want = "".join(WORDS[i % len(WORDS)] for i in range(n))
    frames = [b"%x\r\n%s\r\n" % (len(e), e) for e in body_events] + [b"0\r\n\r\n"]
    body = b"".join(body_events)
    shapes = {
        "live: one HTTP chunk per read": (body_events, [HEAD, *frames]),
        "4 KiB reads": (reads(body), reads(HEAD + b"".join(frames))),
    }
    print(
        f"{n} OpenAI chunk events, one per HTTP chunk; best of {args.runs}; "
        f"python {sys.version.split()[0]}"
    )
    print(f"{'':48} {'us/event':>9} {'x floor':>8}")
    results: dict[str, dict[str, float]] = {}
    ok = True
    for shape, (floor_pieces, http_pieces) in shapes.items():
        print(f"-- {shape} ({len(http_pieces)} reads)")
        a, b, c = race(
            [(floor, floor_pieces), (with_h11, http_pieces), (with_reader, http_pieces)],
            args.runs,
            want,
        )
        for label, seconds in [
            ("(a) floor: split + json.loads + lookups", a),
            ("(b) h11 + floor", b),
            ("(c) http1body.ChunkedBody + floor", c),
        ]:
            print(f"{label:48} {seconds / n * 1e6:9.2f} {seconds / a:8.2f}")
            results[f"{shape}: {label}"] = {"us_per_event": seconds / n * 1e6, "ratio": seconds / a}
        if shape.startswith("live"):
            ok = c / a <= TARGET
            print(f"target (c)/(a) <= {TARGET}: {'met' if ok else 'NOT met'} ({c / a:.2f})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
