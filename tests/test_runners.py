"""bindings/_runners.py: which reads :func:`adrive` hands to ``receive_next`` (the one a
backend may rest before: only a read that follows a delivery of streamed output), and
:func:`arun`, which hands each delivery to a hook instead of yielding its events. Driven
by a scripted async backend: no socket, no clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any

from libchatty.bindings._exchange import Exchange
from libchatty.bindings._ops import Conn, Runtime
from libchatty.bindings._pool import Pool
from libchatty.bindings._runners import AsyncBackend, adrive, arun
from test_driver import config

from libchatty.events import Delta, Done, Error, Event
from libchatty.request import ChatRequest, Message

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
END = b"0\r\n\r\n"


def chunk(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    event = f"data: {data}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(event), event)


def piece(text: str) -> bytes:
    return chunk({"choices": [{"index": 0, "delta": {"content": text}}]})


STOP = chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + chunk("[DONE]")


class FakeConn:
    def abort(self) -> None:
        pass


class ScriptedBackend(AsyncBackend):
    """Reads return the script's items in turn; ``reads`` records which method served
    each one."""

    def __init__(self, script: list[bytes]) -> None:
        self.script = list(script)
        self.reads: list[str] = []

    async def connect(self, host: str, port: int, timeout: float | None) -> Conn:
        return FakeConn()

    async def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn:
        raise AssertionError("plain HTTP only")

    async def send(self, conn: Any, data: bytes, timeout: float | None) -> None:
        pass

    async def receive(self, conn: Any, timeout: float | None) -> bytes:
        self.reads.append("receive")
        return self.script.pop(0) if self.script else b""

    def receive_next(self, conn: Any, timeout: float | None) -> Awaitable[bytes | None]:
        self.reads.append("receive_next")
        return self._next()

    async def _next(self) -> bytes:
        return self.script.pop(0) if self.script else b""

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("no retries here")

    async def probe(self, conn: Any) -> bool:
        return False


def exchange() -> Exchange:
    request = ChatRequest("m", [Message("user", "hi")], stream=True)
    runtime = Runtime(lambda: 0.0, lambda: 0.0, lambda: 0.0)
    return Exchange(config(), request, Pool(), runtime)


def test_only_reads_after_a_delivery_of_streamed_output_go_to_receive_next() -> None:
    # The head alone (no delivery), the first piece, two more, then the end of the
    # stream with Done, and the end of the body read after it.
    backend = ScriptedBackend([HEAD, piece("a"), piece("b") + piece("c"), STOP, END])

    async def main() -> list[Event]:
        return [event async for event in adrive(exchange().run(), backend)]

    events = asyncio.run(main())
    assert [e.text for e in events if type(e) is Delta] == ["a", "b", "c"]
    assert type(events[-1]) is Done and events[-1].text == "abc"
    # The first read, the one after the head and the one after Done never rest.
    assert backend.reads == ["receive", "receive", "receive_next", "receive_next", "receive"]


def test_arun_hands_each_delivery_to_the_hook_and_yields_nothing() -> None:
    backend = ScriptedBackend([HEAD + piece("a"), piece("b") + piece("c"), STOP + END])
    deliveries: list[list[Event]] = []
    run = exchange()

    asyncio.run(arun(run.run(), backend, deliveries.append))
    assert [[type(e) for e in batch] for batch in deliveries] == [[Delta], [Delta, Delta], [Done]]
    texts = [[e.text for e in batch if not isinstance(e, Error)] for batch in deliveries]
    assert texts == [["a"], ["b", "c"], ["abc"]]
    assert run.completion().text == "abc"
    assert backend.reads == ["receive", "receive_next", "receive_next"]


def test_the_default_receive_next_is_receive() -> None:
    backend = ScriptedBackend([b"x"])
    reading = AsyncBackend.receive_next(backend, FakeConn(), 1.0)
    assert asyncio.run(reading) == b"x"  # type: ignore[arg-type]
    assert backend.reads == ["receive"]
