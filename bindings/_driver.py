"""The request loop, written once for every binding.

Shape: the policy loop is a **sans-I/O generator** (:meth:`Exchange.run`). It yields the
I/O it wants done -- :class:`Connect`, :class:`StartTLS`, :class:`Send`,
:class:`Receive`, :class:`Sleep` -- and is sent the result; it yields :class:`Deliver` to
hand events to the caller. A *runner* performs the operations: :func:`drive` with a
blocking :class:`SyncBackend` (sockets, used by the blocking and threads bindings) and
:func:`adrive` with an :class:`AsyncBackend` (trio, asyncio). Each backend is only its
five I/O calls, and maps its own exceptions to :class:`IOFailure` once, at that
boundary.

Why a generator rather than httpcore's unasync (async source + generated sync copy): the
loop is then plain code with no ``await`` at all, the sync and async runners are a dozen
lines each, nothing is generated or can drift, and the loop can be tested by sending it
results by hand (tests/test_driver.py) -- every timeout, failure and retry, without a
socket or a clock. The cost is one generator resume per read, which is noise next to
the read itself.

What the loop does, for one ``chat()``/``stream()`` call:

* connects (through an HTTPS proxy with ``CONNECT`` when configured; TLS after), or takes
  an idle keep-alive connection from the :class:`Pool` (keyed by scheme, host, port);
* sends ``call.start()``, reads, feeds :meth:`Call.receive_data`, delivers events;
* after ``Done``, reads the rest of the body (if any) and returns the connection to the
  pool only when the call says it is :attr:`~libchatty.call.Call.reusable`; a response
  not read to its end is never reused;
* a pooled connection the server had already closed (nothing came back) is retried at
  once on a fresh connection, without counting as a retry;
* on an error before anything was delivered: falls back once to a non-streaming request
  when :func:`~libchatty.policy.should_fallback_to_non_streaming` says so, else retries
  per :func:`~libchatty.policy.should_retry` after :func:`~libchatty.policy.backoff_delay`
  (honouring ``retry_after``, bounded by the total timeout);
* maps I/O failures to ``Error("connection")``/``Error("timeout")`` carrying the partial
  text; the last event delivered is always the one ``Done`` or ``Error``;
* whatever ends it early -- a raising callback, cancellation, the caller leaving a stream
  -- closes the connection (the generator's ``finally``), and the exception goes on
  unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping, Sequence
from contextlib import asynccontextmanager
from logging import DEBUG
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import h11

from libchatty.call import Call
from libchatty.events import Delta, Done, Error, Event
from libchatty.exceptions import ChatError, LocalProtocolError
from libchatty.policy import backoff_delay, should_fallback_to_non_streaming, should_retry
from libchatty.request import ChatRequest, Message

from ._api import (
    STOP,
    ChatOptions,
    ClientConfig,
    Completion,
    Proxy,
    Timeout,
    build_request,
    make_config,
)

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

Self = TypeVar("Self", bound="AsyncClientBase")
Messages = str | Sequence[Message | Mapping[str, Any]]
#: An ``on_delta`` for async clients: plain or ``async def``.
AsyncOnDelta = Callable[[str, bool], object | Awaitable[object]]
#: An ``on_event`` for async clients: plain or ``async def``.
AsyncOnEvent = Callable[[Event], object | Awaitable[object]]

__all__ = [
    "DRAIN_TIMEOUT",
    "AsyncBackend",
    "AsyncClientBase",
    "Conn",
    "Connect",
    "Deliver",
    "Exchange",
    "IOFailure",
    "Op",
    "Pool",
    "Probe",
    "Receive",
    "Runtime",
    "Send",
    "Sleep",
    "StartTLS",
    "SyncBackend",
    "adrive",
    "drive",
]

#: Bytes asked for per read: a whole SSE burst in one call, small enough to stay in cache.
READ_SIZE: Final = 64 * 1024
#: Idle connections kept per (scheme, host, port); more are closed when returned.
MAX_IDLE_PER_HOST: Final = 64
# Bytes read after Done to reach the end of the body for reuse; a server that keeps
# talking past this is not worth the wait, the connection is closed instead.
_MAX_DRAIN: Final = 256 * 1024
#: Seconds spent, at most, reading the end of a body after ``Done`` was delivered, to
#: keep its connection: the end (``0\r\n\r\n``) normally comes with ``[DONE]``. A server
#: that keeps the body open longer loses the connection; ``chat()`` and ``stream()``
#: never wait more than this past ``Done``.
DRAIN_TIMEOUT: Final = 0.25

# DEBUG records about requests, retries, fallbacks, timeouts and pooled connections;
# nothing per read or per delta. Silent unless the application configures logging.
_log: Final = logging.getLogger("libchatty")


# --- what the loop asks for ----------------------------------------------------------------


class Conn(Protocol):
    """A connection as the loop sees it: opaque, except that it can be dropped at once,
    synchronously, from any state (so a ``finally`` can always close it)."""

    def abort(self) -> None: ...


class _Op:
    """Base of the operations. Plain slotted classes, not dataclasses: they are
    internal messages, and building seven dataclasses costs milliseconds of import
    time that every ``import libchatty.bindings.blocking`` would pay."""

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


class Connect(_Op):
    """Open a TCP connection to ``host:port`` -> a :class:`Conn`."""

    __slots__ = ("host", "port", "timeout")

    def __init__(self, host: str, port: int, timeout: float | None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout


class StartTLS(_Op):
    """Wrap ``conn`` in TLS (verified, SNI ``server_hostname``) -> the new :class:`Conn`."""

    __slots__ = ("conn", "server_hostname", "timeout")

    def __init__(self, conn: Conn, server_hostname: str, timeout: float | None) -> None:
        self.conn = conn
        self.server_hostname = server_hostname
        self.timeout = timeout


class Send(_Op):
    """Write all of ``data`` -> None."""

    __slots__ = ("conn", "data", "timeout")

    def __init__(self, conn: Conn, data: bytes, timeout: float | None) -> None:
        self.conn = conn
        self.data = data
        self.timeout = timeout


class Receive(_Op):
    """Read up to :data:`READ_SIZE` bytes -> ``bytes`` (``b""``: the peer closed)."""

    __slots__ = ("conn", "timeout")

    def __init__(self, conn: Conn, timeout: float | None) -> None:
        self.conn = conn
        self.timeout = timeout


class Sleep(_Op):
    """Wait ``seconds`` (backoff before a retry) -> None."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Probe(_Op):
    """Look, without waiting, whether anything is waiting on the idle ``conn`` -> bool.

    True when bytes or an end of stream (or an error) are already there: on a pooled
    connection between responses nothing may be, so such a connection is closed rather
    than handing a stale answer (a server's extra response, the rest of a body longer
    than its ``Content-Length``, an unsolicited ``408``) to the next call. A backend
    that cannot tell answers False only when the transport cannot hold such bytes.
    """

    __slots__ = ("conn",)

    def __init__(self, conn: Conn) -> None:
        self.conn = conn


