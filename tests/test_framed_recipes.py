"""The README's recipe for requests/urllib3 over the framed door of ``Call`` (issue 11),
run verbatim against the replay server on loopback; and the framed door fed the bodies
that requests, httpx and aiohttp really hand over (decoded, de-chunked, split where
each stack splits them) against the replay server in every dialect and against a real
third-party SSE server (sse-starlette on uvicorn), compared with the raw door."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Final

import pytest

requests = pytest.importorskip("requests")
httpx = pytest.importorskip("httpx")
aiohttp = pytest.importorskip("aiohttp")

from libchatty.bindings.server import ReplayServer  # noqa: E402
from test_every_dialect import ANSWER, TEXT, base_url_for  # noqa: E402

from libchatty import Call, ChatRequest, Endpoint  # noqa: E402
from libchatty.dialects import DIALECT_NAMES  # noqa: E402
from libchatty.events import Done, Event  # noqa: E402

# The recipe, exactly as the README shows it (between the markers).
RECIPE: Final = '''
import requests
from libchatty import Call, ChatRequest, Endpoint

def chat(base_url, api_key, model, prompt, session=requests.Session()):
    call = Call(Endpoint(base_url, api_key, "openai-chat"),
                ChatRequest(model=model, messages=[{"role": "user", "content": prompt}]))
    req = call.http_request()
    with session.request(req.method, req.url, headers=dict(req.headers), data=req.body,
                         stream=True, timeout=(10, 60)) as resp:
        yield from call.receive_head(resp.status_code, resp.headers)
        for piece in resp.raw.stream(65536, decode_content=True):  # urllib3: as it comes
            yield from call.receive_body(piece)
        yield from call.receive_end()
'''


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(script=ANSWER, keep_credentials=True) as replay:
        yield replay


def test_the_recipe_has_at_most_15_lines() -> None:
    assert len(RECIPE.strip().splitlines()) <= 15


def test_the_requests_recipe_streams_the_exact_answer(server: ReplayServer) -> None:
    namespace: dict[str, Any] = {}
    exec(RECIPE, namespace)
    events = list(namespace["chat"](server.base_url, "test-key", "m", "Why?"))
    done = events[-1]
    assert type(done) is Done
    assert done.text == TEXT
    assert "".join(e.text for e in events[:-1]) == TEXT
    [request] = server.requests[-1:]
    assert request.headers.get("authorization") == "Bearer test-key"


# --- the bodies the stacks really produce -------------------------------------------------


def raw_events(endpoint: Endpoint, request: ChatRequest) -> list[Event]:
    """The reference: the raw door over a plain socket."""
    import socket

    call = Call(endpoint, request)
    events: list[Event] = []
    with socket.create_connection((call.host, call.port), timeout=10) as sock:
        sock.sendall(call.start())
        for _ in range(10_000):
            if not call.wants_data:
                break
            events += call.receive_data(sock.recv(65536))
    return events


def requests_pieces(call: Call) -> tuple[int, Any, list[bytes]]:
    req = call.http_request()
    with requests.request(req.method, req.url, headers=dict(req.headers), data=req.body,
                          stream=True, timeout=10) as resp:
        return resp.status_code, resp.headers, list(resp.iter_content(None))


def httpx_pieces(call: Call) -> tuple[int, Any, list[bytes]]:
    req = call.http_request()
    with httpx.stream(req.method, req.url, headers=req.headers, content=req.body,
                      timeout=10) as resp:
        return resp.status_code, resp.headers, list(resp.iter_bytes())


def aiohttp_pieces(call: Call) -> tuple[int, Any, list[bytes]]:
    async def main() -> tuple[int, Any, list[bytes]]:
        req = call.http_request()
        async with aiohttp.ClientSession() as session, session.request(
            req.method, req.url, headers=req.headers, data=req.body
        ) as resp:
            return resp.status, resp.headers, [piece async for piece in resp.content.iter_any()]

    return asyncio.run(asyncio.wait_for(main(), 30))


STACKS: Final = {"requests": requests_pieces, "httpx": httpx_pieces, "aiohttp": aiohttp_pieces}


def framed(endpoint: Endpoint, request: ChatRequest, stack: str) -> list[Event]:
    call = Call(endpoint, request)
    status, headers, pieces = STACKS[stack](call)
    events = call.receive_head(status, headers)
    for piece in pieces:
        events += call.receive_body(piece)
    return events + call.receive_end()


@pytest.mark.parametrize("stack", sorted(STACKS))
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize("stream", [True, False])
def test_the_framed_door_fed_by_each_stack_matches_the_raw_door(
    stack: str, dialect: str, stream: bool, server: ReplayServer
) -> None:
    endpoint = Endpoint(base_url_for(server, dialect), "test-key", dialect)
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "Why?"}],
                          stream=stream)
    expected = raw_events(endpoint, request)
    assert type(expected[-1]) is Done
    assert expected[-1].text == TEXT
    assert framed(endpoint, request, stack) == expected


def test_the_framed_door_fed_by_each_stack_from_sse_starlette() -> None:
    pytest.importorskip("sse_starlette")
    import test_third_party_server as third

    with third.ThirdPartyServer() as base_url:
        endpoint = Endpoint(base_url, third.KEY, "openai-chat")
        request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])
        expected = raw_events(endpoint, request)
        assert expected[-1].text == third.TEXT  # type: ignore[union-attr]
        for stack in sorted(STACKS):
            assert framed(endpoint, request, stack) == expected, stack
