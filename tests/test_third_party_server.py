"""Every binding against an SSE server libchatty did not write: a Starlette app on
uvicorn whose stream is produced by sse-starlette (CRLF line endings, ``: ping``
comments), shaped like OpenAI chat completions. The server runs on a free loopback port
in a background thread; every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio

sse_starlette = pytest.importorskip("sse_starlette")
uvicorn = pytest.importorskip("uvicorn")

from libchatty.bindings._api import Timeout  # noqa: E402
from libchatty.bindings.asyncio import AsyncClient as AsyncioClient  # noqa: E402
from libchatty.bindings.blocking import Client  # noqa: E402
from libchatty.bindings.threads import ThreadedClient  # noqa: E402
from libchatty.bindings.trio import AsyncClient as TrioClient  # noqa: E402
from sse_starlette import EventSourceResponse  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from libchatty.events import Delta, Done  # noqa: E402
from libchatty.exceptions import ChatError  # noqa: E402

PIECES = ["Hello", " from", " a", " server", " libchatty", " did", " not", " write", " — ✓."]
TEXT = "".join(PIECES)


def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-3p",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "third-party",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


async def completions(request: Request) -> Response:
    body = await request.json()
    if request.headers.get("authorization") != "Bearer third-party-key":
        return JSONResponse({"error": {"message": "bad key", "type": "auth"}}, status_code=401)
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": "chatcmpl-3p",
                "object": "chat.completion",
                "model": "third-party",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": TEXT},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
            }
        )
    pause = float(request.headers.get("x-pause", "0"))

    async def events() -> AsyncIterator[dict[str, str]]:
        yield {"data": chunk({"role": "assistant", "content": ""})}
        for i, piece in enumerate(PIECES):
            if pause and i == 4:
                await asyncio.sleep(pause)  # quiet but for sse-starlette's pings
            yield {"data": chunk({"content": piece})}
        yield {"data": chunk({}, "stop")}
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), ping=0.2 if pause else None)


app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


class ThirdPartyServer:
    """uvicorn serving ``app`` on a free loopback port, in a thread."""

    def __init__(self) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(1000):  # at most ~10 s
            if self.server.started:
                break
            time.sleep(0.01)
        assert self.server.started, "uvicorn did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with ThirdPartyServer() as url:
        yield url


KEY = "third-party-key"


def test_blocking_stream_and_chat(base_url: str) -> None:
    with Client(base_url=base_url, api_key=KEY, env={}) as client:
        pieces: list[str] = []
        answer = client.chat("hi", "m", on_delta=lambda t, d: pieces.append(t))
        assert answer.text == TEXT and answer.finish_reason == "stop" and answer.streamed
        assert pieces[:-1] == PIECES and pieces[-1] == ""
        plain = client.chat("hi", "m")
        assert plain.text == TEXT and not plain.streamed
        assert plain.usage is not None and plain.usage.total_tokens == 12
        with client.stream("hi", "m") as events:
            got = list(events)
        assert [e.text for e in got if type(e) is Delta] == PIECES and type(got[-1]) is Done


def test_pings_keep_a_quiet_stream_alive(base_url: str) -> None:
    # 1.5 s without data but pings every 0.2 s, against a 1 s idle timeout.
    client = Client(base_url=base_url, api_key=KEY, env={}, headers={"X-Pause": "1.5"},
                    timeout=Timeout(connect=5, idle=1.0), max_retries=0)
    with client:
        assert client.chat("hi", "m", on_delta=lambda t, d: None).text == TEXT


def test_auth_error(base_url: str) -> None:
    client = Client(base_url=base_url, api_key="wrong", env={})
    with client, pytest.raises(ChatError) as info:
        client.chat("hi", "m")
    assert info.value.kind == "auth" and info.value.status == 401


def test_threads(base_url: str) -> None:
    with ThreadedClient(base_url=base_url, api_key=KEY, env={}) as client:
        futures = [client.submit("hi", "m", on_delta=lambda t, d: None) for _ in range(5)]
        assert [f.result(30).text for f in futures] == [TEXT] * 5


def test_trio(base_url: str) -> None:
    async def main() -> None:
        with trio.fail_after(30):
            async with TrioClient(base_url=base_url, api_key=KEY, env={}) as client:
                assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == TEXT
                async with client.stream("hi", "m") as events:
                    got = [event async for event in events]
                assert [e.text for e in got if type(e) is Delta] == PIECES

    trio.run(main)


def test_asyncio(base_url: str) -> None:
    async def main() -> None:
        async with AsyncioClient(base_url=base_url, api_key=KEY, env={}) as client:
            texts = await asyncio.gather(
                *(client.chat("hi", "m", on_delta=lambda t, d: None) for _ in range(10))
            )
            assert [t.text for t in texts] == [TEXT] * 10

    asyncio.run(asyncio.wait_for(main(), 30))
