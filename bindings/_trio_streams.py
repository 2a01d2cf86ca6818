"""trio streams for the trio binding: the connection, a plain TCP socket read and written
through its descriptor (and waited on with what trio's epoll I/O manager does, without its
per-wait objects), closing under cancellation, probing an idle stream, and opening TCP (a
numeric address without the happy-eyeballs machinery)."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Awaitable, Generator
from typing import Any, Final

import trio

from ._ops import READ_SIZE
from ._transport import waiting

__all__ = [
    "TrioConn",
    "close_now",
    "open_tcp",
    "read_now",
    "readable",
    "receive_some",
    "stream_waiting",
    "write",
]


def close_now(stream: trio.abc.AsyncResource | trio.socket.SocketType) -> None:
    """Close ``stream`` synchronously (a ``finally`` under cancellation cannot await):
    the socket under any TLS layers, or a memory stream's halves (or a socket)."""
    if isinstance(stream, trio.socket.SocketType):
        stream.close()
        return
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        stream.socket.close()
        return
    close = getattr(stream, "close", None)
    if callable(close):
        close()
        return
    for half in (getattr(stream, "send_stream", None), getattr(stream, "receive_stream", None)):
        if half is not None:
            close_now(half)


def stream_waiting(stream: trio.abc.Stream) -> bool:
    """Whether anything waits, unread, on an idle ``stream`` (see
    :class:`~libchatty.bindings._ops.Probe`): the TLS layers' buffers, then the
    socket under them (polled, not read). A stream with no socket under it (a test's
    memory stream, a custom opener's) cannot be looked into without reading, and is
    taken as clean: such a transport is the opener's to vouch for."""
    while isinstance(stream, trio.SSLStream):
        if stream.pending():  # decrypted bytes held by the SSLObject
            return True
        # Encrypted bytes read from the socket but not yet decrypted (trio keeps them
        # in a MemoryBIO with no public accessor).
        incoming = getattr(stream, "_incoming", None)
        if incoming is not None and incoming.pending:
            return True
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        return waiting(stream.socket)
    return False


# Where a plain TCP stream is read and written through its descriptor.
_BY_DESCRIPTOR: Final = sys.platform != "win32"


class TrioConn:
    __slots__ = ("_readable", "_stream", "socket")

    def __init__(self, stream: trio.abc.Stream) -> None:
        #: The socket of a plain TCP stream, read and written through its descriptor
        #: (see TrioBackend.receive and write); None for TLS and other streams.
        self.socket = (
            stream.socket if _BY_DESCRIPTOR and type(stream) is trio.SocketStream else None
        )
        # Such a socket's stream (it has set the socket's options) is not kept: ~180
        # bytes of every connection, and only TLS asks for it again.
        self._stream = stream if self.socket is None else None
        self._readable: _Readable | None = None  # made by the first wait that uses it

    @property
    def stream(self) -> trio.abc.Stream:
        """The connection as a trio stream (a plain socket's made again when asked for)."""
        stream = self._stream
        if stream is None:
            assert self.socket is not None  # one or the other
            stream = self._stream = trio.SocketStream(self.socket)
        return stream

    def waiting(self) -> bool:
        """See :func:`stream_waiting`."""
        return stream_waiting(self.stream) if self.socket is None else waiting(self.socket)

    def abort(self) -> None:
        close_now(self.stream if self.socket is None else self.socket)


def read_now(sock: trio.socket.SocketType) -> bytes | None:
    """A read that does not wait: up to READ_SIZE bytes (``b""``: the peer closed), or
    None when nothing has arrived yet."""
    try:
        return os.read(_descriptor(sock), READ_SIZE)
    except BlockingIOError:
        return None


async def receive_some(conn: TrioConn) -> bytes | bytearray:
    """Up to READ_SIZE bytes from ``conn`` (``b""``: the peer closed; a socket gives
    bytes, other streams may give a bytearray), waiting for them: a checkpoint, bytes
    there or not (a task whose bytes are always there still lets the others run; a
    cancelled one stops).

    A plain socket is read once the wait for it to be readable is over, which is that
    checkpoint: one trip through the scheduler per read, where a checkpoint first and
    then a wait when nothing had come (most reads of a paced stream) were two, and the
    bytes are given to the call before the task sleeps again -- trio's receive_some
    reads, then passes a checkpoint holding them: under load every task woken in one
    batch held its read (4-5 KB each at 10,000 streams) while the others ran."""
    sock = conn.socket
    if sock is None:
        return await conn.stream.receive_some(READ_SIZE)
    while True:
        await readable(conn)
        data = read_now(sock)
        if data is not None:  # None: woken with nothing to read after all
            return data


def readable(conn: TrioConn) -> Awaitable[None]:
    """The wait for the plain socket of ``conn`` to be readable (a checkpoint), to
    await: no frame of its own around it (see below)."""
    assert conn.socket is not None
    # Its descriptor, checked: a closed socket's is -1 (ClosedResourceError here).
    fd = _descriptor(conn.socket)
    waiting = conn._readable
    if waiting is None or waiting.fd != fd:
        if not _LEAN:
            return trio.lowlevel.wait_readable(fd)
        waiting = conn._readable = _Readable(fd)
    return _wait(waiting)


