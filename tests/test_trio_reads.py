"""bindings/trio.py: how ``TrioBackend.receive`` reads a plain socket.

Every read is a checkpoint (a schedule point, then a cancel point) before it looks at
the socket; a read finds bytes waiting without a wait, and waits (cancellably, until
its deadline) only when the socket has nothing. Over socket pairs: the descriptor path
of a plain socket, with a blocking peer whose sends are no schedule points of the
test's task.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio
import trio.testing
from libchatty.bindings._ops import IOFailure
from libchatty.bindings._trio_streams import TrioConn
from libchatty.bindings.trio import TrioBackend


@contextmanager
def socket_pair() -> Iterator[tuple[TrioConn, socket.socket]]:
    """A connection over a plain socket (read through its descriptor), and its peer."""
    ours, peer = socket.socketpair()
    conn = TrioConn(trio.SocketStream(trio.socket.from_stdlib_socket(ours)))
    assert conn.socket is not None
    with ours, peer:
        yield conn, peer


def count_waits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of waits for readability from here on (each still made)."""
    waits = [0]
    wait_readable = trio.lowlevel.wait_readable

    async def counted(fd: Any) -> None:
        waits[0] += 1
        await wait_readable(fd)

    monkeypatch.setattr(trio.lowlevel, "wait_readable", counted)
    return waits


def run(fn: Callable[[], Awaitable[None]]) -> None:
    trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0))


def test_bytes_waiting_are_read_without_a_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    waits = count_waits(monkeypatch)

    async def main() -> None:
        with socket_pair() as (conn, peer):
            peer.send(b"ready")
            assert await TrioBackend().receive(conn, 10) == b"ready"

    run(main)
    assert waits == [0]


def test_a_read_with_nothing_there_waits_for_the_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits = count_waits(monkeypatch)
    received: list[bytes] = []

    async def main() -> None:
        with socket_pair() as (conn, peer):

            async def read() -> None:
                received.append(await TrioBackend().receive(conn, None))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await trio.testing.wait_all_tasks_blocked()
                assert waits == [1] and received == []  # waiting
                peer.send(b"late")

    run(main)
    assert received == [b"late"] and waits == [1]


def test_every_read_lets_the_other_tasks_run() -> None:
    # Bytes always there (a fast server, a backlog): the reads never wait, and still
    # another task runs between any two of them.
    reads_between: list[int] = []

    async def main() -> None:
        backend = TrioBackend()
        reads = 0
        done = False

        async def other_task() -> None:
            last = 0
            while not done:
                reads_between.append(reads - last)
                last = reads
                await trio.lowlevel.checkpoint()

        with socket_pair() as (conn, peer):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(other_task)
                await trio.lowlevel.checkpoint()  # the other task has started
                for _ in range(10):
                    peer.send(b"x")
                    assert await backend.receive(conn, None) == b"x"
                    reads += 1
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
