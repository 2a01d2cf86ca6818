"""The request loop over an HTTP stack that frames HTTP itself (httpx, aiohttp): the
framed door of :class:`~libchatty.call.Call` driven by the one policy of
:class:`~libchatty.bindings._exchange.Exchange`.

:class:`FramedExchange` is the :class:`Exchange` (retries, the streaming fallback,
connect/idle/stall/total timeouts, typed errors: inherited unchanged) with another
attempt: instead of a connection it asks for the stack's response
(:class:`SendRequest` -> a :class:`Response`), feeds ``call.receive_head``, reads the
decoded body piece by piece (:class:`ReceiveBody`, ``b""`` at its end) into
``call.receive_body`` and ends with ``call.receive_end``. Connection pooling, HTTP/2,
proxies and TLS are the stack's: libchatty's :class:`~libchatty.bindings._pool.Pool`
is not used.

A :class:`Response` is the loop's connection (:class:`~libchatty.bindings._ops.Conn`):
``abort()`` releases it synchronously from any state. A stack whose release must be
awaited (httpx's ``AsyncClient``) starts it there and finishes it in its backend's
``settle()``, which :func:`~libchatty.bindings._runners.adrive` awaits when the loop
is over.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from libchatty.call import Call
from libchatty.callhead import HTTPRequest
from libchatty.events import Done, Error
from libchatty.request import ChatRequest

from . import _log
from ._exchange import _MAX_DRAIN, DRAIN_TIMEOUT, Exchange
from ._ops import Authenticate, Deliver, IOFailure, Sleep, _Op
from ._runners import AsyncBackend, SyncBackend
from ._transport import ExceptionTable, map_exceptions

__all__ = [
    "ConnectFailure",
    "FramedAsyncBackend",
    "FramedExchange",
    "FramedSyncBackend",
    "ReceiveBody",
    "Response",
    "SendRequest",
    "sending",
]


class Response(Protocol):
    """A response whose head has arrived: ``status``, ``headers`` (anything
    :meth:`Call.receive_head` takes), and ``abort()``: release it now (the stack keeps
    the connection only when the body was read to its end)."""

    status: int
    headers: Any

    def abort(self) -> None: ...


class SendRequest(_Op):
    """Send ``request`` and wait for the response head -> a :class:`Response`.
    ``connect``: seconds to get a connection; ``read``: seconds allowed for each read,
    the head's and (for a stack that fixes it per response) the body's."""

    __slots__ = ("connect", "read", "request")

    def __init__(self, request: HTTPRequest, connect: float | None, read: float | None) -> None:
        self.request = request
        self.connect = connect
        self.read = read


class ReceiveBody(_Op):
    """The next piece of ``response``'s decoded body -> ``bytes`` (``b""``: its end), or
    None when the peer ended it before its framing said (closed mid-chunk, reset the
    HTTP/2 stream): the framed door's ``receive_end(False)``, the raw door's early EOF."""

    __slots__ = ("response", "timeout")

    def __init__(self, response: Response, timeout: float | None) -> None:
        self.response = response
        self.timeout = timeout


class ConnectFailure(IOFailure):
    """An :class:`IOFailure` before the request left: no connection was made."""


@contextmanager
def sending(connect_errors: ExceptionTable, errors: ExceptionTable, where: str) -> Iterator[None]:
    """Map the exceptions of sending a request: ``connect_errors`` (the stack's "could
    not connect") to :class:`ConnectFailure`, the rest of ``errors`` to
    :class:`IOFailure`."""
    with map_exceptions(errors, "sending the request"):
        try:
            with map_exceptions(connect_errors, f"connecting to {where}"):
                yield
        except IOFailure as exc:
            if type(exc) is IOFailure:
                raise ConnectFailure(exc.kind, exc.message, exc.retryable) from None
            raise


# --- the backends: the two framed operations and a sleep ---------------------------------


def _not_raw(*_: Any) -> Any:
    raise TypeError("a framed backend has no raw connections")


class FramedSyncBackend(SyncBackend):
    """Blocking framed I/O: :meth:`send_request`, :meth:`receive_body`, :meth:`sleep`.
    The raw operations of :class:`SyncBackend` are refused."""

    connect = start_tls = send = receive = probe = _not_raw  # type: ignore[assignment]

    def perform(self, op: Any) -> Any:  # the framed ops are not in the loop's Op union
        kind = type(op)
        if kind is ReceiveBody:
            return self.receive_body(op.response, op.timeout)
        if kind is SendRequest:
            return self.send_request(op.request, op.connect, op.read)
        if kind is Sleep:
            return self.sleep(op.seconds)
        if kind is Authenticate:
            return self.authenticate(op.source)
        raise TypeError(f"unknown operation {op!r}")

    @abstractmethod
    def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    @abstractmethod
    def receive_body(self, response: Any, timeout: float | None) -> bytes | None: ...


class FramedAsyncBackend(AsyncBackend):
    """:class:`FramedSyncBackend` with ``await``, and :meth:`settle`."""

    connect = start_tls = send = receive = probe = _not_raw  # type: ignore[assignment]

    async def perform(self, op: Any) -> Any:
        kind = type(op)
        if kind is ReceiveBody:
            return await self.receive_body(op.response, op.timeout)
        if kind is SendRequest:
            return await self.send_request(op.request, op.connect, op.read)
        if kind is Sleep:
            return await self.sleep(op.seconds)
        if kind is Authenticate:
            return await self.authenticate(op.source)
        raise TypeError(f"unknown operation {op!r}")

    @abstractmethod
    async def send_request(
        self, request: HTTPRequest, connect: float | None, read: float | None
    ) -> Response: ...

    @abstractmethod
    async def receive_body(self, response: Any, timeout: float | None) -> bytes | None: ...


# --- the loop ------------------------------------------------------------------------------


class FramedExchange(Exchange):
    """:class:`Exchange` over a framing stack; see the module docstring. ``pool`` is
    not used (the stack pools its connections)."""

    # Yields Any: SendRequest/ReceiveBody are not in the raw loop's closed Op union.
    def _attempt(
        self, request: ChatRequest, reuse: bool
    ) -> Generator[Any, Any, tuple[Done | Error, bool]]:
        endpoint = self.config.endpoint
        if self.config.credentials is not None:  # expiring cloud credentials: current ones
            authenticated = yield from self._authenticate()
            if isinstance(authenticated, Error):
                return authenticated, False
            endpoint = authenticated
        call = self.call = Call(endpoint, request, **self._call_options())
        self._stall_deadline = None
        self._stalled = False
        timeout = self.config.timeout
        stall = timeout.stall if request.stream else None
        http_request = call.http_request()
        _log.debug("request %s (provider %s)", http_request.method,
                   self.config.provider or self.config.endpoint.dialect)
        try:
            read = self._timeout(timeout.idle if stall is None else _least(timeout.idle, stall))
            response: Response = yield SendRequest(
                http_request, self._timeout(timeout.connect), read
            )
        except IOFailure as exc:
            self._drop()
            connecting = isinstance(exc, ConnectFailure)
            return self._failure(exc, call, connecting=connecting), not connecting
        self._conn = response
        self.requests += 1
        if stall is not None:
            self._stall_deadline = self.runtime.clock() + stall
        try:
            events = call.receive_head(response.status, response.headers)
            while True:
                if events:
                    last = events[-1]
                    if type(last) is Error:
                        self._drop()
                        if len(events) > 1:
                            self._note_delivery(events)
                            yield Deliver(events[:-1])
                        _log.debug("response status %s: %s", call.status, last.kind)
                        return last, True
                    self._note_delivery(events)
                    if type(last) is Done:
                        self.terminal = last
                        _log.debug("response status %s: done", call.status)
                        yield Deliver(events)
                        yield from self._drain_body(response)
                        return last, True
                    if stall is not None:
                        self._stall_deadline = self.runtime.clock() + stall
                    yield Deliver(events)
                if not call.wants_data:
                    break
                data: bytes | None = yield ReceiveBody(
                    response, self._read_timeout(timeout.idle)
                )
                if data:
                    events = call.receive_body(data)
                    data = b""  # not kept alive while waiting for the next piece
                else:
                    events = call.receive_end(data is not None)
        except IOFailure as exc:
            self._drop()
            return self._failure(exc, call, connecting=False), True
        self._drop()  # defensive: a Call always ends with a terminal event
        return Error("protocol", "the response ended without a result", partial=call.text), True

    def _drain_body(self, response: Response) -> Generator[Any, Any, None]:
        """After ``Done`` (delivered): read the rest of the body, bounded in time and
        size as the raw loop's drain, so that the stack may keep the connection."""
        call = self.call
        assert call is not None
        drained = 0
        give_up = self.runtime.clock() + DRAIN_TIMEOUT
        try:
            while call.wants_data and drained <= _MAX_DRAIN:
                left = give_up - self.runtime.clock()
                if left <= 0:
                    break
                data: bytes | None = yield ReceiveBody(response, min(left, DRAIN_TIMEOUT))
                if not data:
                    call.receive_end(data is not None)
                    break
                drained += len(data)
                call.receive_body(data)
        except IOFailure:
            pass  # the answer is complete; only the connection is lost
        self._drop()


def _least(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None or a < b else b

