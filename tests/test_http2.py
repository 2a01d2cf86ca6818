"""libchatty over HTTP/2 (issue 11): ``libchatty.bindings.httpx.AsyncClient`` over
``httpx.AsyncClient(http2=True)`` against a real HTTP/2 server started here -- hypercorn
serving h2 over TLS on loopback with a ``trustme`` certificate, and a tiny ASGI app that
streams OpenAI-style SSE. 100 concurrent streamed completions share ONE TCP connection
(the app records each request's client address and HTTP version), every text exact; one
stream cancelled mid-way leaves the others running to their exact end. Every wait is
bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("h2")
hypercorn = pytest.importorskip("hypercorn")
trustme = pytest.importorskip("trustme")

from hypercorn.asyncio import serve  # noqa: E402
from hypercorn.config import Config  # noqa: E402
from libchatty.bindings._api import Timeout  # noqa: E402
from libchatty.bindings.httpx import AsyncClient  # noqa: E402

PIECES: Final = 20
DEADLINE: Final = 60.0
TIMEOUT: Final = Timeout(connect=10.0, idle=10.0, total=50.0)


def pieces_for(n: int) -> list[str]:
    return [f"s{n}p{i} " for i in range(PIECES)]


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", "model": "h2",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class App:
    """Streams ``pieces_for(n)`` for the request whose last message is ``n``, a piece
    every few milliseconds so that all streams are open at once."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[str, int]]] = []  # (http_version, client address)
        self.finished: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen.append((scope["http_version"], tuple(scope["client"])))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        n = int(json.loads(body)["messages"][-1]["content"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": chunk({"role": "assistant"}),
                    "more_body": True})
        for piece in pieces_for(n):
            await asyncio.sleep(0.005)
            await send({"type": "http.response.body", "body": chunk({"content": piece}),
                        "more_body": True})
        await send({"type": "http.response.body", "body": chunk({}, "stop") + b"data: [DONE]\n\n",
                    "more_body": False})
        self.finished.append(n)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def h2_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, App, ssl.SSLContext]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    where = tmp_path_factory.mktemp("h2")
    cert.private_key_pem.write_to_path(str(where / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(where / "cert.pem"))
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile = str(where / "cert.pem")
    config.keyfile = str(where / "key.pem")
    config.alpn_protocols = ["h2"]
    config.h2_max_concurrent_streams = 200
    config.accesslog = None
    app = App()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    give_up = time.monotonic() + 20
    while True:  # bounded wait for the listener
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < give_up, "hypercorn did not start"
            time.sleep(0.05)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    yield f"https://127.0.0.1:{port}/v1", app, context
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


async def ask(client: AsyncClient, n: int) -> str:
    return (await client.chat([{"role": "user", "content": str(n)}], "m",
                              on_delta=lambda text, done: None)).text


def test_100_concurrent_streams_share_one_http2_connection(
    h2_server: tuple[str, App, ssl.SSLContext],
) -> None:
    base_url, app, context = h2_server
    app.seen.clear()

    async def main() -> list[str]:
        async with httpx.AsyncClient(http2=True, verify=context) as http_client:
            client = AsyncClient(http_client=http_client, base_url=base_url, api_key="k",
                                 env={}, timeout=TIMEOUT)
            return await asyncio.gather(*(ask(client, n) for n in range(100)))

    texts = asyncio.run(asyncio.wait_for(main(), DEADLINE))
    assert texts == ["".join(pieces_for(n)) for n in range(100)]
    assert len(app.seen) == 100
    assert {version for version, _ in app.seen} == {"2"}
    assert len({address for _, address in app.seen}) == 1  # one TCP connection


def test_cancelling_one_stream_leaves_the_others_running(
    h2_server: tuple[str, App, ssl.SSLContext],
) -> None:
    base_url, app, context = h2_server
    app.seen.clear()
    seen: list[str] = []

    async def main() -> tuple[list[str], int]:
        async with httpx.AsyncClient(http2=True, verify=context) as http_client:
            client = AsyncClient(http_client=http_client, base_url=base_url, api_key="k",
                                 env={}, timeout=TIMEOUT)
            victim: asyncio.Future[Any] | None = None

            def on_delta(text: str, done: bool) -> None:
                seen.append(text)
                if len(seen) == 3 and victim is not None:
                    victim.cancel()

            victim = asyncio.ensure_future(
                client.chat([{"role": "user", "content": "99"}], "m", on_delta=on_delta)
            )
            others = asyncio.gather(*(ask(client, n) for n in range(10)))
            with pytest.raises(asyncio.CancelledError):
                await victim
            texts = await others
            # The cancelled stream was released: only the shared connection is left.
            return texts, len(http_client._transport._pool.connections)

    texts, connections = asyncio.run(asyncio.wait_for(main(), DEADLINE))
    assert texts == ["".join(pieces_for(n)) for n in range(10)]
    assert seen == pieces_for(99)[:3]
    assert connections == 1
    assert len({address for _, address in app.seen}) == 1
