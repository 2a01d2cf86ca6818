"""ChatProtocol's read timeout (bindings/_asyncio_protocol.py): one lazy timer handle per
connection, checked against the waiting read's own deadline. The loop's clock is a
number the test moves, so no outcome depends on the machine's speed."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from libchatty.bindings._asyncio_protocol import AsyncioConn, ChatProtocol
from libchatty.bindings._ops import READ_SIZE, IOFailure
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


def assert_timed_out(read: asyncio.Future[bytes]) -> None:
    """``read`` ended with the backend's timeout failure, exactly."""
    exc = read.exception()
    assert type(exc) is IOFailure
    assert (exc.kind, exc.message, exc.retryable) == ("timeout", "reading timed out", True)


def test_reads_that_go_on_share_one_timer_and_the_stall_times_out(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        first = asyncio.ensure_future(protocol.receive(10))
        await spin()
        timer = protocol._timer
        assert timer is not None and timer.when() == 10
        clock.now = 5
        protocol.data_received(b"a")
        await spin()
        assert first.result() == b"a"
        second = asyncio.ensure_future(protocol.receive(10))  # deadline 15
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
        assert_timed_out(second)

    run(clock, body)


def test_a_read_at_its_limit_gets_its_data(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        read = asyncio.ensure_future(protocol.receive(3))
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
        first = asyncio.ensure_future(protocol.receive(100))
        await spin()
        protocol.data_received(b"a")
        await spin()
        assert first.result() == b"a"
        second = asyncio.ensure_future(protocol.receive(1))
        await spin()
        assert protocol._timer is not None and protocol._timer.when() == 1
        clock.now = 1
        await spin()
        assert_timed_out(second)

    run(clock, body)


def test_a_read_without_timeout_is_not_failed_by_an_armed_timer(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        first = asyncio.ensure_future(protocol.receive(1))
        await spin()
        protocol.data_received(b"a")
        await spin()
        assert first.result() == b"a"
        second = asyncio.ensure_future(protocol.receive(None))
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
        read = asyncio.ensure_future(protocol.receive(10))
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
        read = asyncio.ensure_future(AsyncioBackend().receive(conn, 2))
        await spin()
        clock.now = 2
        await spin()
        assert_timed_out(read)

    run(clock, body)


def test_the_backend_maps_a_connection_error(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        conn = AsyncioConn(None, protocol)  # type: ignore[arg-type]
        read = asyncio.ensure_future(AsyncioBackend().receive(conn, 2))
        await spin()
        protocol.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        await spin()
        exc = read.exception()
        assert type(exc) is IOFailure
        assert exc.kind == "connection"
        assert exc.message.startswith("reading failed: ")

    run(clock, body)


# --- connecting ------------------------------------------------------------------------------


@pytest.mark.skipif(sys.version_info < (3, 11), reason="wait_for's task before 3.11")
def test_a_connect_waits_in_the_calls_own_task_and_times_out(clock: Clock) -> None:
    # asyncio.timeout, not wait_for: no task of its own per connect (thousands at once).
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        tasks: list[int] = []
        never = loop.create_future()

        async def create_connection(factory: Any, host: str, port: int) -> Any:
            tasks.append(len(asyncio.all_tasks()))
            factory()
            return await never

        loop.create_connection = create_connection  # type: ignore[method-assign,assignment]
        connect = asyncio.ensure_future(AsyncioBackend().connect("example.test", 443, 5))
        await spin()
        assert tasks == [2] and not connect.done()  # this test's task, and the call's
        clock.now = 5
        await spin()
        exc = connect.exception()
        assert type(exc) is IOFailure
        assert (exc.kind, exc.message) == ("timeout", "connecting to example.test:443 timed out")

    run(clock, body)


# --- what the protocol buffers --------------------------------------------------------------


class Socket:
    """A transport over a pretend socket: what the server sends while reading is paused
    waits here (the kernel's buffer) and reaches the protocol when reading resumes."""

    def __init__(self, protocol: ChatProtocol) -> None:
        self.protocol = protocol
        self.reading = True
        self.closing = False
        self.held: list[bytes] = []
        self.pauses = 0
        protocol.connection_made(self)  # type: ignore[arg-type]

    def arrive(self, data: bytes) -> None:
        if self.reading:
            self.protocol.data_received(data)
        else:
            self.held.append(data)

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True
        if self.held:
            data = b"".join(self.held)
            self.held.clear()
            self.protocol.data_received(data)

    def is_closing(self) -> bool:
        return self.closing


def test_bytes_no_read_waits_for_pause_reading_until_a_read_takes_them(clock: Clock) -> None:
    # What the server sends while the call lags waits in the kernel's buffer, not ours.
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        socket.arrive(b"head")
        assert not socket.reading and socket.pauses == 1
        socket.arrive(b"one")
        socket.arrive(b"two")
        assert socket.held == [b"one", b"two"]  # in the socket, not the protocol
        assert protocol._chunks == [b"head"]
        assert await protocol.receive(10) == b"head"
        # Reading resumed; what waited came in one piece, and no read waits for it.
        assert socket.held == [] and protocol._chunks == [b"onetwo"]
        assert not socket.reading and socket.pauses == 2
        assert await protocol.receive(10) == b"onetwo"
        assert socket.reading and protocol._chunks == []

    run(clock, body)


def test_a_read_that_waits_first_never_pauses_reading(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        for token in (b"a", b"b", b"c"):
            read = asyncio.ensure_future(protocol.receive(10))
            await spin()
            socket.arrive(token)
            assert await read == token
        assert socket.reading and socket.pauses == 0

    run(clock, body)


def test_the_end_of_stream_after_paused_bytes_is_read_after_them(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        socket.arrive(b"last")
        protocol.eof_received()
        assert await protocol.receive(10) == b"last"
        assert await protocol.receive(10) == b""

    run(clock, body)


def deliver(protocol: ChatProtocol, data: bytes) -> None:
    """What a transport does for a buffered protocol: fill its buffer, say how much."""
    buffer = protocol.get_buffer(-1)
    buffer[: len(data)] = data
    protocol.buffer_updated(len(data))


def test_connections_read_into_one_buffer_and_keep_their_own_bytes(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        first, second = ChatProtocol(loop), ChatProtocol(loop)
        assert first.get_buffer(-1) is second.get_buffer(-1)  # one per thread
        assert len(first.get_buffer(-1)) == READ_SIZE
        deliver(first, b"first's bytes")
        deliver(second, b"two")  # over the same buffer: the first's were copied out
        assert await first.receive(10) == b"first's bytes"
        assert await second.receive(10) == b"two"

    run(clock, body)


def test_another_threads_loop_reads_into_its_own_buffer(clock: Clock) -> None:
    buffers: list[memoryview] = []

    def make() -> None:
        loop = asyncio.new_event_loop()
        try:
            buffers.append(ChatProtocol(loop).get_buffer(-1))
        finally:
            loop.close()

    make()
    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    assert len(buffers) == 2 and buffers[0] is not buffers[1]


# --- resting between reads (the binding's read_interval) ------------------------------------


def test_a_rested_read_gets_what_came_during_the_rest_at_once(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        read = asyncio.ensure_future(protocol.receive(10, rest=0.1))
        await spin()
        assert not socket.reading and socket.pauses == 1
        for now, token in ((0.02, b"a"), (0.05, b"b"), (0.08, b"c")):
            clock.now = now
            socket.arrive(token)
            await spin()
            assert not read.done()
        clock.now = 0.1
        await spin()
        assert read.result() == b"abc"  # three tokens, one read
        assert socket.reading and protocol._resting is None

    run(clock, body)


def test_a_rested_read_takes_what_is_buffered_without_resting(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        socket.arrive(b"early")  # no read waits: reading pauses (the one pause)
        assert await protocol.receive(10, rest=0.1) == b"early"
        assert socket.reading and socket.pauses == 1 and protocol._resting is None

    run(clock, body)


@pytest.mark.parametrize(("timeout", "rests"), [(0.199, False), (0.2, True), (None, True)])
def test_a_read_rests_only_with_two_rests_before_its_deadline(
    clock: Clock, timeout: float | None, rests: bool
) -> None:
    # Nearer than that, what waited in the socket could not be read before the deadline
    # is checked: the rest would count as the server's silence.
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        read = asyncio.ensure_future(protocol.receive(timeout, rest=0.1))
        await spin()
        assert socket.pauses == (1 if rests else 0)
        clock.now = 0.05
        socket.arrive(b"x")
        await spin()
        assert read.done() is not rests
        clock.now = 0.1
        await spin()
        assert read.result() == b"x"

    run(clock, body)


def test_silence_through_a_rest_times_out_at_the_deadline(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        read = asyncio.ensure_future(protocol.receive(0.3, rest=0.1))
        await spin()
        clock.now = 0.1  # the rest ends; nothing came
        await spin()
        assert socket.reading and not read.done()
        clock.now = 0.2999
        await spin()
        assert not read.done()
        clock.now = 0.3
        await spin()
        assert_timed_out(read)

    run(clock, body)


def test_a_rest_ends_with_its_read(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        read = asyncio.ensure_future(protocol.receive(10, rest=0.1))
        await spin()
        resting = protocol._resting
        assert resting is not None and not socket.reading
        read.cancel()
        await spin()
        assert read.cancelled() and resting.cancelled()
        assert socket.reading and protocol._resting is None

        lost = asyncio.ensure_future(protocol.receive(10, rest=0.1))
        await spin()
        socket.closing = True
        protocol.connection_lost(None)
        await spin()
        assert lost.result() == b"" and protocol._resting is None
        assert not socket.reading  # a closed transport is not resumed

    run(clock, body)


def test_the_backend_rests_only_the_reads_that_follow_a_delivery(clock: Clock) -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        backend = AsyncioBackend(read_interval=0.1)
        protocol = ChatProtocol(loop)
        socket = Socket(protocol)
        conn = AsyncioConn(socket, protocol)  # type: ignore[arg-type]
        first = asyncio.ensure_future(backend.receive(conn, 10))
        await spin()
        assert socket.pauses == 0
        socket.arrive(b"head")
        await spin()
        assert first.result() == b"head"
        after = asyncio.ensure_future(backend.receive_next(conn, 10))
        await spin()
        assert socket.pauses == 1
        clock.now = 0.1
        socket.arrive(b"more")
        await spin()
        assert after.result() == b"more"
        off = asyncio.ensure_future(AsyncioBackend().receive_next(conn, 10))
        await spin()
        assert socket.pauses == 1 and not off.done()
        off.cancel()
        await spin()

    run(clock, body)


@pytest.mark.parametrize("interval", [-0.1, float("inf"), float("nan")])
def test_a_read_interval_is_a_number_of_seconds(interval: float) -> None:
    with pytest.raises(ValueError, match="read_interval must be a number of seconds >= 0"):
        AsyncioBackend(read_interval=interval)
