"""One attempt of an exchange: one request on one connection, as a **sans-I/O
generator** (the operations of :mod:`~libchatty.bindings._ops`).

:class:`Attempts` is the part of :class:`~libchatty.bindings._exchange.Exchange` that
sends a request once and reads its answer; the exchange adds the policy over attempts
(retries, the streaming fallback, a stale pooled connection). One attempt:

* connects (through an HTTPS proxy with ``CONNECT`` when configured; TLS after), or takes
  an idle keep-alive connection from the :class:`Pool` (keyed by scheme, host, port);
* sends ``call.start()``, reads, feeds :meth:`Call.receive_data`, delivers events;
* after ``Done``, reads the rest of the body (if any) and returns the connection to the
  pool only when the call says it is :attr:`~libchatty.call.Call.reusable`; a response
  not read to its end is never reused;
* cuts every wait to the connect/idle/stall timeouts and what is left of the total, and
  maps I/O failures to ``Error("connection")``/``Error("timeout")`` carrying the partial
  text.

The read loop (:meth:`Attempts._attempt`) is the per-read path of every binding: it
makes no call per read beyond feeding the call, and reads the clock only when a total or
stall timeout runs. When none runs, once streamed output was delivered it hands the body
to the runner (:class:`~libchatty.bindings._ops.Relay`), which reads, feeds and delivers
without a round trip through this loop per read until something else comes: a terminal
event, a read that completes no event, the body's end, a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final

from libchatty.call import Call
from libchatty.events import Delta, Done, Error, Event
from libchatty.request import ChatRequest

from . import _log  # DEBUG records; logging itself is imported only by the application
from ._config import ClientConfig
from ._ops import (
    Authenticate,
    Conn,
    Connect,
    ConnectFailure,
    Deliver,
    IOFailure,
    Op,
    Probe,
    Receive,
    Relay,
    Runtime,
    Send,
    StartTLS,
)
from ._pool import Pool, PoolKey

if TYPE_CHECKING:
    from datetime import datetime

    from libchatty.endpoint import Endpoint

__all__ = ["DRAIN_TIMEOUT", "Attempts", "Stale"]

# Bytes read after Done to reach the end of the body for reuse; a server that keeps
# talking past this is not worth the wait, the connection is closed instead.
_MAX_DRAIN: Final = 256 * 1024
#: Seconds spent, at most, reading the end of a body after ``Done`` was delivered, to
#: keep its connection: the end (``0\r\n\r\n``) normally comes with ``[DONE]``. A server
#: that keeps the body open longer loses the connection; ``chat()`` and ``stream()``
#: never wait more than this past ``Done``.
DRAIN_TIMEOUT: Final = 0.25


class Stale(Exception):
    """A pooled connection turned out to be closed before any byte of the response."""


class Attempts:
    """Attempts of one exchange at its endpoint, one at a time: :meth:`_attempt` sends a
    request once. Subclasses (:class:`~libchatty.bindings._framed.FramedExchange`) send
    and feed otherwise by overriding :meth:`_send`, :meth:`_receiver`, :meth:`_end` and
    :meth:`_release`.

    State kept across attempts: ``call`` the last :class:`~libchatty.call.Call` (its
    ``text`` is the answer so far), ``terminal`` the ``Done`` once one was delivered,
    ``delivered`` whether a ``Delta`` was delivered, ``requests`` how many requests were
    sent; and the connection in use, closed by :meth:`_drop`. The owner sets
    ``_deadline`` (the clock's time the total timeout ends) before the first attempt.
    """

    # Slotted: thousands of concurrent calls each hold one (an instance dict cost ~100
    # bytes of each).
    __slots__ = (
        "_conn",
        "_deadline",
        "_stall_deadline",
        "_stalled",
        "call",
        "config",
        "delivered",
        "pool",
        "requests",
        "runtime",
        "terminal",
    )

    def __init__(self, config: ClientConfig, pool: Pool, runtime: Runtime) -> None:
        self.config = config
        self.pool = pool
        self.runtime = runtime
        self.call: Call | None = None
        self.terminal: Done | Error | None = None
        self.delivered = False
        self.requests = 0
        self._conn: Conn | None = None
        self._deadline: float | None = None
        self._stall_deadline: float | None = None
        self._stalled = False

    @property
    def key(self) -> PoolKey:
        """Where the pool keeps this endpoint's connections (made when asked for: a few
        times per call, and not held by each of thousands of waiting calls)."""
        endpoint = self.config.endpoint
        return (endpoint.scheme, endpoint.host, endpoint.port)

    def _now(self) -> datetime:
        """The wall-clock time as an aware UTC datetime (the runtime's clock). Only
        signing, expiring credentials and rate-limit resets need one: ``datetime`` is
        imported then, not by every program."""
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self.runtime.wall_clock(), timezone.utc)

    def _drop(self) -> None:
        """Close the connection in use, if any (the exchange's ``finally`` calls this
        whatever ended it)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()

    # --- one request ----------------------------------------------------------------------
    def _pooled(self) -> Generator[Op, Any, Conn | None]:
        """An idle pooled connection with nothing waiting on it, or None. One that has
        bytes or an end of stream waiting is closed (see :class:`Probe`)."""
        while True:
            conn = self.pool.take(self.key)
            if conn is None:
                return None
            self._conn = conn  # closed by run()'s finally if stopped while probing
            dirty: bool = yield Probe(conn)
            if not dirty:
                _log.debug("reusing a pooled connection to %s:%s", self.key[1], self.key[2])
                return conn
            _log.debug("discarding a pooled connection to %s:%s: unexpected data or end of "
                       "stream waiting on it", self.key[1], self.key[2])
            self._drop()

    def _attempt(
        self, request: ChatRequest, reuse: bool
    ) -> Generator[Op, Any, tuple[Done | Error, bool]]:
        """Send ``request`` once (on a pooled connection when ``reuse``). Returns the
        terminal event and whether the request was sent; raises :class:`Stale` when a
        pooled connection turns out dead before any byte of the response.

        The request goes out with :meth:`_send`, the body is fed with :meth:`_receiver`
        and :meth:`_end`, and the connection is kept or not with :meth:`_release`: the
        four things a :class:`~libchatty.bindings._framed.FramedExchange` does otherwise.
        """
        endpoint = self.config.endpoint
        if self.config.credentials is not None:
            authenticated = yield from self._authenticate()
            if isinstance(authenticated, Error):
                return authenticated, False
            endpoint = authenticated
        call = self.call = Call(endpoint, request, **self._call_options(endpoint))
        self._stall_deadline = None
        self._stalled = False
        idle = self.config.timeout.idle
        # The stall timer (opt-in) runs from the response's first bytes, on a streaming
        # request, and only a read that brings a Delta resets it: keep-alive comments and
        # pings keep the idle timer happy, not this one.
        stall = self.config.timeout.stall if request.stream else None
        got_bytes = reused = False
        try:
            head, reused = yield from self._send(call, reuse)
            got_bytes = head is not None
            if got_bytes and stall is not None:
                self._stall_deadline = self.runtime.clock() + stall
            events = head or []
            conn = self._conn
            assert conn is not None  # _send connected, or raised
            receive = self._receiver(call)
            read = Receive(conn, idle)  # the read while no clock runs: always the same
            while True:
                if events:
                    last = events[-1]
                    if type(last) is Error:
                        self._release(call, conn)  # an error body read to its end is reusable
                        if len(events) > 1:
                            self._note_delivery(events)
                            yield Deliver(events[:-1])
                        _log.debug("response status %s: %s", call.status, last.kind)
                        return last, True
                    if not self.delivered:
                        self._note_delivery(events)
                    if type(last) is Done:
                        self.terminal = last
                        _log.debug("response status %s: done", call.status)
                        yield Deliver(events)
                        yield from self._drain(call, conn, receive)
                        return last, True
                    if stall is not None:
                        self._stall_deadline = self.runtime.clock() + stall
                    yield Deliver(events)
                    # Delivered: not kept while waiting (thousands of streams wait); every
                    # way on assigns events anew before reading it.
                    del events
                    if self._deadline is None and self._stall_deadline is None:
                        # No clock runs: the runner relays the body until something
                        # other than streamed output comes (see Relay). Bytes came.
                        relayed = yield Relay(read, receive)
                        events = relayed if type(relayed) is list else self._end(call, relayed)
                        continue
                if not call.wants_data:
                    break
                if self._deadline is None and self._stall_deadline is None:
                    wait = idle  # no clock to read: the common case, once per read
                else:
                    wait = self._read_timeout(idle)
                data: bytes | None = yield Receive(conn, wait)
                if data:
                    if not got_bytes:
                        got_bytes = True
                        if stall is not None:
                            self._stall_deadline = self.runtime.clock() + stall
                    events = receive(data)
                    data = b""  # not kept alive while waiting: thousands of streams wait
                else:
                    if reused and not got_bytes:
                        raise Stale
                    events = self._end(call, data)
        except IOFailure as exc:
            self._drop()
            if reused and not got_bytes:
                raise Stale from None
            connecting = type(exc) is ConnectFailure
            return self._failure(exc, call, connecting=connecting), not connecting
        self._drop()  # defensive: a Call always ends with a terminal event
        return Error("protocol", "the response ended without a result", partial=call.text), True

    def _send(
        self, call: Call, reuse: bool
    ) -> Generator[Op, Any, tuple[list[Event] | None, bool]]:
        """Send the request on a connection (``self._conn``, a pooled one when ``reuse``
        and there is one): returns the events of the response head (None: nothing was
        received yet, as here) and whether the connection was a pooled one. Raises
        :class:`ConnectFailure` when no connection could be made, :class:`Stale` when
        a pooled one turns out dead."""
        conn = (yield from self._pooled()) if reuse else None
        reused = conn is not None
        if conn is None:
            try:
                conn = yield from self._open(call)
            except IOFailure as exc:
                raise ConnectFailure.of(exc) from None
        self._conn = conn
        self.requests += 1
        head = call.start()
        if _log.debug_enabled():
            _log.debug("request %s (provider %s)", _log.request_line(head),
                       self.config.provider or self.config.endpoint.dialect)
        try:
            yield Send(conn, head, self._timeout(self.config.timeout.idle))
        except IOFailure:
            if reused:
                raise Stale from None
            raise
        return None, reused

    def _receiver(self, call: Call) -> Callable[[bytes], list[Event]]:
        """What is fed the bytes read (never ``b""``)."""
        return call.receive_data

    def _end(self, call: Call, data: bytes | None) -> list[Event]:
        """Feed the end of the bytes: ``data`` is what the read returned for it."""
        return call.receive_data(b"")

    def _authenticate(self) -> Generator[Op, Any, Endpoint | Error]:
        """With credentials that expire (``config.credentials``, see
        :mod:`~libchatty.bindings._credentials`): the endpoint for the next attempt, with
        credentials good now -- refreshed through an :class:`Authenticate` operation
        when they are not -- or ``Error("auth")`` when they cannot be had."""
        from ._credentials import CredentialsError  # only clients with such credentials

        source = self.config.credentials
        assert source is not None
        try:
            endpoint = source.current(self._now())
            if endpoint is None:
                endpoint = yield Authenticate(source)
        except CredentialsError as exc:
            return Error("auth", str(exc), retryable=False)
        return endpoint

    def _call_options(self, endpoint: Endpoint) -> dict[str, Any]:
        """Keyword arguments for :class:`Call`: the current time when ``endpoint`` signs
        its requests (a fresh one per attempt: AWS credentials sign with it; nothing else
        reads it), and the credentials the client sends besides the endpoint's (the
        proxy's), so that the core redacts them from server text."""
        options: dict[str, Any] = {}
        if endpoint.aws_credentials is not None:
            options["now"] = self._now()
        proxy = self.config.proxy
        if proxy is not None and proxy.authorization is not None:
            from ._proxy import proxy_secrets  # loaded already: it made the proxy

            options["secrets"] = proxy_secrets(proxy.authorization)
        return options

    def _note_delivery(self, events: list[Event]) -> None:
        if not self.delivered:
            for event in events:
                if type(event) is Delta:
                    self.delivered = True
                    break

    def _drain(
        self, call: Call, conn: Conn, receive: Callable[[bytes], list[Event]]
    ) -> Generator[Op, Any, None]:
        """After ``Done`` (already delivered): read the end of the body so the connection
        can be reused -- at most :data:`DRAIN_TIMEOUT` seconds and :data:`_MAX_DRAIN`
        bytes; a server slower or chattier than that costs its connection, not the
        caller's time."""
        drained = 0
        give_up = self.runtime.clock() + DRAIN_TIMEOUT
        try:
            while call.wants_data and drained <= _MAX_DRAIN:
                left = give_up - self.runtime.clock()
                if left <= 0:
                    break
                data: bytes | None = yield Receive(conn, min(left, DRAIN_TIMEOUT))
                if not data:
                    self._end(call, data)
                    break
                drained += len(data)
                receive(data)
        except IOFailure:
            pass  # the answer is complete; only the connection is lost
        self._release(call, conn)

    def _release(self, call: Call, conn: Conn) -> None:
        """Back to the pool if the response was read to its end, else close."""
        if call.reusable and not call.wants_data:
            self._conn = None
            self.pool.put(self.key, conn)
        else:
            _log.debug("closing the connection to %s:%s: the response was not read to its "
                       "end or the server asked to close", self.key[1], self.key[2])
            self._drop()

    # --- connecting -----------------------------------------------------------------------
    def _open(self, call: Call) -> Generator[Op, Any, Conn]:
        timeout = self._timeout(self.config.timeout.connect)
        proxy = self.config.proxy
        if proxy is None:
            conn: Conn = yield Connect(call.host, call.port, timeout)
            self._conn = conn
        else:
            from ._proxy import open_tunnel  # loaded already: it made the proxy

            conn = yield Connect(proxy.host, proxy.port, timeout)
            self._conn = conn
            yield from open_tunnel(conn, call.host, call.port, proxy, timeout)
        if call.tls:
            conn = yield StartTLS(conn, call.host, self._timeout(self.config.timeout.connect))
            self._conn = conn
        return conn

    # --- timeouts and errors --------------------------------------------------------------
    def _timeout(self, phase: float | None) -> float | None:
        """The wait allowed for one operation: the phase's timeout, cut to what is left
        of the total. Raises ``IOFailure("timeout")`` once the total is used up."""
        deadline = self._deadline
        if deadline is None:
            return phase
        left = deadline - self.runtime.clock()
        if left <= 0:
            raise IOFailure("timeout", "", retryable=False)
        return left if phase is None or left < phase else phase

    def _read_timeout(self, idle: float | None) -> float | None:
        """:meth:`_timeout` for a read of the response, also cut to what is left of the
        stall timer when it runs."""
        wait = self._timeout(idle)
        stall = self._stall_deadline
        if stall is None:
            return wait
        left = stall - self.runtime.clock()
        if left <= 0:
            self._stalled = True
            raise IOFailure("timeout", "", retryable=False)
        # Which timer cut this read decides what a timeout is called (a clock may wake
        # a hair early, so "now >= deadline" alone cannot tell).
        self._stalled = wait is None or left < wait
        return left if self._stalled else wait

    def _failure(self, exc: IOFailure, call: Call, *, connecting: bool) -> Error:
        timeout = self.config.timeout
        message = exc.message
        retryable = exc.retryable
        if exc.kind == "timeout":
            deadline = self._deadline
            stall = self._stall_deadline
            now = self.runtime.clock()
            if deadline is not None and now >= deadline - 1e-9:
                message = f"the call took longer than the total timeout ({timeout.total} s)"
                retryable = False
            elif stall is not None and (self._stalled or now >= stall - 1e-9):
                message = f"no content from the server for {timeout.stall} s (stall timeout)"
                retryable = False  # the server is there and answering, only too slowly
            elif connecting:
                message = (
                    f"connecting to {call.host}:{call.port} took longer than the connect "
                    f"timeout ({timeout.connect} s)"
                )
            else:
                message = f"no data from the server for {timeout.idle} s (idle timeout)"
        return Error(
            exc.kind,
            message,
            status=call.status,
            retryable=retryable,
            partial=call.text,
        )
