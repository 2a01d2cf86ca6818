"""CPU per delta of the httpx and aiohttp adapters against what httpx and aiohttp cost by
themselves (issue 11), in the live shape: the replay server (a separate process,
``python -m libchatty.serve``) paces its events (``--token-delay``) so that each read
brings one event. Every row streams the same completion of ``--words`` words and does
the same work: it extracts every delta's text and checks the joined answer (and the
delta count) against the text served. The CPU is this process's
(``time.process_time``: the server's is not counted), per call divided by its deltas;
the rows take turns, one call each per round, for ``--calls`` rounds after a warm-up
call each (imports, connections), and the best and the median round are shown.

Rows, per stack (httpx ``Client``; httpx ``AsyncClient`` and aiohttp on asyncio):

* *alone*: the least a user of that stack must do to get the deltas -- iterate the
  body (``iter_bytes``/``aiter_bytes``/``content.iter_any``), split it into SSE events
  at blank lines carrying the partial tail, ``loads`` each payload (orjson's when
  installed, as libchatty once past its first 512 KB of JSON -- the bench goes past
  them first --, else ``json.loads``), take
  ``choices[0].delta.content`` (:class:`FloorSSE`). The floor over that stack.
* *framed door by hand*: the same iteration fed to ``call.receive_head/body/end`` (no
  libchatty loop): the stack plus libchatty's parsing.
* *libchatty over ...*: ``client.chat(..., on_delta=...)`` of
  ``libchatty.bindings.httpx``/``.aiohttp`` over the same client/session.

and for reference libchatty's own socket bindings (blocking, asyncio) and httpx +
httpx-sse (when installed). The target: each adapter within 10% of its stack alone; an
adapter's own cost is its row minus its by-hand row. Timeouts are each stack's default
(httpx: 5 s per read, applied by httpx on every read; aiohttp: 5 min in all, one timer
per request) and the adapters' (an idle timeout of 5 min per read: httpx applies it on
every read; over aiohttp it is one lazy timer per response).

HTTP/2 vs HTTP/1.1 (``--streams 100``; 0 skips it): ``libchatty.bindings.httpx.AsyncClient`` over
``httpx.AsyncClient(http2=True/False)``, 100 concurrent streamed completions against
hypercorn (a separate process, TLS with a ``trustme`` certificate, on loopback; skipped
when hypercorn or trustme is missing): this process's CPU per delta and the wall time.
Run: ``python bench/bench_adapters.py [--calls 20] [--words 200] [--token-delay 0.001]
[--streams 100] [--pieces 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from typing import Any

MESSAGES = [{"role": "user", "content": "go"}]

try:  # the JSON parser libchatty settles on (libchatty.jsonload): the floor uses it too
    from orjson import loads
except ImportError:
    from json import loads  # type: ignore[assignment]

Row = Callable[[], "list[str] | Awaitable[list[str]]"]


class FloorSSE:
    """The least SSE handling that gets an OpenAI stream's deltas: events split at blank
    lines (the partial tail carried to the next piece), ``loads`` of each ``data:`` payload
    (orjson's when installed, as in libchatty), ``choices[0].delta.content``. Not
    spec-complete (no CR line ends, no multi-line data): the floor, not a parser."""

    __slots__ = ("tail", "texts")

    def __init__(self) -> None:
        self.tail = b""
        self.texts: list[str] = []

    def feed(self, piece: bytes) -> None:
        events = (self.tail + piece).split(b"\n\n")
        self.tail = events.pop()
        for event in events:
            if event.startswith(b"data: ") and event != b"data: [DONE]":
                for choice in loads(event[6:])["choices"]:
                    text = choice["delta"].get("content")
                    if text:
                        self.texts.append(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--token-delay", type=float, default=0.001)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--pieces", type=int, default=50)
    parser.add_argument("--serve-h2", nargs=2, metavar=("PORT", "CERTDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_h2:
        return serve_h2(int(args.serve_h2[0]), args.serve_h2[1], args.pieces)
    text = " ".join(f"w{i}" for i in range(args.words))
    from libchatty import jsonload

    # The steady state: libchatty parses with orjson (when installed) once its first
    # ORJSON_AFTER bytes of JSON went through the standard library; go past them now.
    jsonload.loads(b" " * jsonload.ORJSON_AFTER + b"0")
    server = subprocess.Popen(
        [sys.executable, "-m", "libchatty.serve", "--print-url", "--text", text,
         "--token-delay", str(args.token_delay)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        table = per_delta(base, text, args.calls)
    finally:
        server.terminate()
        server.wait(10)
    print(f"(JSON parsed with {loads.__module__.partition('.')[0]}; libchatty: "
          f"{jsonload.backend})")
    width = max(len(name) for name in table)
    print(f"{'µs CPU / delta':<{width}}  {'best':>6}  {'median':>6}  best x alone")
    alone: float | None = None  # the floor of the rows below it: the last "alone" row
    for name, values in table.items():
        if values is None:
            print(f"{name:<{width}}  unavailable")
            continue
        best, median = min(values), statistics.median(values)
        if name.endswith(" alone"):
            alone = best
        ratio = "" if alone is None else f"{best / alone:5.2f}x"
        print(f"{name:<{width}}  {best:6.1f}  {median:6.1f}  {ratio}")
    if args.streams:
        for name, value in bench_http2(args.streams, args.pieces).items():
            unit = "ms wall" if name.endswith("wall ms") else "µs CPU / delta"
            shown = "unavailable" if value is None else f"{value:8.1f} {unit}"
            print(f"{name}  {shown}")
    return 0


def per_delta(base: str, text: str, calls: int) -> dict[str, list[float] | None]:
    """Each row's CPU per delta, one value per round; the rows take turns in each round."""
    import httpx
    from libchatty.bindings import httpx as over_httpx
    from libchatty.bindings.asyncio import AsyncClient as AsyncioClient
    from libchatty.bindings.blocking import Client as Blocking

    from libchatty import Call, ChatRequest, Delta, Endpoint, Message

    endpoint = Endpoint(base, "k", "openai-chat")
    request = ChatRequest(model="m", messages=[Message("user", "go")])
    loop = asyncio.new_event_loop()
    rows: dict[str, Row | None] = {}

    def framed(pieces: Iterator[bytes], call: Call, status: int, headers: Any) -> list[str]:
        texts: list[str] = []
        call.receive_head(status, headers)
        for piece in pieces:
            for event in call.receive_body(piece):
                if type(event) is Delta:
                    texts.append(event.text)
        call.receive_end()
        return texts

    async def aframed(pieces: AsyncIterator[bytes], call: Call, status: int,
                      headers: Any) -> list[str]:
        texts: list[str] = []
        call.receive_head(status, headers)
        async for piece in pieces:
            for event in call.receive_body(piece):
                if type(event) is Delta:
                    texts.append(event.text)
        call.receive_end()
        return texts

    def on_delta(texts: list[str]) -> Callable[[str, bool], None]:
        return lambda piece, done: None if done else texts.append(piece)

    with ExitStack() as stack:
        stack.callback(loop.close)  # last
        http_client = stack.enter_context(httpx.Client())
        async_client = httpx.AsyncClient()
        stack.callback(lambda: loop.run_until_complete(async_client.aclose()))

        def httpx_alone() -> list[str]:
            req = Call(endpoint, request).http_request()
            floor = FloorSSE()
            with http_client.stream(req.method, req.url, headers=req.headers,
                                    content=req.body) as resp:
                for piece in resp.iter_bytes():
                    floor.feed(piece)
            return floor.texts

        def httpx_by_hand() -> list[str]:
            call = Call(endpoint, request)
            req = call.http_request()
            with http_client.stream(req.method, req.url, headers=req.headers,
                                    content=req.body) as resp:
                return framed(resp.iter_bytes(), call, resp.status_code, resp.headers)

        over = stack.enter_context(
            over_httpx.Client(http_client=http_client, base_url=base, api_key="k", env={}))

        def httpx_adapter() -> list[str]:
            texts: list[str] = []
            over.chat(MESSAGES, "m", on_delta=on_delta(texts))
            return texts

        async def httpx_async_alone() -> list[str]:
            req = Call(endpoint, request).http_request()
            floor = FloorSSE()
            async with async_client.stream(req.method, req.url, headers=req.headers,
                                           content=req.body) as resp:
                async for piece in resp.aiter_bytes():
                    floor.feed(piece)
            return floor.texts

        async def httpx_async_by_hand() -> list[str]:
            call = Call(endpoint, request)
            req = call.http_request()
            async with async_client.stream(req.method, req.url, headers=req.headers,
                                           content=req.body) as resp:
                return await aframed(resp.aiter_bytes(), call, resp.status_code, resp.headers)

        async_over = over_httpx.AsyncClient(http_client=async_client, base_url=base,
                                            api_key="k", env={})

        async def httpx_async_adapter() -> list[str]:
            texts: list[str] = []
            await async_over.chat(MESSAGES, "m", on_delta=on_delta(texts))
            return texts

        blocking = stack.enter_context(Blocking(base_url=base, api_key="k", env={}))

        def blocking_row() -> list[str]:
            texts: list[str] = []
            blocking.chat(MESSAGES, "m", on_delta=on_delta(texts))
            return texts

        asyncio_client = AsyncioClient(base_url=base, api_key="k", env={})
        stack.callback(lambda: loop.run_until_complete(asyncio_client.aclose()))

        async def asyncio_row() -> list[str]:
            texts: list[str] = []
            await asyncio_client.chat(MESSAGES, "m", on_delta=on_delta(texts))
            return texts

        rows["libchatty blocking (sockets)"] = blocking_row
        rows["libchatty asyncio (sockets)"] = asyncio_row
        rows["httpx alone"] = httpx_alone
        rows["httpx + framed door by hand"] = httpx_by_hand
        rows["libchatty over httpx"] = httpx_adapter
        rows["httpx + httpx-sse"] = httpx_sse_row(http_client, endpoint, request)
        rows["httpx async alone"] = httpx_async_alone
        rows["httpx async + framed door by hand"] = httpx_async_by_hand
        rows["libchatty over httpx async"] = httpx_async_adapter
        rows.update(aiohttp_rows(stack, loop, base, endpoint, request, aframed, on_delta))

        expected = [f"w{i}" if i == 0 else f" w{i}" for i in range(len(text.split()))]
        return run_rounds(rows, loop, expected, calls)


def run_rounds(rows: dict[str, Row | None], loop: asyncio.AbstractEventLoop,
               expected: list[str], rounds: int) -> dict[str, list[float] | None]:
    """One warm-up call per row, then ``rounds`` rounds of one call per row, each
    checked (every delta's text, in order) and timed in this process's CPU."""

    def one(row: Row) -> float:
        start = time.process_time()
        texts = row()
        if not isinstance(texts, list):
            texts = loop.run_until_complete(texts)
        cpu = time.process_time() - start
        assert texts == expected, (len(texts), texts[:3])
        return cpu / len(texts) * 1e6

    table: dict[str, list[float] | None] = {}
    for name, row in rows.items():
        table[name] = None if row is None else []
        if row is not None:
            one(row)
    for _ in range(rounds):
        for name, row in rows.items():
            values = table[name]
            if row is not None and values is not None:
                values.append(one(row))
    return table


def httpx_sse_row(http_client: Any, endpoint: Any, request: Any) -> Row | None:
    try:
        from httpx_sse import connect_sse
    except ImportError:
        return None
    from libchatty import Call

    def run() -> list[str]:
        req = Call(endpoint, request).http_request()
        texts: list[str] = []
        with connect_sse(http_client, req.method, req.url, headers=dict(req.headers),
                         content=req.body) as source:
            for event in source.iter_sse():
                if event.data != "[DONE]":
                    for choice in loads(event.data)["choices"]:
                        piece = choice["delta"].get("content")
                        if piece:
                            texts.append(piece)
        return texts

    return run


def aiohttp_rows(stack: ExitStack, loop: asyncio.AbstractEventLoop, base: str, endpoint: Any,
                 request: Any, aframed: Any, on_delta: Any) -> dict[str, Row | None]:
    names = ("aiohttp alone", "aiohttp + framed door by hand", "libchatty over aiohttp")
    try:
        import aiohttp
    except ImportError:
        return dict.fromkeys(names)
    from libchatty.bindings.aiohttp import AsyncClient

    from libchatty import Call

    session = loop.run_until_complete(_session(aiohttp))
    stack.callback(lambda: loop.run_until_complete(session.close()))
    client = AsyncClient(session=session, base_url=base, api_key="k", env={})

    async def alone() -> list[str]:
        req = Call(endpoint, request).http_request()
        floor = FloorSSE()
        async with session.request(req.method, req.url, headers=req.headers,
                                   data=req.body) as resp:
            async for piece in resp.content.iter_any():
                floor.feed(piece)
        return floor.texts

    async def by_hand() -> list[str]:
        call = Call(endpoint, request)
        req = call.http_request()
        async with session.request(req.method, req.url, headers=req.headers,
                                   data=req.body) as resp:
            return await aframed(resp.content.iter_any(), call, resp.status, resp.headers)  # type: ignore[no-any-return]

    async def adapter() -> list[str]:
        texts: list[str] = []
        await client.chat(MESSAGES, "m", on_delta=on_delta(texts))
        return texts

    return dict(zip(names, (alone, by_hand, adapter), strict=True))


async def _session(aiohttp: Any) -> Any:
    return aiohttp.ClientSession()  # made inside the loop that uses it


# --- HTTP/2 vs HTTP/1.1 at many concurrent streams ------------------------------------------


def serve_h2(port: int, certdir: str, pieces: int) -> int:
    """The server process: hypercorn, TLS, h2 and http/1.1, an app that streams
    ``pieces`` OpenAI-style chunks a few milliseconds apart (all streams open at once)."""
    import json
    import signal

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for i in range(pieces):
            await asyncio.sleep(0.005)
            await send({"type": "http.response.body", "body": chunk({"content": f"p{i} "}),
                        "more_body": True})
        await send({"type": "http.response.body",
                    "body": chunk({}, "stop") + b"data: [DONE]\n\n", "more_body": False})

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile = f"{certdir}/cert.pem"
    config.keyfile = f"{certdir}/key.pem"
    config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = 1000
    config.accesslog = None
    stop = asyncio.Event()

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(main())
    return 0


def bench_http2(streams: int, pieces: int) -> dict[str, float | None]:
    """CPU per delta and wall time of ``streams`` concurrent completions over HTTP/2 (one
    connection) and over HTTP/1.1 (a connection each)."""
    names = [f"{version}, {streams} streams: {what}" for version in ("HTTP/2", "HTTP/1.1")
             for what in ("CPU / delta", "wall ms")]
    try:
        import hypercorn  # noqa: F401
        import trustme
    except ImportError:
        return dict.fromkeys(names)
    import socket
    import ssl
    import tempfile

    import httpx
    from libchatty.bindings.httpx import AsyncClient

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with tempfile.TemporaryDirectory() as certdir, socket.socket() as probe:
        cert.private_key_pem.write_to_path(f"{certdir}/key.pem")
        cert.cert_chain_pems[0].write_to_path(f"{certdir}/cert.pem")
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = subprocess.Popen([sys.executable, __file__, "--serve-h2", str(port), certdir,
                                   "--pieces", str(pieces)])
        try:
            for _ in range(200):  # bounded wait for the listener (20 s)
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            base = f"https://127.0.0.1:{port}/v1"
            rows: dict[str, float | None] = {}
            for http2 in (True, False):
                cpu, wall = asyncio.run(_concurrent(AsyncClient, httpx, base, context,
                                                    http2, streams, pieces))
                rows[names[0 if http2 else 2]] = cpu
                rows[names[1 if http2 else 3]] = wall
            return rows
        finally:
            server.terminate()
            server.wait(10)


async def _concurrent(client_type: Any, httpx: Any, base: str, context: Any, http2: bool,
                      streams: int, pieces: int) -> tuple[float, float]:
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(http2=http2, verify=context, limits=limits) as http_client:
        client = client_type(http_client=http_client, base_url=base, api_key="k", env={})
        expected = "".join(f"p{i} " for i in range(pieces))

        async def one() -> int:
            count = 0

            def on_delta(text: str, done: bool) -> None:
                nonlocal count
                count += not done

            done = await client.chat(MESSAGES, "m", on_delta=on_delta)
            assert done.text == expected
            return count

        await asyncio.gather(*(one() for _ in range(streams)))  # warm-up: connections
        best_cpu = best_wall = float("inf")
        for _ in range(3):
            cpu, wall = time.process_time(), time.perf_counter()
            deltas = sum(await asyncio.gather(*(one() for _ in range(streams))))
            best_cpu = min(best_cpu, (time.process_time() - cpu) / deltas * 1e6)
            best_wall = min(best_wall, (time.perf_counter() - wall) * 1e3)
        return best_cpu, best_wall


if __name__ == "__main__":
    raise SystemExit(main())