async def write(conn: TrioConn, data: bytes) -> None:
    """Send all of ``data`` on ``conn``: to a plain socket's descriptor directly (the
    caller has just passed a checkpoint, see ``TrioBackend.send``), waiting only when
    the socket's buffer is full; other streams through ``send_all``."""
    sock = conn.socket
    if sock is None:
        await conn.stream.send_all(data)
        return
    with memoryview(data) as left:
        while left:
            try:
                sent = os.write(_descriptor(sock), left)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                continue
            left = left[sent:]


# --- waiting for a socket to be readable -------------------------------------------------
#
# trio.lowlevel.wait_readable is five awaitables deep, and makes 14 objects that the
# cyclic GC tracks at every wait -- coroutines, the abort closure and its cells, the
# message to the scheduler -- which outlive the young collections while the read waits:
# at 10,000 streams the full collections they brought about were most of the GC's work,
# itself ~40% of trio's CPU. The same steps (those of trio's epoll I/O manager, used
# with its own data) with the abort function and the message made once per connection
# leave one generator per wait. trio's private names, checked here once: another I/O
# manager (kqueue, Windows), or a trio where they differ, waits with wait_readable
# (tests/test_trio_reads.py runs every read test both ways: trio's is the oracle). One
# difference: trio runs its registration shielded from KeyboardInterrupt; a Ctrl-C
# landing inside register() may leave the descriptor marked as read by a task that
# never slept (a later wait on that socket is refused as busy) -- the run is ending.
try:
    from trio._core._io_epoll import EpollIOManager as _Epoll
    from trio._core._run import GLOBAL_RUN_CONTEXT as _RUN
    from trio._core._traps import WaitTaskRescheduled as _Message

    _LEAN: bool = callable(getattr(_Epoll, "_update_registrations", None)) and any(
        field.name == "_registered" for field in getattr(_Epoll, "__attrs_attrs__", ())
    )
except ImportError:  # pragma: no cover -- trio's layout changed
    _LEAN = False


class _Readable:
    """A plain socket's wait for readability under trio's epoll I/O manager: what
    ``trio.lowlevel.wait_readable`` does (register the task on the descriptor, sleep,
    unregister on cancellation), with what it would make per wait made once."""

    __slots__ = ("fd", "io", "message")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.io: Any = None  # the I/O manager the wait registered with
        self.message = _Message(self.abort)  # to the scheduler: sleep until rescheduled

    def register(self) -> None:
        io = _RUN.runner.io_manager
        if type(io) is not _Epoll:  # pragma: no cover -- epoll is Linux's
            raise _NotEpoll
        waiters = io._registered[self.fd]
        if waiters.read_task is not None:
            raise trio.BusyResourceError("another task is already reading this socket")
        waiters.read_task = trio.lowlevel.current_task()
        io._update_registrations(self.fd)
        self.io = io

    def abort(self, _: object) -> trio.lowlevel.Abort:
        """The task is cancelled while it waits: it no longer waits on the descriptor."""
        io, self.io = self.io, None
        io._registered[self.fd].read_task = None
        io._update_registrations(self.fd)
        return trio.lowlevel.Abort.SUCCEEDED


class _NotEpoll(Exception):
    """The running trio's I/O manager is not epoll's."""


@types.coroutine
def _wait(readable: _Readable) -> Generator[Any, Any, None]:
    """Sleep until ``readable``'s descriptor is readable (a checkpoint: a cancelled
    task's wait is aborted at once)."""
    try:
        readable.register()
    except _NotEpoll:  # pragma: no cover
        yield from trio.lowlevel.wait_readable(readable.fd).__await__()
        return
    (yield readable.message).unwrap()  # the outcome: None, or raises (Cancelled, ...)


def _descriptor(sock: trio.socket.SocketType) -> int:
    """The descriptor of an open socket; ClosedResourceError once it was closed (never a
    number the OS may have reused for another file)."""
    fd = sock.fileno()
    if fd < 0:
        raise trio.ClosedResourceError("the connection was closed")
    return fd


def _address_family(host: str) -> int | None:
    """The family of a numeric IPv4 or IPv6 address; None for a host name."""
    for family in (trio.socket.AF_INET, trio.socket.AF_INET6):
        try:
            trio.socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return family
    return None


async def open_tcp(host: str, port: int) -> trio.abc.Stream:
    """``trio.open_tcp_stream``, except that a numeric address is connected to directly:
    with one address there is nothing to race, and the happy-eyeballs machinery (a
    nursery, a task, events and cancel scopes per connection) was the largest part of
    a stream's memory while thousands connect at once."""
    family = _address_family(host)
    if family is None:
        return await trio.open_tcp_stream(host, port)
    sock = trio.socket.socket(family, trio.socket.SOCK_STREAM)
    try:
        await sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)
