"""200 concurrent streams in one process, trio and asyncio each, against the replay
server over loopback: every text exact, every stream on its own connection at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import trio
from libchatty.bindings.asyncio import AsyncClient as AsyncioClient
from libchatty.bindings.server import ReplayServer
from libchatty.bindings.trio import AsyncClient as TrioClient

from libchatty.events import Delta, Done
from libchatty.replay import split_tokens

STREAMS = 200
TEXT = " ".join(f"w{i}" for i in range(40)) + " — done ✓"
PIECES = split_tokens(TEXT)


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    # A small delay per token keeps every stream open while the others run.
    with ReplayServer(text=TEXT, token_delay=0.005) as running:
        yield running


def test_trio_200_concurrent_streams(server: ReplayServer) -> None:
    texts: list[str] = []
    pieces: list[list[str]] = []
    before = server.connections

    async def one(client: TrioClient) -> None:
        got: list[str] = []
        answer = await client.chat("hi", "m", on_delta=lambda t, d: got.append(t))
        texts.append(answer.text)
        pieces.append(got)

    async def main() -> None:
        client = TrioClient(base_url=server.base_url, api_key="k", env={})
        with trio.fail_after(60):
            async with client, trio.open_nursery() as nursery:
                for _ in range(STREAMS):
                    nursery.start_soon(one, client)

    trio.run(main)
    assert texts == [TEXT] * STREAMS
    assert all(p == [*PIECES, ""] for p in pieces)
    assert server.connections - before == STREAMS  # all at once: one connection each


def test_asyncio_200_concurrent_streams(server: ReplayServer) -> None:
    before = server.connections

    async def one(client: AsyncioClient) -> tuple[str, list[str]]:
        async with client.stream("hi", "m") as events:
            got = [event async for event in events]
        assert type(got[-1]) is Done
        return got[-1].text, [e.text for e in got if type(e) is Delta]

    async def main() -> list[tuple[str, list[str]]]:
        async with AsyncioClient(base_url=server.base_url, api_key="k", env={}) as client:
            return await asyncio.gather(*(one(client) for _ in range(STREAMS)))

    results = asyncio.run(asyncio.wait_for(main(), 60))
    assert [text for text, _ in results] == [TEXT] * STREAMS
    assert all(pieces == PIECES for _, pieces in results)
    assert server.connections - before == STREAMS
