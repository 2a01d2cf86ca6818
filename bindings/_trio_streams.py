"""trio streams for the trio binding: the connection, a plain TCP socket read and written
through its descriptor, closing under cancellation, probing an idle stream, and opening TCP
(a numeric address without the happy-eyeballs machinery)."""

from __future__ import annotations

import os
import sys
from typing import Final

import trio

from ._ops import READ_SIZE
from ._transport import waiting

__all__ = ["TrioConn", "close_now", "open_tcp", "read_now", "stream_waiting", "write"]


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
    __slots__ = ("_stream", "socket")

    def __init__(self, stream: trio.abc.Stream) -> None:
        #: The socket of a plain TCP stream, read and written through its descriptor
        #: (see TrioBackend.receive and write); None for TLS and other streams.
        self.socket = (
            stream.socket if _BY_DESCRIPTOR and type(stream) is trio.SocketStream else None
        )
        # Such a socket's stream (it has set the socket's options) is not kept: ~180
        # bytes of every connection, and only TLS asks for it again.
        self._stream = stream if self.socket is None else None

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
