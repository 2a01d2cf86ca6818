"""SSE decoding cost per event, against the floor and against peer decoders.

Input: a 20,000-event OpenAI chat-completions stream (``data: {...}\\n\\n`` chunks as
api.openai.com sends them, ~1 in 8 tokens non-ASCII), fed in 4 KiB pieces. Every
implementation extracts each delta's text (``json.loads`` + dict lookups) and must return
the same list of texts. Timing: best of N runs of the whole stream (interleaved, so drift
hits everyone alike), reported as ns per event and as a ratio to the floor:

* floor: ``bytes.split(b"\\n\\n")`` on the pieces (carrying the partial tail), slice off
  ``data: ``, ``json.loads``, lookups -- the least work any Python client must do;
* libchatty: ``SSEDecoder`` + ``json.loads`` / + ``libchatty.jsonload`` (stdlib
  backend) / + ``jsonload`` with orjson (the ``fast`` extra);
* openai SDK: ``openai._streaming.SSEDecoder().iter_bytes`` + ``json.loads``;
* httpx-sse: ``EventSource(response).iter_sse()`` on an ``httpx.Response`` streaming the
  same pieces (httpx's text decoding + its line splitter + its ``SSEDecoder``) + ``json.loads``.

Then a spec-conformance table: a handful of WHATWG corner cases through each decoder.
Peers missing from the interpreter are reported as missing.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from libchatty.jsonload import make_loads, stdlib_loads
from libchatty.sse import SSEDecoder

EVENTS = 20_000
PIECE = 4096
RUNS = 7

Impl = Callable[[list[bytes]], list[Any]]


def make_stream(n: int = EVENTS) -> bytes:
    words = [
        "The",
        " capital",
        " of",
        " France",
        " is",
        " Paris",
        ".",
        " It",
        "’s",
        " café",
        " known",
        " for",
        " the",
        " Eiffel",
        " Tower",
        " and",
        " naïve",
        " art",
        "\n",
    ]
    head = {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }
    out = []
    for i in range(n):
        chunk = dict(head)
        delta = (
            {"role": "assistant", "content": "", "refusal": None}
            if i == 0
            else {"content": words[i % len(words)]}
        )
        finish = "stop" if i == n - 1 else None
        if finish:
            delta = {}
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        out.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def pieces(stream: bytes, size: int = PIECE) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


# -- implementations: pieces -> delta texts --------------------------------------------------


def text_of(chunk: Any) -> Any:
    return chunk["choices"][0]["delta"].get("content")


def floor_with(loads: Callable[[Any], Any]) -> Impl:
    def floor(chunks: list[bytes]) -> list[Any]:
        texts = []
        append = texts.append
        tail = b""
        for chunk in chunks:
            blocks = (tail + chunk if tail else chunk).split(b"\n\n")
            tail = blocks.pop()
            for block in blocks:
                payload = block[6:]
                if payload == b"[DONE]":
                    return texts
                append(text_of(loads(payload)))
        return texts

    return floor


def libchatty_with(loads: Callable[[Any], Any]) -> Impl:
    def run(chunks: list[bytes]) -> list[Any]:
        texts = []
        append = texts.append
        decoder = SSEDecoder()
        for chunk in chunks:
            for event in decoder.feed(chunk):
                if event.data == "[DONE]":
                    return texts
                append(text_of(loads(event.data)))
        return texts

    return run


def openai_impl() -> Impl | None:
    try:
        from openai._streaming import SSEDecoder as OpenAIDecoder
    except ImportError:
        return None

    def run(chunks: list[bytes]) -> list[Any]:
        texts = []
        for event in OpenAIDecoder().iter_bytes(iter(chunks)):
            if event.data == "[DONE]":
                break
            texts.append(text_of(json.loads(event.data)))
        return texts

    return run


def httpx_sse_events(chunks: list[bytes]) -> Iterator[Any]:
    import httpx
    from httpx_sse import EventSource

    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
    )
    return EventSource(response).iter_sse()


def httpx_sse_impl() -> Impl | None:
    try:
        import httpx  # noqa: F401
        import httpx_sse  # noqa: F401
    except ImportError:
        return None

    def run(chunks: list[bytes]) -> list[Any]:
        texts = []
        for event in httpx_sse_events(chunks):
            if event.data == "[DONE]":
                break
            texts.append(text_of(json.loads(event.data)))
        return texts

    return run


def orjson_module() -> Any | None:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


# -- spec conformance ---------------------------------------------------------------------------

# (name, chunks, expected [(event, data, id)]); retry is checked separately below.
CASES: list[tuple[str, list[bytes], list[tuple[str, str, str]]]] = [
    ("BOM stripped", [b"\xef\xbb\xbfdata: x\n\n"], [("message", "x", "")]),
    ("only one BOM stripped", [b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n"], []),
    ("CR line ends", [b"data: x\r\rdata: y\r\r"], [("message", "x", ""), ("message", "y", "")]),
    ("CRLF split across chunks", [b"data: x\r", b"\n\r", b"\n"], [("message", "x", "")]),
    ("invalid UTF-8 -> U+FFFD", [b"data: \xff\n\n"], [("message", "\ufffd", "")]),
    ("UTF-8 split across chunks", [b"data: \xc3", b"\xa9\n\n"], [("message", "é", "")]),
    ("empty data dispatches nothing", [b"event: x\nid: 1\n\n"], []),
    ("type reset after empty dispatch", [b"event: a\n\ndata: x\n\n"], [("message", "x", "")]),
    (
        "id persists",
        [b"id: 1\ndata: a\n\ndata: b\n\n"],
        [("message", "a", "1"), ("message", "b", "1")],
    ),
    ("id with NUL ignored", [b"id: 1\n\nid: 2\x00\ndata: a\n\n"], [("message", "a", "1")]),
    ("field without colon", [b"data\n\n"], [("message", "", "")]),
    ("one space stripped", [b"data:  x\n\n"], [("message", " x", "")]),
    ("unterminated event discarded", [b"data: x\n"], []),
]
RETRY_CASES: list[tuple[str, list[bytes], int | None]] = [
    ("retry ASCII digits only", [b"retry: 1_0\nretry: \xd9\xa1\nretry: +5\ndata: a\n\n"], None),
    ("retry honoured", [b"retry: 250\ndata: a\n\n"], 250),
]

Decode = Callable[[list[bytes]], list[tuple[str, str, str, int | None]]]


def as_tuples(events: Iterable[Any]) -> list[tuple[str, str, str, int | None]]:
    return [(e.event or "message", e.data, e.id or "", e.retry) for e in events]


def libchatty_decode(chunks: list[bytes]) -> list[tuple[str, str, str, int | None]]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return as_tuples(events + decoder.close())


def floor_decode(chunks: list[bytes]) -> list[tuple[str, str, str, int | None]]:
    blocks = b"".join(chunks).split(b"\n\n")[:-1]
    return [
        ("message", b[6:].decode("utf-8", "replace"), "", None)
        for b in blocks
        if b[:6] == b"data: "
    ]


def openai_decode(chunks: list[bytes]) -> list[tuple[str, str, str, int | None]]:
    from openai._streaming import SSEDecoder as OpenAIDecoder

    return as_tuples(OpenAIDecoder().iter_bytes(iter(chunks)))


def httpx_sse_decode(chunks: list[bytes]) -> list[tuple[str, str, str, int | None]]:
    return as_tuples(httpx_sse_events(chunks))


def conformance(decode: Decode) -> tuple[int, int, list[str]]:
    passed, failed = 0, []
    for name, chunks, expected in CASES:
        try:
            ok = [t[:3] for t in decode(chunks)] == expected
        except Exception:  # a decoder that raises on a corner case fails it
            ok = False
        passed += ok
        if not ok:
            failed.append(name)
    for name, chunks, retry in RETRY_CASES:
        try:
            got = decode(chunks)
            ok = len(got) == 1 and got[0][3] == retry
        except Exception:
            ok = False
        passed += ok
        if not ok:
            failed.append(name)
    return passed, len(CASES) + len(RETRY_CASES), failed


# -- measuring ------------------------------------------------------------------------------------


def best_ns_per_event(impls: dict[str, Impl], chunks: list[bytes], runs: int) -> dict[str, float]:
    best = dict.fromkeys(impls, float("inf"))
    for _ in range(runs):
        for name, impl in impls.items():
            started = time.perf_counter()
            impl(chunks)
            took = time.perf_counter() - started
            best[name] = min(best[name], took)
    return {name: seconds * 1e9 / EVENTS for name, seconds in best.items()}


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    stream = make_stream()
    chunks = pieces(stream)
    orjson = orjson_module()

    impls: dict[str, Impl] = {"floor (split + json.loads)": floor_with(json.loads)}
    impls["libchatty + json.loads"] = libchatty_with(json.loads)
    impls["libchatty + jsonload (stdlib)"] = libchatty_with(stdlib_loads)
    if orjson is not None:
        impls["libchatty + jsonload (orjson)"] = libchatty_with(make_loads(orjson))
        impls["floor with orjson.loads"] = floor_with(orjson.loads)
    peers = {
        "openai SDK SSEDecoder + json.loads": openai_impl(),
        "httpx-sse + json.loads": httpx_sse_impl(),
    }
    for name, impl in peers.items():
        if impl is not None:
            impls[name] = impl

    reference = impls["floor (split + json.loads)"](chunks)
    assert len(reference) == EVENTS, len(reference)
    for name, impl in impls.items():
        assert impl(chunks) == reference, f"{name} decoded differently"

    print(
        f"Python {platform.python_version()} on {platform.machine()}; openai "
        f"{package_version('openai')}, httpx-sse {package_version('httpx-sse')}, "
        f"httpx {package_version('httpx')}, orjson {package_version('orjson')}"
    )
    print(
        f"{EVENTS:,} OpenAI-shaped events, {len(stream):,} bytes in {PIECE} B pieces; "
        f"best of {runs} runs\n"
    )
    results = best_ns_per_event(impls, chunks, runs)
    floor = results["floor (split + json.loads)"]

    decoders: dict[str, Decode | None] = {
        "floor (split + json.loads)": floor_decode,
        "libchatty + json.loads": libchatty_decode,
        "libchatty + jsonload (stdlib)": libchatty_decode,
        "libchatty + jsonload (orjson)": libchatty_decode,
        "floor with orjson.loads": floor_decode,
        "openai SDK SSEDecoder + json.loads": openai_decode,
        "httpx-sse + json.loads": httpx_sse_decode,
    }
    width = max(map(len, results)) + 2
    print(f"{'implementation':<{width}} {'ns/event':>9} {'vs floor':>9}  spec cases")
    for name, ns in results.items():
        decode = decoders.get(name)
        passed, total, _ = conformance(decode) if decode else (0, 0, [])
        print(f"{name:<{width}} {ns:>9.0f} {ns / floor:>8.2f}x  {passed}/{total}")
    for name in peers:
        if peers[name] is None:
            print(f"{name:<{width}} {'missing':>9}")

    print("\nspec cases failed:")
    for name, decode in (
        ("floor", floor_decode),
        ("libchatty", libchatty_decode),
        ("openai SDK", openai_decode if peers["openai SDK SSEDecoder + json.loads"] else None),
        ("httpx-sse", httpx_sse_decode if peers["httpx-sse + json.loads"] else None),
    ):
        if decode is None:
            continue
        passed, total, failed = conformance(decode)
        print(f"  {name:<11} {passed}/{total}  {', '.join(failed) or '-'}")

    decoder_only = best_ns_per_event(
        {
            "libchatty SSEDecoder.feed only": lambda c: [
                e for x in (SSEDecoder(),) for p in c for e in x.feed(p)
            ]
        },
        chunks,
        runs,
    )
    for name, ns in decoder_only.items():
        print(f"\n{name}: {ns:.0f} ns/event (no JSON)")

    stdlib = results["libchatty + jsonload (stdlib)"] / floor
    print(
        f"\ntarget: libchatty stdlib <= 1.10x floor: {stdlib:.2f}x "
        f"({'met' if stdlib <= 1.10 else 'MISSED'}); with json.loads itself: "
        f"{results['libchatty + json.loads'] / floor:.2f}x"
    )
    if orjson is not None:
        fast = results["libchatty + jsonload (orjson)"] / floor
        print(
            f"target: libchatty with orjson <= 0.50x stdlib floor: {fast:.2f}x "
            f"({'met' if fast <= 0.50 else 'MISSED'})"
        )
    else:
        print("target: libchatty with orjson: orjson not installed, not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
