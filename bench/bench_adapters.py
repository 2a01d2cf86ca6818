"""CPU per delta of the httpx and aiohttp adapters against what httpx and aiohttp cost by
themselves (issue 11), in the live shape: the replay server (a separate process,
``python -m libchatty.serve``) paces its events (``--token-delay``) so that each read
brings one event. Each client runs ``--calls`` streamed completions of ``--words``
words one after another; the CPU is this process's (``time.process_time``: the server's
is not counted), net of a warm-up call, divided by the deltas received.

Rows: httpx alone (``iter_bytes``, no parsing), libchatty over httpx (sync), the blocking
socket binding; aiohttp alone (``content.iter_any``), libchatty over aiohttp; httpx +
httpx-sse and AsyncOpenAI when installed (bench env). The target: each adapter within
10% of its stack alone plus the floor of parsing (the blocking binding's own CPU).

Two rows feed the framed door by hand (``call.receive_body`` per read, no libchatty
loop): the stack plus libchatty's parsing. An adapter's own cost is its row minus that
one; the parsing is the core's, the same in every binding.

HTTP/2 vs HTTP/1.1 (``--streams 100``): ``libchatty.bindings.httpx.AsyncClient`` over
``httpx.AsyncClient(http2=True/False)``, 100 concurrent streamed completions against
hypercorn (a separate process, TLS with a ``trustme`` certificate, on loopback; skipped
when hypercorn or trustme is missing): this process's CPU per delta and the wall time.
Run: ``python bench/bench_adapters.py [--calls 20] [--words 200] [--token-delay 0.001]
[--streams 100] [--pieces 50]``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

MESSAGES = [{"role": "user", "content": "go"}]


def measure(run: Callable[[], int], calls: int) -> float:
    run()  # warm-up: imports, connection
    start = time.process_time()
    deltas = sum(run() for _ in range(calls))
    return (time.process_time() - start) / deltas * 1e6


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
    server = subprocess.Popen(
        [sys.executable, "-m", "libchatty.serve", "--print-url", "--text", text,
         "--token-delay", str(args.token_delay)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        rows = bench(base, text, args.calls)
    finally:
        server.terminate()
        server.wait(10)
    rows.update(bench_http2(args.streams, args.pieces))
    width = max(len(name) for name in rows)
    for name, value in rows.items():
        unit = "ms wall" if name.endswith("wall ms") else "µs CPU / delta"
        shown = "unavailable" if value is None else f"{value:8.1f} {unit}"
        print(f"{name:<{width}}  {shown}")
    return 0


def bench(base: str, text: str, calls: int) -> dict[str, float | None]:
    import httpx
    from libchatty.bindings.blocking import Client as Blocking
    from libchatty.bindings.httpx import Client as HttpxClient

    from libchatty import Call, ChatRequest, Delta, Endpoint

    endpoint = Endpoint(base, "k", "openai-chat")
    request = ChatRequest(model="m", messages=MESSAGES)
    http_request = Call(endpoint, request).http_request()
    rows: dict[str, float | None] = {}
    with httpx.Client() as http_client:

        def httpx_alone() -> int:
            n = 0
            with http_client.stream(http_request.method, http_request.url,
                                    headers=http_request.headers,
                                    content=http_request.body) as resp:
                for _ in resp.iter_bytes():
                    n += 1
            return n

        reads = httpx_alone()
        per_read = measure(httpx_alone, calls)
        rows["httpx alone (per read)"] = per_read

        def httpx_framed_by_hand() -> int:
            call = Call(endpoint, request)
            req = call.http_request()
            pieces: list[str] = []
            with http_client.stream(req.method, req.url, headers=req.headers,
                                    content=req.body) as resp:
                call.receive_head(resp.status_code, resp.headers)
                for piece in resp.iter_bytes():
                    for event in call.receive_body(piece):
                        if type(event) is Delta:
                            pieces.append(event.text)
                call.receive_end()
            return len(pieces)

        rows["httpx + framed door by hand"] = measure(httpx_framed_by_hand, calls)

        with HttpxClient(http_client=http_client, base_url=base, api_key="k", env={}) as client:

            def adapter() -> int:
                pieces: list[str] = []
                done = client.chat(MESSAGES, "m", on_delta=lambda t, d: pieces.append(t))
                assert done.text == text
                return len(pieces) - 1

            rows["libchatty over httpx"] = measure(adapter, calls)
    with Blocking(base_url=base, api_key="k", env={}) as blocking:

        def floor() -> int:
            pieces: list[str] = []
            blocking.chat(MESSAGES, "m", on_delta=lambda t, d: pieces.append(t))
            return len(pieces) - 1

        rows["libchatty blocking (sockets)"] = measure(floor, calls)
    rows.update(bench_aiohttp(base, text, calls, http_request))
    rows["httpx + httpx-sse"] = bench_httpx_sse(http_request, calls)
    print(f"(reads per completion over httpx: {reads})", file=sys.stderr)
    return rows


def bench_aiohttp(base: str, text: str, calls: int, http_request: Any) -> dict[str, float | None]:
    try:
        import aiohttp
    except ImportError:
        return {"aiohttp alone (per read)": None, "libchatty over aiohttp": None}
    from libchatty.bindings.aiohttp import AsyncClient

    from libchatty import Call, ChatRequest, Delta, Endpoint

    endpoint = Endpoint(base, "k", "openai-chat")
    request = ChatRequest(model="m", messages=MESSAGES)

    async def run() -> dict[str, float | None]:
        async with aiohttp.ClientSession() as session:

            async def alone() -> int:
                n = 0
                async with session.request(http_request.method, http_request.url,
                                           headers=http_request.headers,
                                           data=http_request.body) as resp:
                    async for _ in resp.content.iter_any():
                        n += 1
                return n

            async def by_hand() -> int:
                call = Call(endpoint, request)
                req = call.http_request()
                pieces: list[str] = []
                async with session.request(req.method, req.url, headers=req.headers,
                                           data=req.body) as resp:
                    call.receive_head(resp.status, resp.headers)
                    async for piece in resp.content.iter_any():
                        for event in call.receive_body(piece):
                            if type(event) is Delta:
                                pieces.append(event.text)
                    call.receive_end()
                return len(pieces)

            client = AsyncClient(session=session, base_url=base, api_key="k", env={})

            async def adapter() -> int:
                pieces: list[str] = []
                done = await client.chat(MESSAGES, "m", on_delta=lambda t, d: pieces.append(t))
                assert done.text == text
                return len(pieces) - 1

            out: dict[str, float | None] = {}
            for name, fn in (("aiohttp alone (per read)", alone),
                             ("aiohttp + framed door by hand", by_hand),
                             ("libchatty over aiohttp", adapter)):
                await fn()
                start = time.process_time()
                total = 0
                for _ in range(calls):
                    total += await fn()
                out[name] = (time.process_time() - start) / total * 1e6
            return out

    return asyncio.run(run())


def bench_httpx_sse(http_request: Any, calls: int) -> float | None:
    try:
        import httpx
        from httpx_sse import connect_sse
    except ImportError:
        return None
    import json

    with httpx.Client() as http_client:

        def run() -> int:
            n = 0
            with connect_sse(http_client, http_request.method, http_request.url,
                             headers=http_request.headers, content=http_request.body) as source:
                for event in source.iter_sse():
                    if event.data != "[DONE]":
                        json.loads(event.data)
                        n += 1
            return n

        return measure(run, calls)


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
