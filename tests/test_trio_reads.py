"""bindings/trio.py: how ``TrioBackend.receive`` and a ``TrioBody``'s reads read a
plain socket.

Every test runs with the lean wait and with trio's own ``wait_readable`` (the oracle).
Every read is one wait for the socket to be readable, which is its checkpoint (a
schedule point and a cancel point), bytes there or not, and then reads; it waits
(cancellably, until its deadline) for as long as the socket has nothing. A body's reads
share one cancel scope whose deadline is each read's own. Over socket pairs: the
descriptor path of a plain socket, with a blocking peer whose sends are no schedule
points of the test's task.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
import trio
import trio.testing
from libchatty.bindings import _trio_streams
from libchatty.bindings._ops import IOFailure
from libchatty.bindings._trio_streams import TrioConn
from libchatty.bindings.trio import TrioBackend, TrioBody


@contextmanager
def socket_pair() -> Iterator[tuple[TrioConn, socket.socket]]:
    """A connection over a plain socket (read through its descriptor), and its peer."""
    ours, peer = socket.socketpair()
    conn = TrioConn(trio.SocketStream(trio.socket.from_stdlib_socket(ours)))
    assert conn.socket is not None
    with ours, peer:
        yield conn, peer


class Steps(trio.abc.Instrument):
    """How many times each task has run (its trips through the scheduler), and a
    hook called before a task's step."""

    def __init__(self) -> None:
        self.steps: dict[trio.lowlevel.Task, int] = {}
        self.before: Callable[[trio.lowlevel.Task], None] | None = None

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps[task] = self.steps.get(task, 0) + 1
        if self.before is not None:
            self.before(task)

    def of_this_task(self) -> int:
        return self.steps.get(trio.lowlevel.current_task(), 0)


