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
Run: ``python bench/bench_adapters.py [--calls 20] [--words 200] [--token-delay 0.001]``.
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
    args = parser.parse_args()
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
    width = max(len(name) for name in rows)
    for name, value in rows.items():
        shown = "unavailable" if value is None else f"{value:8.1f} µs CPU / delta"
        print(f"{name:<{width}}  {shown}")
    return 0


def bench(base: str, text: str, calls: int) -> dict[str, float | None]:
    import httpx
    from libchatty.bindings.blocking import Client as Blocking
    from libchatty.bindings.httpx import Client as HttpxClient

    from libchatty import Call, ChatRequest, Endpoint

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

            client = AsyncClient(session=session, base_url=base, api_key="k", env={})

            async def adapter() -> int:
                pieces: list[str] = []
                done = await client.chat(MESSAGES, "m", on_delta=lambda t, d: pieces.append(t))
                assert done.text == text
                return len(pieces) - 1

            out: dict[str, float | None] = {}
            for name, fn in (("aiohttp alone (per read)", alone),
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


if __name__ == "__main__":
    raise SystemExit(main())
