"""ChatProtocol's read timeout (bindings/_asyncio_protocol.py): one lazy timer handle per
connection, checked against the waiting read's own deadline. The loop's clock is a
number the test moves, so no outcome depends on the machine's speed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from libchatty.bindings._asyncio_protocol import AsyncioConn, ChatProtocol
from libchatty.bindings._ops import IOFailure
from libchatty.bindings.asyncio import AsyncioBackend


class Clock:
    def __init__(self) -> None:
        self.now = 0.0


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()


def run(
    clock: Clock, body: Callable[[asyncio.AbstractEventLoop], Coroutine[Any, Any, None]]
) -> None:
    loop = asyncio.new_event_loop()
    loop.time = lambda: clock.now  # type: ignore[method-assign]
    try:
        loop.run_until_complete(body(loop))
    finally:
        loop.close()


async def spin() -> None:
    """Let every ready callback (a due timer included) run; never blocks: the test
    only waits on tasks it has checked are done."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_reads_that_go_on_share_one_timer_and_the_stall_times_out(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        first = loop.create_task(protocol.receive(10))
        await spin()
        timer = protocol._timer
        assert timer is not None and timer.when() == 10
        clock.now = 5
        protocol.data_received(b"a")
        await spin()
        assert first.result() == b"a"
        second = loop.create_task(protocol.receive(10))  # deadline 15
        await spin()
        assert protocol._timer is timer  # no new handle for a later deadline
        clock.now = 10  # the handle fires, finds the read's deadline later: re-arms
        await spin()
        assert not second.done()
        assert protocol._timer is not None and protocol._timer.when() == 15
        clock.now = 14.999
        await spin()
        assert not second.done()
        clock.now = 15
        await spin()
        with pytest.raises(TimeoutError):
            second.result()

    run(clock, body)


def test_a_read_at_its_limit_gets_its_data(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        read = loop.create_task(protocol.receive(3))
        await spin()
        clock.now = 2.999
        protocol.data_received(b"x")
        await spin()
        assert read.result() == b"x"
        clock.now = 3  # the handle fires with no read waiting: nothing happens
        await spin()
        assert protocol._timer is None

    run(clock, body)


def test_a_shorter_deadline_rearms_earlier(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        first = loop.create_task(protocol.receive(100))
        await spin()
        protocol.data_received(b"a")
        await spin()
        assert first.result() == b"a"
        second = loop.create_task(protocol.receive(1))
        await spin()
        assert protocol._timer is not None and protocol._timer.when() == 1
        clock.now = 1
        await spin()
        with pytest.raises(TimeoutError):
            second.result()

    run(clock, body)


def test_a_read_without_timeout_is_not_failed_by_an_armed_timer(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        first = loop.create_task(protocol.receive(1))
        await spin()
        protocol.data_received(b"a")
        await spin()
        assert first.result() == b"a"
        second = loop.create_task(protocol.receive(None))
        clock.now = 50
        await spin()
        assert not second.done()
        assert protocol._timer is None  # fired, found no deadline, not re-armed
        protocol.data_received(b"b")
        await spin()
        assert second.result() == b"b"

    run(clock, body)


def test_connection_lost_cancels_the_timer(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        read = loop.create_task(protocol.receive(10))
        await spin()
        timer = protocol._timer
        assert timer is not None
        protocol.connection_lost(None)
        await spin()
        assert read.result() == b""
        assert protocol._timer is None and timer.cancelled()

    run(clock, body)


def test_the_backend_maps_a_timed_out_read(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        conn = AsyncioConn(None, protocol)  # type: ignore[arg-type]
        read = loop.create_task(AsyncioBackend().receive(conn, 2))
        await spin()
        clock.now = 2
        await spin()
        exc = read.exception()
        assert type(exc) is IOFailure
        assert (exc.kind, exc.message, exc.retryable) == ("timeout", "reading timed out", True)

    run(clock, body)


def test_the_backend_maps_a_connection_error(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        conn = AsyncioConn(None, protocol)  # type: ignore[arg-type]
        read = loop.create_task(AsyncioBackend().receive(conn, 2))
        await spin()
        protocol.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        await spin()
        exc = read.exception()
        assert type(exc) is IOFailure
        assert exc.kind == "connection"
        assert exc.message.startswith("reading failed: ")

    run(clock, body)
