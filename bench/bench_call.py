"""A whole streamed chat completion through ``Call``, against the floor and the openai SDK.

Run: ``python bench/bench_call.py [--runs N] [--chunks N] [--json FILE]`` (``bench/run.py``
runs it in the bench virtualenv, where openai and orjson are installed).

The input is a recorded-shape OpenAI stream -- the chunk JSON of a real gpt-4o stream
(``tests/fixtures/openai-chat/stream-usage.http``: id, created, model,
system_fingerprint, ``logprobs: null``...) -- of ``--chunks`` content deltas plus the role,
finish and usage chunks and ``data: [DONE]``, one SSE event per HTTP chunk as OpenAI sends
them, behind a real response head. It is fed in two ways: 16 KiB reads (a buffered socket)
and one read per HTTP chunk (a live stream arriving token by token).

Rows, each turning the same bytes into the answer text:

* floor: an h11 client ``Connection`` + ``bytes.split(b"\\n\\n")`` + ``json.loads`` + the
  dict lookups for ``choices[0].delta.content`` -- the least any correct client must do;
* libchatty ``Call``: HTTP, SSE (spec-exact), JSON, typed ``Delta`` events, accumulation,
  usage and ``Done`` -- with the stdlib ``json`` and, when installed, orjson (compared with
  a floor that uses orjson too);
* openai SDK path: the same h11 framing, then what ``openai.Stream`` does per event: its
  ``SSEDecoder.iter_bytes``, ``sse.json()``, the error check and
  ``construct_type(ChatCompletionChunk)`` (its non-strict default), then reading
  ``chunk.choices[0].delta.content``.

Also the non-streaming decode of the same answer (one ``chat.completion`` body):
``Call(stream=False)`` versus h11 + ``json.loads`` of the body. Times are best of
``--runs`` with ``time.perf_counter``; ratios are against the floor with the same JSON
library. Targets (issue 3): stream within 1.25x of the floor and at least 15x cheaper per
delta than the SDK path; non-streaming within 1.1x.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from typing import Any, Final

import h11

from libchatty import jsonload
from libchatty.call import Call
from libchatty.dialects import openai_chat
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done
from libchatty.replay import split_tokens
from libchatty.request import ChatRequest, Message

STREAM_TARGET: Final = 1.25
BODY_TARGET: Final = 1.10
SDK_TARGET: Final = 15.0
LIVE_TARGET: Final = 1.5  # issue 14: Call against the floor without HTTP
READ_SIZE: Final = 16 * 1024

HEAD: Final = (
    b"HTTP/1.1 200 OK\r\n"
    b"Date: Thu, 26 Sep 2024 10:22:48 GMT\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\n"
    b"openai-organization: user-abc123\r\n"
    b"openai-processing-ms: 143\r\n"
    b"openai-version: 2020-10-01\r\n"
    b"x-ratelimit-limit-requests: 5000\r\n"
    b"x-ratelimit-remaining-requests: 4999\r\n"
    b"x-request-id: req_3ad9e7f1b0c24b8e9f0a7c6d5e4f3a2b\r\n"
    b"Server: cloudflare\r\n"
    b"\r\n"
)
PROSE: Final = (
    "The capital of France is Paris. It’s known for the Eiffel Tower, the Louvre, and its "
    "café culture; a city of 2.1 million people — 12 million in the metro area — on the "
    'Seine. "Bonjour" means hello. Naïve résumé: ünïcödé 🚀 works too.\n\n'
)
ENDPOINT: Final = Endpoint("https://api.openai.com/v1", "sk-bench")
MESSAGES: Final = [Message("user", "Tell me about Paris.")]


# --- the input --------------------------------------------------------------------------
def content_pieces(count: int) -> list[str]:
    tokens = split_tokens(PROSE)
    return [tokens[i % len(tokens)] for i in range(count)]


def _event(choices: list[Any], **extra: Any) -> bytes:
    chunk = {
        "id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL",
        "object": "chat.completion.chunk",
        "created": 1727346168,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_5050236cbd",
        "choices": choices,
        **extra,
    }
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def _choice(delta: dict[str, Any], finish: str | None = None) -> list[Any]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]


def stream_response(pieces: list[str]) -> tuple[bytes, list[bytes], list[bytes]]:
    """The whole response, its HTTP chunks (head first) for per-chunk feeding, and its
    SSE events alone (the body without HTTP, for the floor that does no HTTP)."""
    events = [_event(_choice({"role": "assistant", "content": "", "refusal": None}))]
    events += [_event(_choice({"content": piece})) for piece in pieces]
    events.append(_event(_choice({}, "stop")))
    usage = {
        "prompt_tokens": 14,
        "completion_tokens": len(pieces),
        "total_tokens": 14 + len(pieces),
    }
    events.append(_event([], usage=usage))
    events.append(b"data: [DONE]\n\n")
    frames = [HEAD] + [b"%x\r\n%s\r\n" % (len(e), e) for e in events] + [b"0\r\n\r\n"]
    return b"".join(frames), frames, events


def body_response(text: str) -> bytes:
    body = json.dumps(
        {
            "id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL",
            "object": "chat.completion",
            "created": 1727346168,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 14, "completion_tokens": 2000, "total_tokens": 2014},
            "system_fingerprint": "fp_5050236cbd",
        },
        indent=2,
        ensure_ascii=False,
    ).encode()
    head = HEAD.replace(b"text/event-stream; charset=utf-8", b"application/json").replace(
        b"Transfer-Encoding: chunked", b"Content-Length: %d" % len(body)
    )
    return head + body


def reads(data: bytes, size: int = READ_SIZE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- the contenders ---------------------------------------------------------------------
# Each contender is (prepare, run): ``prepare()`` builds and sends the request (untimed),
# ``run(state, reads)`` decodes the response (timed). The request side is timed apart.
def request_head(body: bytes) -> list[tuple[str, str]]:
    """The headers Call sends, so that the floor sends the same request."""
    return [
        ("Host", "api.openai.com"),
        ("User-Agent", "libchatty/0.1"),
        ("Accept", "text/event-stream"),
        ("Accept-Encoding", "identity"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Authorization", "Bearer sk-bench"),
    ]


def floor_request(stream: bool = True) -> tuple[h11.Connection, bytes]:
    """What a minimal client sends: h11 + json.dumps of the same body."""
    payload: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": MESSAGES[0].content}],
    }
    if stream:
        payload.update(stream=True, stream_options={"include_usage": True})
    body = json.dumps(payload, separators=(",", ":")).encode()
    conn = h11.Connection(h11.CLIENT)
    data = conn.send(
        h11.Request(method="POST", target="/v1/chat/completions", headers=request_head(body))
    )
    data = (data or b"") + (conn.send(h11.Data(data=body)) or b"")
    data += conn.send(h11.EndOfMessage()) or b""
    return conn, data


def floor_events(pieces: list[bytes], loads: Callable[[bytes], Any]) -> str:
    """split + loads + lookups over the body alone, no HTTP: the floor of issue 14."""
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


def libchatty_request(stream: bool = True) -> tuple[Call, bytes]:
    call = Call(ENDPOINT, ChatRequest(model="gpt-4o", messages=MESSAGES, stream=stream))
    return call, call.start()


def load_baseline(path: str) -> Any:
    """The ``Call`` class of another ``call.py``, loaded inside the libchatty package so
    that its relative imports resolve to today's modules."""
    spec = importlib.util.spec_from_file_location("libchatty._baseline_call", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Call


def baseline_request(cls: Any) -> Any:
    call = cls(ENDPOINT, ChatRequest(model="gpt-4o", messages=MESSAGES, stream=True))
    call.start()
    return call


def floor_stream(conn: h11.Connection, pieces: list[bytes], loads: Callable[[bytes], Any]) -> str:
    """h11 + bytes.split + loads + lookups: the least a correct client does."""
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
                        choices = loads(part[6:])["choices"]
                        if choices:
                            text = choices[0]["delta"].get("content")
                            if text:
                                out.append(text)
            elif event is h11.NEED_DATA or type(event) is h11.EndOfMessage:
                break
    return "".join(out)


def libchatty_stream(call: Call, pieces: list[bytes]) -> str:
    done = None
    for piece in pieces:
        for event in call.receive_data(piece):
            if type(event) is Done:
                done = event
    assert done is not None
    return done.text


def sdk_stream_factory() -> Callable[[h11.Connection, list[bytes]], str] | None:
    """The openai SDK's per-event work, or None when openai is not installed."""
    try:
        # Imported by name: openai is a bench-only peer, absent where mypy runs.
        construct_type = importlib.import_module("openai._models").construct_type
        SSEDecoder = importlib.import_module("openai._streaming").SSEDecoder
        ChatCompletionChunk = importlib.import_module("openai.types.chat").ChatCompletionChunk
    except (ImportError, AttributeError):
        return None

    def sdk_stream(conn: h11.Connection, pieces: list[bytes]) -> str:
        def body() -> Any:
            for piece in pieces:
                conn.receive_data(piece)
                while True:
                    event = conn.next_event()
                    if type(event) is h11.Data:
                        yield bytes(event.data)
                    elif event is h11.NEED_DATA or type(event) is h11.EndOfMessage:
                        break

        out: list[str] = []
        for sse in SSEDecoder().iter_bytes(body()):
            if sse.data.startswith("[DONE]"):
                break
            data = sse.json()
            if isinstance(data, dict) and data.get("error"):
                raise RuntimeError("error event")
            chunk: Any = construct_type(type_=ChatCompletionChunk, value=data)
            if chunk.choices:
                text = chunk.choices[0].delta.content
                if text:
                    out.append(text)
        return "".join(out)

    return sdk_stream


def floor_body(conn: h11.Connection, pieces: list[bytes], loads: Callable[[bytes], Any]) -> str:
    parts: list[bytes] = []
    for piece in pieces:
        conn.receive_data(piece)
        while True:
            event = conn.next_event()
            if type(event) is h11.Data:
                parts.append(event.data)
            elif event is h11.NEED_DATA or type(event) is h11.EndOfMessage:
                break
    text: str = loads(b"".join(parts))["choices"][0]["message"]["content"]
    return text


def libchatty_body(call: Call, pieces: list[bytes]) -> str:
    events = []
    for piece in pieces:
        events += call.receive_data(piece)
    done = events[-1]
    assert type(done) is Done and type(events[0]) is Delta
    return done.text


# --- timing --------------------------------------------------------------------------------
def best(prepare: Callable[[], Any], run: Callable[[Any], str], runs: int, want: str) -> float:
    """Best wall time of ``runs`` calls of ``run(prepare())``, timing only ``run`` (GC off
    while timing, as timeit does)."""
    assert run(prepare()) == want, "a contender decoded something else"
    times = []
    for _ in range(runs):
        state = prepare()
        gc.disable()
        start = time.perf_counter()
        run(state)
        times.append(time.perf_counter() - start)
        gc.enable()
    return min(times)


def best_plain(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.disable()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        gc.enable()
    return min(times)


def use_json(backend: Callable[[bytes | str], Any]) -> None:
    """Point the dialect (and the call's body path) at one JSON backend."""
    openai_chat.loads = backend  # type: ignore[attr-defined]
    import libchatty.callbody as body_module

    body_module.loads = backend  # type: ignore[attr-defined]


def _row(
    rows: dict[str, dict[str, float]], label: str, seconds: float, floor: float, per: int
) -> None:
    if per > 1:
        print(f"{label:56} {seconds / per * 1e9:9.0f} {seconds / floor:8.2f}")
        rows[label] = {"ns_per_delta": seconds / per * 1e9, "ratio": seconds / floor}
    else:
        print(f"{label:56} {seconds * 1e6:7.1f}us {seconds / floor:8.2f}")
        rows[label] = {"us": seconds * 1e6, "ratio": seconds / floor}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per row (best of)")
    parser.add_argument("--chunks", type=int, default=2000, help="content deltas in the stream")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--baseline",
        metavar="CALL_PY",
        help="also time the Call of another call.py (e.g. a copy of the last commit's), "
        "side by side in the same run",
    )
    args = parser.parse_args()
    baseline = load_baseline(args.baseline) if args.baseline else None

    n = args.chunks
    pieces = content_pieces(n)
    want = "".join(pieces)
    raw, frames, events = stream_response(pieces)
    feeds = {"16 KiB reads": reads(raw), "one read per HTTP chunk": frames}
    # The same body without HTTP, read the same way, for the no-HTTP floor.
    bodies = {"16 KiB reads": reads(b"".join(events)), "one read per HTTP chunk": events}
    body_pieces = reads(body_response(want))

    # (floor's loads, libchatty's loads) per JSON library. The stdlib floor is json.loads
    # itself, as the issue defines it; libchatty uses its own jsonload either way.
    orjson = jsonload._find_orjson()
    backends: dict[str, tuple[Callable[[bytes], Any], Callable[[bytes | str], Any]]] = {
        "json": (json.loads, jsonload.make_loads(None)),
    }
    if orjson is not None:
        backends["orjson"] = (orjson.loads, jsonload.make_loads(orjson))
    sdk = sdk_stream_factory()

    rows: dict[str, dict[str, float]] = {}
    verdict: dict[str, float] = {}
    print(
        f"a {n}-delta OpenAI stream ({len(raw)} bytes) through Call; best of {args.runs}; "
        f"python {sys.version.split()[0]}"
    )
    print(
        "response side only (the request is built and sent before timing); ratio vs the "
        "floor with the same JSON library"
    )
    print(f"{'':56} {'ns/delta':>9} {'x floor':>8}")
    for feed_name, feed in feeds.items():
        print(f"-- {feed_name} ({len(feed)} reads)")
        for name, (floor_loads, our_loads) in backends.items():
            use_json(our_loads)
            floor = best(
                lambda: floor_request()[0],
                lambda c: floor_stream(c, feed, floor_loads),  # noqa: B023
                args.runs,
                want,
            )
            ours = best(
                lambda: libchatty_request()[0],
                lambda c: libchatty_stream(c, feed),  # noqa: B023
                args.runs,
                want,
            )
            body = bodies[feed_name]
            bare = best(
                lambda: None,
                lambda _: floor_events(body, floor_loads),  # noqa: B023
                args.runs,
                want,
            )
            _row(rows, f"{feed_name}: floor, split + {name}.loads (no HTTP)", bare, floor, n)
            _row(rows, f"{feed_name}: floor, h11 + split + {name}.loads", floor, floor, n)
            _row(rows, f"{feed_name}: libchatty Call ({name})", ours, floor, n)
            if baseline is not None:
                old = best(
                    lambda: baseline_request(baseline),
                    lambda c: libchatty_stream(c, feed),  # noqa: B023
                    args.runs,
                    want,
                )
                _row(rows, f"{feed_name}: baseline Call ({name})", old, floor, n)
            verdict[f"stream, {feed_name}, {name}"] = ours / floor
            verdict[f"no-HTTP floor, {feed_name}, {name}"] = ours / bare
            if name == "json" and sdk is not None:
                theirs = best(
                    lambda: floor_request()[0],
                    lambda c: sdk(c, feed),  # noqa: B023
                    args.runs,
                    want,
                )
                _row(rows, f"{feed_name}: openai SDK path (json)", theirs, floor, n)
                verdict[f"sdk, {feed_name}"] = theirs / ours
            elif name == "json":
                print(f"{'openai SDK path':56} unavailable (pip install openai)")

    print(f"-- non-streaming: the same answer as one chat.completion body ({len(want)} chars)")
    for name, (floor_loads, our_loads) in backends.items():
        use_json(our_loads)
        floor = best(
            lambda: floor_request(stream=False)[0],
            lambda c: floor_body(c, body_pieces, floor_loads),  # noqa: B023
            args.runs,
            want,
        )
        ours = best(
            lambda: libchatty_request(stream=False)[0],
            lambda c: libchatty_body(c, body_pieces),
            args.runs,
            want,
        )
        _row(rows, f"body: floor, h11 + {name}.loads(body)", floor, floor, 1)
        _row(rows, f"body: libchatty Call stream=False ({name})", ours, floor, 1)
        verdict[f"body, {name}"] = ours / floor
    use_json(jsonload.loads)

    print("-- the request side: building and writing the request")
    floor = best_plain(lambda: floor_request(), args.runs * 10)
    ours = best_plain(lambda: libchatty_request(), args.runs * 10)
    _row(rows, "request: floor, h11 + json.dumps, same headers", floor, floor, 1)
    _row(rows, "request: libchatty Call() + start()", ours, floor, 1)

    print()
    for key, ratio in verdict.items():
        if key.startswith("sdk"):
            ok = ratio >= SDK_TARGET
            print(
                f"openai SDK path / libchatty ({key[5:]}): {ratio:.1f}x cheaper "
                f"(target >= {SDK_TARGET:.0f}x: {'met' if ok else 'MISSED'})"
            )
        else:
            if key.startswith("body"):
                target = BODY_TARGET
            elif key.startswith("no-HTTP"):
                target = LIVE_TARGET
            else:
                target = STREAM_TARGET
            ok = ratio <= target
            print(
                f"{key}: {ratio:.2f}x the floor (target <= {target}x: {'met' if ok else 'MISSED'})"
            )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {"runs": args.runs, "chunks": n, "rows": rows, "verdict": verdict}, file, indent=2
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
