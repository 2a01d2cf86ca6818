"""The request loop over an HTTP stack that frames HTTP itself (httpx, aiohttp): the
framed door of :class:`~libchatty.call.Call` driven by the one policy of
:class:`~libchatty.bindings._exchange.Exchange`.

:class:`FramedExchange` is the :class:`Exchange` (retries, the streaming fallback,
connect/idle/stall/total timeouts, the body loop, typed errors: inherited unchanged)
with another way to send and feed: instead of a connection it asks for the stack's
response (:class:`~libchatty.bindings._ops.SendRequest` -> a :class:`Response`), feeds
``call.receive_head``, reads the decoded body piece by piece
(:class:`~libchatty.bindings._ops.Receive` on the response, ``b""`` at its end, None
when cut short) into ``call.receive_body`` and ends with ``call.receive_end``.
Connection pooling, HTTP/2, proxies and TLS are the stack's: libchatty's
:class:`~libchatty.bindings._pool.Pool` is not used.

A :class:`Response` is the loop's connection (:class:`~libchatty.bindings._ops.Conn`):
``abort()`` releases it synchronously from any state. A stack whose release must be
awaited (httpx's ``AsyncClient``) starts it there and finishes it in its backend's
``settle()``, which :func:`~libchatty.bindings._runners.adrive` awaits when the loop
is over.

The reads are written here once, their deadlines too (``within``: asyncio's, or
anyio's for a stack that runs on trio): a stack's backend names its exceptions
(``cut_short``, ``read_errors``) and sends the request. :class:`Memo` keeps what a stack
would otherwise rebuild for every request (httpx's parsed URL and headers).
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from libchatty.call import Call
from libchatty.callhead import HTTPRequest
from libchatty.events import Event

from . import _log
from ._exchange import Exchange
from ._ops import ConnectFailure, Op, Receive, SendRequest
from ._runners import AsyncBackend, SyncBackend
from ._transport import ExceptionTable, io_failure, map_exceptions

if TYPE_CHECKING:
    from ._ops import Conn

__all__ = [
    "FramedAsyncBackend",
    "FramedExchange",
    "FramedSyncBackend",
    "Memo",
    "Response",
    "sending",
]

K = TypeVar("K")
V = TypeVar("V")


class Response(ABC):
    """A response whose head has arrived, as the loop's connection: ``status``,
    ``headers`` (anything :meth:`Call.receive_head` takes), ``next_piece`` (the stack's
    read of the next piece of the decoded body: ``b""`` or ``StopIteration`` /
    ``StopAsyncIteration`` at its end; awaitable for an async stack) and ``read`` (the
    seconds the stack allows each read by itself, fixed when the request was sent; None:
    no limit)."""

    __slots__ = ("headers", "next_piece", "read", "status")

    #: True when ``next_piece`` answers ``b""`` at the body's end (never a
    #: ``StopAsyncIteration``): the read after a delivery may then be the stack's own
    #: awaitable (:meth:`FramedAsyncBackend.receive_next`).
    ends_with_empty: ClassVar[bool] = False

    def __init__(
        self, status: int, headers: Any, next_piece: Callable[[], Any], read: float | None
    ) -> None:
        self.status = status
        self.headers = headers
        self.next_piece = next_piece
        self.read = read

    @abstractmethod
    def abort(self) -> None:
        """Release it now, synchronously, from any state (the stack keeps the
        connection only when the body was read to its end)."""

    def ready(self) -> bool:
        """True when the next read cannot wait (the stack holds the body's end): it then
        needs no deadline. False when the stack cannot tell."""
        return False


class sending(map_exceptions):  # lower case: called like the function it replaced
    """Map the exceptions of sending ``request``: ``connect_errors`` (the stack's "could
    not connect") to :class:`ConnectFailure`, the rest of ``errors`` to
    :class:`IOFailure`. A slotted class: a ``@contextmanager`` generator cost every call
    four times as much."""

    __slots__ = ("connect_errors", "request")

    def __init__(
        self, connect_errors: ExceptionTable, errors: ExceptionTable, request: HTTPRequest
    ) -> None:
        super().__init__(errors, "sending the request")
        self.connect_errors = connect_errors
        self.request = request

    def __exit__(self, *exc_info: Any) -> Literal[False]:
        exc: BaseException | None = exc_info[1]
        connect_errors = self.connect_errors
        if exc is not None and isinstance(exc, tuple(connect_errors)):
            failure = io_failure(connect_errors, exc, f"connecting to {_where(self.request)}")
            raise ConnectFailure.of(failure) from None
        return super().__exit__(*exc_info)


def _where(request: HTTPRequest) -> str:
    """``host[:port]`` of ``request``, for messages (never a URL's credentials)."""
    from urllib.parse import urlsplit

    return urlsplit(request.url).netloc.rpartition("@")[2]


class Memo(Generic[K, V]):
    """``make(key)``, remembered for the last ``key`` (``==``): a framed stack is handed
    the same URL and headers call after call, and would parse or check them anew each
    time. One entry, swapped whole: safe when threads share the client."""

    __slots__ = ("_last", "_make")

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._last: tuple[K, V] | None = None

    def __call__(self, key: K) -> V:
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        made = self._make(key)
        self._last = (key, made)
        return made


# --- the backends: the two framed operations and a sleep ---------------------------------


def _not_raw(*_: Any) -> Any:
    raise TypeError("a framed backend has no raw connections")


class _FramedReads:
    """What a framed backend's reads have in common: the stack's exceptions."""

    #: The stack's exception for a body the peer ended before its framing said (closed
    #: mid-chunk, reset the HTTP/2 stream): the read answers None.
    cut_short: ClassVar[type[Exception]]
    #: The stack's read failures, as :class:`IOFailure` kinds.
    read_errors: ClassVar[ExceptionTable]

    def _raise_read_failure(self, exc: BaseException) -> None:
        """Raise ``exc`` as an :class:`IOFailure`, unless it says that the peer cut the
        body short (the read then answers None)."""
        if not isinstance(exc, self.cut_short):
            raise io_failure(self.read_errors, exc, "reading") from None


class FramedSyncBackend(_FramedReads, SyncBackend):
    """Blocking framed I/O: :meth:`send_request`, :meth:`receive` (of a
    :class:`Response`'s body), :meth:`sleep`. The raw operations are refused."""

    connect = start_tls = send = probe = _not_raw  # type: ignore[assignment]

    @abstractmethod
    def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    def receive(self, conn: Response, timeout: float | None) -> bytes | None:
        # The stack's own read timeout; the loop checks its deadlines between reads.
        try:
            return conn.next_piece()  # type: ignore[no-any-return]
        except StopIteration:
            return b""
        except tuple(self.read_errors) as exc:  # try/except: cheaper than a context manager
            self._raise_read_failure(exc)
            return None


class FramedAsyncBackend(_FramedReads, AsyncBackend):
    """:class:`FramedSyncBackend` with ``await``, :meth:`settle`, and :meth:`within`."""

    connect = start_tls = send = probe = _not_raw  # type: ignore[assignment]

    @abstractmethod
    async def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    def perform(self, op: Op) -> Coroutine[Any, Any, Any]:
        # A read is its own coroutine, not one inside perform's: every wake-up of a
        # waiting read passes through each frame of the await chain.
        if type(op) is Receive:
            return self.receive(op.conn, op.timeout)  # type: ignore[arg-type]  # a Response
        return super().perform(op)

    #: Whether the stack may run on trio as well, through anyio (httpx).
    anyio: ClassVar[bool] = False

    async def within(self, piece: Awaitable[bytes], timeout: float) -> bytes:
        """``await piece``, in at most ``timeout`` seconds (else ``TimeoutError``, one of
        :attr:`read_errors`): asyncio's deadline for the running task -- not a task per
        read (``wait_for`` makes one before Python 3.12), nor anyio's cancel scope (ten
        times the work, once per call for the read after ``Done``) -- unless the stack
        runs on anyio and asyncio is not what runs it: then anyio's, which serves both."""
        if self.anyio and not _asyncio_runs():
            import anyio

            with anyio.fail_after(timeout):
                return await piece
        import asyncio  # loaded: an asyncio stack is running

        if sys.version_info < (3, 11):
            try:
                return await asyncio.wait_for(piece, timeout)
            except asyncio.TimeoutError:  # not the built-in TimeoutError before 3.11
                raise TimeoutError("the read took longer than its deadline") from None
        async with asyncio.timeout(timeout):
            return await piece

    async def receive(self, conn: Response, timeout: float | None) -> bytes | None:
        try:
            if (
                timeout is None
                or (conn.read is not None and timeout >= conn.read)
                or conn.ready()  # the body's end is there (the read after Done, as a rule)
            ):
                return await conn.next_piece()  # type: ignore[no-any-return]
            # The stall or total deadline is nearer than the stack's own read timeout.
            return await self.within(conn.next_piece(), timeout)
        except StopAsyncIteration:
            return b""
        except tuple(self.read_errors) as exc:
            self._raise_read_failure(exc)
            return None

    def receive_next(self, conn: Response, timeout: float | None) -> Awaitable[bytes | None]:
        """The read after a delivery (every read of a relay: a framed stack never rests).
        The stack's own awaitable when the stack's read timeout is the nearest deadline
        and its body ends with ``b""`` -- no coroutine of ours per piece; the runner hands
        its failures to :meth:`read_failed` --, else :meth:`receive`."""
        if conn.ends_with_empty and (
            timeout is None or (conn.read is not None and timeout >= conn.read)
        ):
            return conn.next_piece()  # type: ignore[no-any-return]
        return self.receive(conn, timeout)

    def read_failed(self, exc: BaseException) -> bytes | None:
        """:meth:`receive`'s mapping of the stack's read failures, for a read
        :meth:`receive_next` left to the stack."""
        if isinstance(exc, tuple(self.read_errors)):
            self._raise_read_failure(exc)
            return None  # the peer cut the body short
        raise exc


# --- the loop ------------------------------------------------------------------------------


class FramedExchange(Exchange):
    """:class:`Exchange` over a framing stack; see the module docstring. ``pool`` is
    not used (the stack pools its connections)."""

    def _send(
        self, call: Call, reuse: bool
    ) -> Generator[Op, Any, tuple[list[Event] | None, bool]]:
        timeout = self.config.timeout
        stall = timeout.stall if call.request.stream else None
        http_request = call.http_request()
        _log.debug("request %s (provider %s)", http_request.method,
                   self.config.provider or self.config.endpoint.dialect)
        # The head's read waits no longer than the stall timer, which starts with it.
        read = self._timeout(_least(timeout.idle, stall))
        response: Response = yield SendRequest(http_request, self._timeout(timeout.connect), read)
        self._conn = response
        self.requests += 1
        return call.receive_head(response.status, response.headers), False

    def _receiver(self, call: Call) -> Callable[[bytes], list[Event]]:
        return call.receive_body

    def _end(self, call: Call, data: bytes | None) -> list[Event]:
        return call.receive_end(data is not None)

    def _release(self, call: Call, conn: Conn) -> None:
        self._drop()  # the stack keeps the connection when the body was read to its end


def _asyncio_runs() -> bool:
    """Whether asyncio runs the current task, as anyio tells: by sniffio, which trio sets
    while it runs (trio imports it: without it, trio is not running)."""
    sniffio = sys.modules.get("sniffio")
    return sniffio is None or sniffio.current_async_library() == "asyncio"


def _least(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None or a < b else b
