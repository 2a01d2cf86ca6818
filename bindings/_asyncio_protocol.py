"""The asyncio transport under the asyncio binding: a small :class:`asyncio.Protocol`
that buffers what arrives until the call reads it (and can rest between reads), and the
connection the request loop holds (closable from any loop, or none)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import threading
from typing import Any, Final

from ._ops import READ_SIZE
from ._transport import ExceptionTable, io_failure, waiting

__all__ = ["ERRORS", "AsyncioConn", "ChatProtocol"]

#: What asyncio raises, and what it means (asyncio.TimeoutError is TimeoutError from
#: Python 3.11; TLS errors are OSErrors, a failed certificate check is recognised by
#: io_failure whatever the backend).
ERRORS: Final[ExceptionTable] = {TimeoutError: "timeout", OSError: "connection"}

_NEVER: Final = float("inf")
# The buffer every protocol of this thread's loop reads into (see ChatProtocol).
_THREAD: Final = threading.local()
# The context the timers run in: they read no context variable, and a handle made
# without one copies the running context (~64 bytes of every open connection).
_TIMERS: Final = contextvars.Context()


def _read_buffer() -> memoryview:
    """This thread's read buffer: one per thread, as a thread's loop runs one callback
    at a time (and another thread's loop reads at the same moment)."""
    view: memoryview | None = getattr(_THREAD, "view", None)
    if view is None:
        view = _THREAD.view = memoryview(bytearray(READ_SIZE))
    return view


class ChatProtocol(asyncio.BufferedProtocol):
    """Buffers what arrives until the call asks for it; one reader at a time.

    A buffered protocol: the socket is read into one buffer that every connection of
    the thread shares (:meth:`get_buffer`), and what came is copied out, exactly its
    size (:meth:`buffer_updated`). For a plain protocol the transport calls ``recv()``,
    which takes a fresh 256 KiB block and shrinks it to what came: at thousands of
    streams that churn left the heap fragmented, ~3 KB of every stream's peak RSS at
    2,000 streams.

    Reading from the socket pauses whenever bytes arrive that no read waits for, until
    the next read takes them: the buffer holds at most one read of the socket
    (:data:`~libchatty.bindings._ops.READ_SIZE`), and what the server sends while the
    call lags -- thousands of streams in one loop lag -- waits in the kernel's socket
    buffer (TCP flow control), not in the process. When the call keeps up, a read waits
    before the bytes come and nothing pauses. (Reading whatever came was ~2.9 KB of
    every stream at the peak of 2,000 streams starting at once, before their first
    token.)

    The read timeout is a lazy timer: a read records its deadline, and one timer handle,
    armed at most once per timeout period, checks it when it fires (re-arming for a
    later deadline, failing the read if it is still waiting past its own). A timer
    handle per read -- created, pushed on the loop's heap, cancelled -- was the largest
    cost of the transport at a thousand concurrent streams.

    A read may **rest** first (``rest`` seconds, the binding's ``read_interval``):
    reading from the socket pauses, so what the server sends meanwhile waits in the
    kernel's socket buffer (bounded: TCP flow control; under TLS, asyncio's own bounded
    buffer) and arrives in one wake-up instead of one per token. The rest ends early when
    the read ends otherwise (cancelled, connection lost), and a read whose deadline is
    less than two rests away does not rest at all: whatever waited in the socket is read
    a whole rest before the deadline is checked, so a rest never counts as the server's
    silence.

    Slotted, and the buffer a list (a read takes all of it): a deque's first block and
    an instance dict were ~750 bytes of every open connection.
    """

    __slots__ = (
        "_buffer",
        "_chunks",
        "_deadline",
        "_eof",
        "_error",
        "_paused",
        "_resting",
        "_timer",
        "_waiter",
        "loop",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self._chunks: list[bytes] = []
        self._paused = False
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[bytes] | None = None
        self._deadline = 0.0  # of the read waiting now, on the loop's clock
        self._timer: asyncio.TimerHandle | None = None
        self._resting: asyncio.TimerHandle | None = None  # ends the rest of the waiting read
        self._buffer = _read_buffer()

    # --- called by the transport ---------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer  # filled, then handed to buffer_updated, at once

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        """``data`` arrived (from :meth:`buffer_updated`)."""
        self._chunks.append(data)
        waiter = self._waiter
        if waiter is not None:
            self._answer(waiter)
        elif not self._paused and self.transport is not None:
            # No read waits: what the server sends next waits in the kernel's socket
            # buffer until one does, not in ours (see the class docstring).
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._error = exc
        self._disarm()  # the handle would keep this protocol alive until it fires
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._answer(waiter)

    def _answer(self, waiter: asyncio.Future[bytes]) -> None:
        """End the read ``waiter`` with what is here (see :meth:`receive`); a read
        cancelled meanwhile is only forgotten."""
        self._waiter = None
        if self._resting is not None:
            self._end_rest()
        if waiter.done():
            return
        chunks = self._chunks
        if chunks:
            waiter.set_result(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            chunks.clear()
            if self._paused and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
        elif self._error is not None:
            error = self._error
            failure = error if isinstance(error, OSError) else OSError(str(error))
            waiter.set_exception(io_failure(ERRORS, failure, "reading"))
        else:
            waiter.set_result(b"")

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(deadline, self._check_deadline, context=_TIMERS)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _end_rest(self) -> None:
        resting, self._resting = self._resting, None
        if resting is not None:
            resting.cancel()  # a no-op when it is what calls us
        transport = self.transport
        if not self._paused and transport is not None and not transport.is_closing():
            transport.resume_reading()

    def _check_deadline(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # no read waiting: the next one arms a timer of its own
        deadline = self._deadline
        if self.loop.time() < deadline:  # reads went on since: wait for this one's
            if deadline != _NEVER:
                self._arm(deadline)
        else:
            self._waiter = None
            if self._resting is not None:
                self._end_rest()
            waiter.set_exception(io_failure(ERRORS, TimeoutError(), "reading"))

    def _read_done(self, waiter: asyncio.Future[bytes]) -> None:
        """A resting read's done callback: a read cancelled while it rests ends the
        rest at once (reading resumes), not when the rest would have."""
        if waiter is self._waiter:
            self._waiter = None
            if self._resting is not None:
                self._end_rest()

    # --- called by the backend -----------------------------------------------------------
    def has_pending(self) -> bool:
        """Bytes buffered, or the end of stream (or an error) seen, and not yet read."""
        return bool(self._chunks) or self._eof

    def receive(self, timeout: float | None, rest: float = 0.0) -> asyncio.Future[bytes]:
        """What arrived since the last read, as a future (done at once when something
        is here; else waiting for it, at most ``timeout`` seconds); ``b""`` at the end
        of stream. A timeout or the connection's error is an
        :class:`~libchatty.bindings._ops.IOFailure`. With ``rest``, a read that finds
        nothing buffered first stops reading the socket for ``rest`` seconds (see the
        class docstring). A future, not a coroutine: thousands of streams wait in a
        read, and the future is all a waiting read holds -- the protocol's callbacks
        answer it (see :meth:`_answer`)."""
        waiter: asyncio.Future[bytes] = self.loop.create_future()
        if self._chunks or self._eof:
            self._answer(waiter)
            return waiter
        self._waiter = waiter
        if timeout is None:
            self._deadline = _NEVER  # an armed timer finds nothing to fail
        else:
            deadline = self._deadline = self.loop.time() + timeout
            timer = self._timer
            if timer is None or timer.when() > deadline:  # none, or too late for us
                self._arm(deadline)
        if rest and (timeout is None or timeout >= 2 * rest) and self.transport is not None:
            self.transport.pause_reading()
            self._resting = self.loop.call_later(rest, self._end_rest, context=_TIMERS)
            waiter.add_done_callback(self._read_done, context=_TIMERS)
        return waiter


class AsyncioConn:
    __slots__ = ("protocol", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: ChatProtocol) -> None:
        self.transport = transport
        self.protocol = protocol

    def abort(self) -> None:
        """Close now, from whichever loop (or none) we are on: a pooled connection may
        outlive the ``asyncio.run`` that opened it."""
        loop = self.protocol.loop
        if loop.is_closed():
            _close_under(self.transport)  # nothing can be scheduled on a closed loop
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None or running is loop:
            self.transport.abort()
        else:
            loop.call_soon_threadsafe(self.transport.abort)

    def waiting(self) -> bool:
        """Whether this idle connection cannot be reused: it belongs to another event
        loop (an earlier ``asyncio.run``), or bytes, an end of stream or an error wait
        on it (buffered by the protocol, or still in the socket)."""
        protocol = self.protocol
        try:
            if protocol.loop is not asyncio.get_running_loop():
                return True
        except RuntimeError:
            return True
        if self.transport.is_closing() or protocol.has_pending():
            return True
        sock = self.transport.get_extra_info("socket")
        return sock is None or waiting(sock)


def _close_under(transport: Any) -> None:
    """Close the socket under ``transport`` without its (closed) loop, which can no
    longer run the transport's own closing. asyncio keeps the socket in ``_sock`` of
    the innermost (selector) transport, under any TLS layer; emptying it is what the
    transport's own ``connection_lost`` step does, and keeps its ``__del__`` quiet."""
    while getattr(transport, "_ssl_protocol", None) is not None:
        transport = transport._ssl_protocol._transport
    raw = getattr(transport, "_sock", None)
    if isinstance(raw, socket.socket):
        raw.close()
        transport._sock = None
        return
    sock = transport.get_extra_info("socket")  # another loop's transport: shut it down
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