@pytest.fixture(autouse=True, params=["lean", "wait_readable"])
def waits_with(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs twice: with the lean wait, and with trio's own
    ``trio.lowlevel.wait_readable`` -- the oracle the lean wait copies: the same reads,
    scheduler trips, deadlines and cancellations either way."""
    if request.param == "wait_readable":
        monkeypatch.setattr(_trio_streams, "_LEAN", False)
    return str(request.param)


def run(fn: Callable[[], Awaitable[None]], *instruments: trio.abc.Instrument) -> None:
    trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0), instruments=instruments)


def test_bytes_waiting_are_read_after_one_trip_through_the_scheduler() -> None:
    steps = Steps()

    async def main() -> None:
        with socket_pair() as (conn, peer):
            peer.send(b"ready")
            before = steps.of_this_task()
            assert await TrioBackend().receive(conn, 10) == b"ready"
            assert steps.of_this_task() - before == 1  # the wait: a checkpoint

    run(main, steps)


def test_a_read_with_nothing_there_waits_for_the_bytes() -> None:
    received: list[bytes] = []
    steps = Steps()

    async def main() -> None:
        with socket_pair() as (conn, peer):

            async def read() -> None:
                before = steps.of_this_task()
                received.append(await TrioBackend().receive(conn, None))
                received.append(b"%d" % (steps.of_this_task() - before))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await trio.testing.wait_all_tasks_blocked()
                assert received == []  # waiting
                peer.send(b"late")

    run(main, steps)
    assert received == [b"late", b"1"]  # woken once, by the bytes


def test_the_installed_trio_waits_without_wait_readable(
    monkeypatch: pytest.MonkeyPatch, waits_with: str
) -> None:
    # The lean wait (see _trio_streams): trio's private names it uses are there, so it
    # is the one used; with it off, trio's own wait_readable is.
    used: list[int] = []
    wait_readable = trio.lowlevel.wait_readable

    def counted(fd: int) -> Awaitable[None]:
        used.append(fd)
        return wait_readable(fd)

    monkeypatch.setattr(trio.lowlevel, "wait_readable", counted)
    lean = waits_with == "lean"
    assert _trio_streams._LEAN is lean

    async def main() -> None:
        with socket_pair() as (conn, peer):
            peer.send(b"x")
            assert await TrioBackend().receive(conn, 10) == b"x"
            assert (conn._readable is not None, len(used)) == (lean, 0 if lean else 1)

    run(main)


def test_a_cancelled_wait_leaves_the_socket_to_the_next_one() -> None:
    # Its abort unregisters the task: the next wait on the socket is not refused as busy.
    async def main() -> None:
        backend = TrioBackend()
        with socket_pair() as (conn, peer):
            with trio.move_on_after(5) as scope:
                await backend.receive(conn, None)
            assert scope.cancelled_caught and trio.current_time() == pytest.approx(5)
            peer.send(b"next")
            assert await backend.receive(conn, None) == b"next"

    run(main)


@contextmanager
def backend_reads(conn: TrioConn) -> Iterator[Callable[[], Awaitable[bytes]]]:
    """Reads of ``conn`` through ``TrioBackend.receive`` (no timeout: no scope)."""
    backend = TrioBackend()
    yield lambda: backend.receive(conn, None)


@contextmanager
def body_reads(conn: TrioConn) -> Iterator[Callable[[], Awaitable[bytes]]]:
    """Reads of ``conn`` as a body relayed to chat(): one shared cancel scope."""
    with TrioBody(conn, 30) as body:
        yield body.receive


@pytest.mark.parametrize("reads", [backend_reads, body_reads])
def test_every_read_lets_the_other_tasks_run(
    reads: Callable[[TrioConn], AbstractContextManager[Callable[[], Awaitable[bytes]]]],
) -> None:
    # Bytes always there (a fast server, a backlog): the reads never wait, and still
    # another task runs between any two of them.
    reads_between: list[int] = []

    async def main() -> None:
        count = 0
        done = False

        async def other_task() -> None:
            last = 0
            while not done:
                reads_between.append(count - last)
                last = count
                await trio.lowlevel.checkpoint()

        with socket_pair() as (conn, peer):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(other_task)
                await trio.lowlevel.checkpoint()  # the other task has started
                with reads(conn) as read:
                    for _ in range(10):
                        peer.send(b"x")
                        assert await read() == b"x"
                        count += 1
                done = True

    run(main)
    # Once per read (trio may reverse the order of a batch: two reads at most apart).
    assert len(reads_between) >= 10 and max(reads_between) <= 2


def test_a_cancelled_read_raises_and_leaves_the_bytes() -> None:
    async def main() -> None:
        backend = TrioBackend()
        with socket_pair() as (conn, peer):
            peer.send(b"kept")
            with trio.CancelScope() as scope:
                scope.cancel()
                await backend.receive(conn, 10)
                pytest.fail("the cancelled read returned")
            assert scope.cancelled_caught
            assert await backend.receive(conn, 10) == b"kept"

    run(main)


def test_a_waiting_read_is_cancellable() -> None:
    outcome: list[str] = []

    async def main() -> None:
        backend = TrioBackend()
        with socket_pair() as (conn, _peer):

            async def read() -> None:
                try:
                    await backend.receive(conn, None)
                except trio.Cancelled:
                    outcome.append("cancelled")
                    raise
                outcome.append("returned")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await trio.testing.wait_all_tasks_blocked()
                assert outcome == []  # waiting
                nursery.cancel_scope.cancel()

    run(main)
    assert outcome == ["cancelled"]


def test_a_waiting_read_ends_at_its_deadline() -> None:
    async def main() -> None:
        backend = TrioBackend()
        with socket_pair() as (conn, _peer):
            start = trio.current_time()
            with pytest.raises(IOFailure) as failure:
                await backend.receive(conn, 30)
            assert failure.value.kind == "timeout"
            assert trio.current_time() - start == pytest.approx(30)

    run(main)


# --- a body's reads (TrioBody) --------------------------------------------------------------------


def later(seconds: float, peer: socket.socket, data: bytes) -> Callable[[], Awaitable[None]]:
    async def send() -> None:
        await trio.sleep(seconds)
        peer.send(data)

    return send


def test_each_read_of_a_body_has_its_own_deadline() -> None:
    # Bytes at 20 s end the first read; the second, with nothing coming, ends at 20 + 30.
    async def main() -> None:
        with socket_pair() as (conn, peer):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(later(20, peer, b"a"))
                with TrioBody(conn, 30) as body:
                    assert await body.receive() == b"a"
                    with pytest.raises(IOFailure) as failure:
                        await body.receive()
            assert failure.value.kind == "timeout"
            assert trio.current_time() == pytest.approx(50)

    run(main)


def test_a_read_outlasting_an_earlier_reads_deadline_waits_on_to_its_own() -> None:
    # The first read at 0 (deadline 30) gets bytes at 10; the second (deadline 40) keeps
    # the scope's deadline of 30, which passes while it waits: it waits on, gets bytes at
    # 35; the third (deadline 65) times out at 65.
    async def main() -> None:
        with socket_pair() as (conn, peer):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(later(10, peer, b"a"))
                nursery.start_soon(later(35, peer, b"b"))
                with TrioBody(conn, 30) as body:
                    assert await body.receive() == b"a"
                    assert body.armed == pytest.approx(30)  # not moved for 10 s
                    assert await body.receive() == b"b"
                    assert trio.current_time() == pytest.approx(35)
                    with pytest.raises(IOFailure) as failure:
                        await body.receive()
            assert failure.value.kind == "timeout"
            assert trio.current_time() == pytest.approx(65)

    run(main)


def test_a_body_moves_its_deadline_once_half_a_timeout_behind() -> None:
    # A read's own deadline is its start + 30; the scope's moves to it when more than
    # 15 s behind (and is never after it).
    armed: list[float] = []

    async def main() -> None:
        with socket_pair() as (conn, peer), TrioBody(conn, 30) as body:
            for at in (0, 10, 15, 16, 20):
                await trio.sleep_until(at)
                peer.send(b"x")
                assert await body.receive() == b"x"
                assert body.scope.deadline == body.armed
                armed.append(body.armed)

    run(main)
    assert armed == [30, 30, 30, 46, 46]


def test_a_cancelled_waiting_body_read_stops_at_once() -> None:
    outcome: list[object] = []

    async def main() -> None:
        with socket_pair() as (conn, _peer):

            async def read() -> None:
                with TrioBody(conn, 30) as body:
                    try:
                        await body.receive()
                    except trio.Cancelled:
                        outcome.append(trio.current_time())
                        raise

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await trio.sleep(3)
                nursery.cancel_scope.cancel()

    run(main)
    assert outcome == [pytest.approx(3)]  # cancelled, not a timeout, and at once


def test_a_deadline_passing_as_the_bytes_come_cancels_nothing_after_the_read() -> None:
    # The scope is cancelled after the read was woken by its bytes (its deadline
    # passing in that tick, here cancel() just before the read's step): the read
    # returns the bytes, and a callback's checkpoint after it (a rest first) is not
    # cancelled, nor is the next read.
    steps = Steps()
    reached: list[bytes] = []

    async def main() -> None:
        # (The body would catch a Cancelled of its own scope.)
        with socket_pair() as (conn, peer), TrioBody(conn, 30) as body:
            me = trio.lowlevel.current_task()

            def cancel_before_my_step(task: trio.lowlevel.Task) -> None:
                if task is me:
                    steps.before = None
                    body.scope.cancel()

            peer.send(b"a")
            steps.before = cancel_before_my_step
            assert await body.receive() == b"a"
            body.rest()
            await trio.sleep(1)  # a callback's await
            peer.send(b"b")
            reached.append(await body.receive())

    run(main, steps)
    assert reached == [b"b"]


def test_a_body_over_another_stream_moves_its_deadline_at_every_read() -> None:
    # A TLS (here: memory) stream's read is not cancelled early and resumed: the
    # scope's deadline is each read's own.
    armed: list[float] = []

    async def main() -> None:
        ours, theirs = trio.testing.memory_stream_pair()
        conn = TrioConn(ours)
        assert conn.socket is None
        with TrioBody(conn, 30) as body:
            for at in (0, 10, 20):
                await trio.sleep_until(at)
                await theirs.send_all(b"x")
                assert await body.receive() == b"x"
                armed.append(body.armed)

    run(main)
    assert armed == [30, 40, 50]