class Deliver(_Op):
    """Hand ``events`` to the caller, in order (handled by the runner, not the backend)."""

    __slots__ = ("events",)

    def __init__(self, events: list[Event]) -> None:
        self.events = events


Op = Connect | StartTLS | Send | Receive | Sleep | Probe | Deliver


class IOFailure(Exception):
    """What a backend raises for any transport failure: ``kind`` is ``"timeout"`` or
    ``"connection"``; ``message`` says what happened (never a secret); ``retryable``
    whether trying again could help (False for a failed certificate check)."""

    def __init__(self, kind: str, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable


class Runtime:
    """What the loop may not take from the environment itself: a monotonic ``clock``
    (seconds; trio's under ``autojump_clock`` in tests), a ``random`` draw in [0, 1) for
    jitter, and the ``wall_clock`` (Unix seconds) for HTTP-date ``Retry-After``."""

    __slots__ = ("clock", "random", "wall_clock")

    def __init__(
        self,
        clock: Callable[[], float],
        random: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.clock = clock
        self.random = random
        self.wall_clock = wall_clock


# --- the keep-alive pool ---------------------------------------------------------------------

PoolKey = tuple[str, str, int]


class Pool:
    """Idle keep-alive connections per (scheme, host, port), last in first out.

    Shared by every call of a client, across tasks or threads: ``take`` and ``put`` are
    each one ``list.pop``/``list.append``, atomic under the GIL, and a connection is in the
    pool only while idle, so no lock is needed. A connection goes in only when its last
    response was read to the end (the loop checks ``Call.reusable``).
    """

    def __init__(self, max_idle_per_host: int = MAX_IDLE_PER_HOST) -> None:
        self._idle: dict[PoolKey, list[Conn]] = {}
        self._max = max_idle_per_host

    def take(self, key: PoolKey) -> Conn | None:
        try:
            return self._idle[key].pop()
        except (KeyError, IndexError):
            return None

    def put(self, key: PoolKey, conn: Conn) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self._max:
            conn.abort()
        else:
            idle.append(conn)

    def discard(self, key: PoolKey) -> None:
        """Close every idle connection to ``key`` (one was found dead: so are its
        siblings, most likely -- the server restarted or timed them out together)."""
        for conn in self._idle.pop(key, ()):
            conn.abort()

    def close(self) -> None:
        """Close every idle connection."""
        for key in list(self._idle):
            self.discard(key)

    def idle_count(self, key: PoolKey) -> int:
        return len(self._idle.get(key, ()))


# --- the loop ------------------------------------------------------------------------------------


class _Stale(Exception):
    """A pooled connection turned out to be closed before any byte of the response."""


class Exchange:
    """One call to a chat endpoint, through retries and the streaming fallback.

    Run it with :func:`drive` or :func:`adrive`. Afterwards (or after stopping early):
    ``terminal`` is the ``Done``/``Error`` that ended it (None if stopped), ``call`` the
    last :class:`~libchatty.call.Call` (its ``text`` is the answer so far),
    ``delivered`` whether a ``Delta`` was delivered, ``requests`` how many requests were
    sent, ``fell_back`` whether the non-streaming fallback was used.
    """

    def __init__(
        self, config: ClientConfig, request: ChatRequest, pool: Pool, runtime: Runtime
    ) -> None:
        self.config = config
        self.request = request
        self.pool = pool
        self.runtime = runtime
        endpoint = config.endpoint
        self.key: PoolKey = (endpoint.scheme, endpoint.host, endpoint.port)
        self.call: Call | None = None
        self.terminal: Done | Error | None = None
        self.delivered = False
        self.requests = 0
        self.fell_back = False
        self._conn: Conn | None = None
        self._deadline: float | None = None
        self._stall_deadline: float | None = None
        self._stalled = False

    @property
    def text(self) -> str:
        """The answer text received so far (by the last request)."""
        return self.call.text if self.call is not None else ""

    @property
    def streamed(self) -> bool:
        """Whether the answer arrived as a stream (SSE or JSON lines)."""
        call = self.call
        if call is None or not call.request.stream:
            return False
        for name, value in getattr(call, "headers", ()):
            if name == b"content-type":
                return not value.lower().startswith(b"application/json")
        return True

    def completion(self) -> Completion:
        """The :class:`Completion` of a call that ended with ``Done``; raises
        :class:`~libchatty.exceptions.ChatError` for one that ended with ``Error``."""
        terminal = self.terminal
        if isinstance(terminal, Done):
            return Completion.from_done(terminal, self.streamed)
        if terminal is None:
            raise LocalProtocolError("the call has not ended")
        raise ChatError(terminal)

    def stopped(self, last: Event, texts: list[str]) -> Completion:
        """The result when a callback returned STOP for event ``last``, having seen the
        answer text ``texts``: the complete answer if ``last`` was ``Done``, else that
        text with ``finish_reason="stopped"``."""
        if isinstance(last, Done):
            return Completion.from_done(last, self.streamed)
        return Completion(text="".join(texts), finish_reason="stopped", streamed=self.streamed)

    def run(self) -> Generator[Op, Any, Done | Error]:
        """The loop. Returns (and has delivered, last) the terminal event."""
        try:
            return (yield from self._run())
        finally:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()

    # --- retries and fallback -------------------------------------------------------------
    def _run(self) -> Generator[Op, Any, Done | Error]:
        total = self.config.timeout.total
        self._deadline = None if total is None else self.runtime.clock() + total
        request = self.request
        retries = 0
        reuse = True
        while True:
            try:
                outcome, sent = yield from self._attempt(request, reuse)
            except _Stale:
                # The pooled connection was dead; its siblings likely are too. Try once
                # more at once on a fresh one: this is not a failure of the request.
                self._drop()
                self.pool.discard(self.key)
                _log.debug("pooled connection to %s:%s was closed by the server; "
                           "reconnecting", self.key[1], self.key[2])
                reuse = False
                continue
            reuse = True
            if isinstance(outcome, Done):
                return outcome
            error = outcome
            if (
                sent
                and request.stream
                and not self.fell_back
                and should_fallback_to_non_streaming(error, self.delivered)
            ):
                _log.debug("falling back to a non-streaming request after %s (status %s)",
                           error.kind, error.status)
                request = dataclasses.replace(request, stream=False)
                self.fell_back = True
                continue
            if should_retry(error, retries, self.config.max_retries, self.delivered):
                delay = backoff_delay(retries, self._retry_after(error), self.runtime.random())
                deadline = self._deadline
                if deadline is None or self.runtime.clock() + delay < deadline:
                    _log.debug("retry %d of %d in %.2f s after %s (status %s)", retries + 1,
                               self.config.max_retries, delay, error.kind, error.status)
                    yield Sleep(delay)
                    retries += 1
                    continue
            self.terminal = error
            if error.kind == "timeout":
                _log.debug("gave up: %s", error.message)  # our own words, never the server's
            yield Deliver([error])
            return error

    def _retry_after(self, error: Error) -> float | None:
        if error.retry_after is not None or error.retry_after_date is None:
            return error.retry_after
        from email.utils import parsedate_to_datetime  # rare: only for HTTP-date values

        try:
            when = parsedate_to_datetime(error.retry_after_date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, when - self.runtime.wall_clock())

    # --- one request ----------------------------------------------------------------------
    def _pooled(self) -> Generator[Op, Any, Conn | None]:
        """An idle pooled connection with nothing waiting on it, or None. One that has
        bytes or an end of stream waiting is closed (see :class:`Probe`)."""
        while True:
            conn = self.pool.take(self.key)
            if conn is None:
                return None
            self._conn = conn  # closed by run()'s finally if we are stopped while probing
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
        terminal event and whether the request was sent; raises :class:`_Stale` when a
        pooled connection turns out dead before any byte of the response."""
        call = self.call = Call(self.config.endpoint, request, **self._call_options())
        self._stall_deadline = None
        self._stalled = False
        conn = (yield from self._pooled()) if reuse else None
        reused = conn is not None
        if conn is None:
            try:
                conn = yield from self._open(call)
            except IOFailure as exc:
                self._drop()
                return self._failure(exc, call, connecting=True), False
        self._conn = conn
        self.requests += 1
        got_bytes = False
        idle = self.config.timeout.idle
        # The stall timer (opt-in) runs from the response head, on a streaming request,
        # and only a read that brings a Delta resets it: keep-alive comments and pings
        # keep the idle timer happy, not this one.
        stall = self.config.timeout.stall if request.stream else None
        try:
            head = call.start()
            if _log.isEnabledFor(DEBUG):
                _log.debug("request %s (provider %s)", _request_line(head),
                           self.config.provider or self.config.endpoint.dialect)
            yield Send(conn, head, self._timeout(idle))
            head = b""
            while call.wants_data:
                data: bytes = yield Receive(conn, self._read_timeout(idle))
                if data:
                    if not got_bytes:
                        got_bytes = True
                        if stall is not None:
                            self._stall_deadline = self.runtime.clock() + stall
                elif reused and not got_bytes:
                    raise _Stale
                events = call.receive_data(data)
                data = b""  # not kept alive while waiting: thousands of streams wait at once
                if not events:
                    continue
                last = events[-1]
                if type(last) is Error:
                    self._release(call, conn)  # an error body read to its end is reusable
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
                    yield from self._drain(call, conn)
                    return last, True
                if stall is not None:
                    self._stall_deadline = self.runtime.clock() + stall
                yield Deliver(events)
                events = []
        except IOFailure as exc:
            self._drop()
            if reused and not got_bytes:
                raise _Stale from None
            return self._failure(exc, call, connecting=False), True
        self._drop()  # defensive: a Call always ends with a terminal event
        return Error("protocol", "the response ended without a result", partial=call.text), True

    def _call_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`Call`: the credentials the client sends besides
        the endpoint's (the proxy's), so that the core redacts them from server text."""
        proxy = self.config.proxy
        if proxy is None or proxy.authorization is None:
            return {}
        return {"secrets": proxy_secrets(proxy.authorization)}

    def _note_delivery(self, events: list[Event]) -> None:
        if not self.delivered:
            for event in events:
                if type(event) is Delta:
                    self.delivered = True
                    break

    def _drain(self, call: Call, conn: Conn) -> Generator[Op, Any, None]:
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
                data: bytes = yield Receive(conn, min(left, DRAIN_TIMEOUT))
                drained += len(data)
                call.receive_data(data)
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
            conn = yield Connect(proxy.host, proxy.port, timeout)
            self._conn = conn
            yield from self._tunnel(conn, call.host, call.port, proxy, timeout)
        if call.tls:
            conn = yield StartTLS(conn, call.host, self._timeout(self.config.timeout.connect))
            self._conn = conn
        return conn

    def _tunnel(
        self, conn: Conn, host: str, port: int, proxy: Proxy, timeout: float | None
    ) -> Generator[Op, Any, None]:
        """``CONNECT host:port`` through the proxy; returns once the tunnel is open."""
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        headers = [("Host", authority)]
        if proxy.authorization is not None:
            headers.append(("Proxy-Authorization", proxy.authorization))
        http = h11.Connection(h11.CLIENT)
        request = http.send(h11.Request(method="CONNECT", target=authority, headers=headers))
        yield Send(conn, (request or b"") + (http.send(h11.EndOfMessage()) or b""), timeout)
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError:
                raise IOFailure("connection", "the proxy sent a malformed response") from None
            if event is h11.NEED_DATA:
                data: bytes = yield Receive(conn, timeout)
                if not data:
                    raise IOFailure("connection", "the proxy closed the connection")
                http.receive_data(data)
            elif isinstance(event, h11.Response):
                if 200 <= event.status_code < 300:
                    return
                reason = event.reason.decode("latin-1", "replace")
                raise IOFailure(
                    "connection",
                    f"the proxy refused the tunnel to {authority}: {event.status_code} {reason}",
                    retryable=event.status_code in (502, 503, 504),
                )
            elif not isinstance(event, h11.InformationalResponse):
                raise IOFailure("connection", "the proxy sent an unexpected response")

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


def proxy_secrets(authorization: str) -> tuple[str, ...]:
    """What of a ``Proxy-Authorization`` value must never be shown: the value, its
    token, and the password inside a ``Basic`` token."""
    _, _, token = authorization.partition(" ")
    found = [authorization, token] if token else [authorization]
    import binascii  # only with proxy credentials

    try:
        decoded = binascii.a2b_base64(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        return tuple(found)
    password = decoded.partition(":")[2]
    if password:
        found.append(password)
    return tuple(found)


def _request_line(request: bytes) -> str:
    """``METHOD /path?name=…`` from a request's bytes: query values (Gemini's ``key=``)
    never reach a log."""
    line = request[: request.find(b"\r\n")].decode("latin-1")
    method, _, rest = line.partition(" ")
    target = rest.rpartition(" ")[0] or rest
    path, sep, query = target.partition("?")
    if sep:
        names = (part.partition("=")[0] for part in query.split("&"))
        path += "?" + "&".join(f"{name}=…" for name in names)
    return f"{method} {path}"


# --- the runners -------------------------------------------------------------------------------


class SyncBackend(ABC):
    """Blocking I/O for :func:`drive`. Every transport failure is raised as
    :class:`IOFailure`; anything else (a cancellation, a bug) passes through."""

    def perform(self, op: Op) -> Any:
        if isinstance(op, Receive):
            return self.receive(op.conn, op.timeout)
        if isinstance(op, Send):
            return self.send(op.conn, op.data, op.timeout)
        if isinstance(op, Connect):
            return self.connect(op.host, op.port, op.timeout)
        if isinstance(op, StartTLS):
            return self.start_tls(op.conn, op.server_hostname, op.timeout)
        if isinstance(op, Sleep):
            return self.sleep(op.seconds)
        if isinstance(op, Probe):
            return self.probe(op.conn)
        raise TypeError(f"unknown operation {op!r}")

    @abstractmethod
    def connect(self, host: str, port: int, timeout: float | None) -> Conn: ...

    @abstractmethod
    def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn: ...

    @abstractmethod
    def send(self, conn: Any, data: bytes, timeout: float | None) -> None: ...

    @abstractmethod
    def receive(self, conn: Any, timeout: float | None) -> bytes: ...

    @abstractmethod
    def sleep(self, seconds: float) -> None: ...

    @abstractmethod
    def probe(self, conn: Any) -> bool:
        """See :class:`Probe`: never blocks, never raises (a failure is True)."""


class AsyncBackend(ABC):
    """Async I/O for :func:`adrive` (trio, asyncio); same contract as
    :class:`SyncBackend`."""

    async def perform(self, op: Op) -> Any:
        if isinstance(op, Receive):
            return await self.receive(op.conn, op.timeout)
        if isinstance(op, Send):
            return await self.send(op.conn, op.data, op.timeout)
        if isinstance(op, Connect):
            return await self.connect(op.host, op.port, op.timeout)
        if isinstance(op, StartTLS):
            return await self.start_tls(op.conn, op.server_hostname, op.timeout)
        if isinstance(op, Sleep):
            return await self.sleep(op.seconds)
        if isinstance(op, Probe):
            return await self.probe(op.conn)
        raise TypeError(f"unknown operation {op!r}")

    @abstractmethod
    async def connect(self, host: str, port: int, timeout: float | None) -> Conn: ...

    @abstractmethod
    async def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn: ...

    @abstractmethod
    async def send(self, conn: Any, data: bytes, timeout: float | None) -> None: ...

    @abstractmethod
    async def receive(self, conn: Any, timeout: float | None) -> bytes: ...

    @abstractmethod
    async def sleep(self, seconds: float) -> None: ...

    @abstractmethod
    async def probe(self, conn: Any) -> bool:
        """See :class:`Probe`: never waits, never raises (a failure is True)."""


def drive(loop: Generator[Op, Any, Any], backend: SyncBackend) -> Generator[Event, None, None]:
    """Run ``loop`` with blocking I/O, yielding the events it delivers.

    An exception from the backend is thrown into the loop (it maps ``IOFailure``, and
    closes its connection on anything else); closing this iterator closes the loop,
    which closes its connection.
    """
    value: Any = None
    failure: BaseException | None = None
    try:
        while True:
            try:
                if failure is None:
                    op = loop.send(value)
                    value = None  # the last read is not kept alive during the next
                else:
                    op, failure = loop.throw(failure), None
            except StopIteration:
                return
            if type(op) is Deliver:
                yield from op.events
                value = None
                continue
            try:
                value = backend.perform(op)
            except BaseException as exc:  # thrown into the loop, which re-raises non-I/O
                failure, value = exc, None
    finally:
        loop.close()


async def adrive(
    loop: Generator[Op, Any, Any], backend: AsyncBackend
) -> AsyncGenerator[Event, None]:
    """:func:`drive` for async backends. Cancellation arrives as an exception from the
    backend and goes through the loop the same way (closing the connection)."""
    value: Any = None
    failure: BaseException | None = None
    try:
        while True:
            try:
                if failure is None:
                    op = loop.send(value)
                    value = None  # the last read is not kept alive during the next
                else:
                    op, failure = loop.throw(failure), None
            except StopIteration:
                return
            if type(op) is Deliver:
                for event in op.events:
                    yield event
                value = None
                continue
            try:
                value = await backend.perform(op)
            except BaseException as exc:  # includes trio.Cancelled / CancelledError
                failure, value = exc, None
    finally:
        loop.close()


# --- the async client shell (trio and asyncio differ only in their backend) -------------------


async def arun_callbacks(
    event: Event, on_delta: AsyncOnDelta | None, on_event: AsyncOnEvent | None
) -> bool:
    """:func:`~libchatty.bindings._api.run_callbacks` for callbacks that may be
    ``async def`` (their result is awaited)."""
    kind = type(event)
    if kind is Error:
        return False
    if on_event is not None:
        result = on_event(event)
        if hasattr(result, "__await__"):
            result = await result
        if result is STOP:
            return True
    if on_delta is not None:
        if kind is Delta:
            if event.kind != "text" or not event.text:  # type: ignore[union-attr]
                return False
            result = on_delta(event.text, False)  # type: ignore[union-attr]
        elif kind is Done:
            result = on_delta("", True)
        else:
            return False
        if hasattr(result, "__await__"):
            result = await result
        return result is STOP
    return False


class AsyncClientBase(ABC):
    """``AsyncClient`` of the trio and asyncio bindings: everything but the backend.
    See :mod:`libchatty.bindings.trio` for the API."""

    def __init__(
        self,
        provider: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dialect: str | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int = 2,
        ssl_context: ssl.SSLContext | None = None,
        headers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = make_config(
            provider,
            base_url=base_url,
            api_key=api_key,
            dialect=dialect,
            timeout=timeout,
            max_retries=max_retries,
            ssl_context=ssl_context,
            headers=headers,
            env=env,
        )
        self.pool = Pool()
        self.backend: AsyncBackend = self.make_backend(ssl_context)
        self.runtime = self.make_runtime()

    @abstractmethod
    def make_backend(self, ssl_context: ssl.SSLContext | None) -> AsyncBackend: ...

    @abstractmethod
    def make_runtime(self) -> Runtime: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.endpoint!r}>"

    async def aclose(self) -> None:
        """Close the idle keep-alive connections. The client stays usable."""
        self.pool.close()

    async def __aenter__(self: Self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def exchange(
        self, messages: Messages, model: str, stream: bool, options: Mapping[str, Any]
    ) -> Exchange:
        request = build_request(messages, model, stream, options)
        return Exchange(self.config, request, self.pool, self.runtime)

    async def chat(
        self,
        messages: Messages,
        model: str,
        *,
        on_delta: AsyncOnDelta | None = None,
        on_event: AsyncOnEvent | None = None,
        **options: Unpack[ChatOptions],
    ) -> Completion:
        """Send one chat request and return its :class:`Completion`; raises
        :class:`~libchatty.exceptions.ChatError` on failure."""
        streaming = on_delta is not None or on_event is not None
        exchange = self.exchange(messages, model, streaming, options)
        events = adrive(exchange.run(), self.backend)
        try:
            if not streaming:
                async for _ in events:
                    pass
            else:
                texts: list[str] = []  # what the callbacks saw, for a STOP mid-answer
                async for event in events:
                    if type(event) is Delta and event.kind == "text" and event.index == 0:
                        texts.append(event.text)
                    if await arun_callbacks(event, on_delta, on_event):
                        return exchange.stopped(event, texts)
        finally:
            await events.aclose()  # synchronous inside: safe under cancellation
        return exchange.completion()

    @asynccontextmanager
    async def stream(
        self, messages: Messages, model: str, **options: Unpack[ChatOptions]
    ) -> AsyncGenerator[AsyncGenerator[Event, None], None]:
        """Stream one chat request: ``async with client.stream(...) as events: async for
        event in events`` -- ``Delta`` events, then one ``Done`` or ``Error`` (yielded,
        not raised). Leaving the block early closes the connection."""
        exchange = self.exchange(messages, model, True, options)
        events = adrive(exchange.run(), self.backend)
        try:
            yield events
        finally:
            await events.aclose()
