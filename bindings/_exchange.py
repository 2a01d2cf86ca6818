"""The request loop, written once for every binding: one call to a chat endpoint,
through retries and the streaming fallback, as a **sans-I/O generator**.

:meth:`Exchange.run` yields the I/O it wants done (the operations of
:mod:`~libchatty.bindings._ops`) and is sent the results; a runner
(:mod:`~libchatty.bindings._runners`) performs them. The loop is plain code with no
``await``, so the same loop serves blocking and async bindings, and tests drive it by
sending results by hand (tests/test_driver.py) -- every timeout, failure and retry,
without a socket or a clock.

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
from collections.abc import Callable, Generator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final

from libchatty.call import Call
from libchatty.events import Delta, Done, Error, Event
from libchatty.exceptions import ChatError, LocalProtocolError
from libchatty.policy import backoff_delay, should_fallback_to_non_streaming, should_retry
from libchatty.request import ChatRequest

from . import _log  # DEBUG records; logging itself is imported only by the application
from ._api import Completion, Timeout
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
    Runtime,
    Send,
    Sleep,
    StartTLS,
)
from ._pool import Pool, PoolKey
from ._proxy import open_tunnel, proxy_secrets

if TYPE_CHECKING:
    from libchatty.endpoint import Endpoint

__all__ = ["DRAIN_TIMEOUT", "Exchange"]

# Bytes read after Done to reach the end of the body for reuse; a server that keeps
# talking past this is not worth the wait, the connection is closed instead.
_MAX_DRAIN: Final = 256 * 1024
#: Seconds spent, at most, reading the end of a body after ``Done`` was delivered, to
#: keep its connection: the end (``0\r\n\r\n``) normally comes with ``[DONE]``. A server
#: that keeps the body open longer loses the connection; ``chat()`` and ``stream()``
#: never wait more than this past ``Done``.
DRAIN_TIMEOUT: Final = 0.25



class _Stale(Exception):
    """A pooled connection turned out to be closed before any byte of the response."""


class Exchange:
    """One call to a chat endpoint, through retries and the streaming fallback.

    Run it with :func:`drive` or :func:`adrive`. Afterwards (or after stopping early):
    ``terminal`` is the ``Done``/``Error`` that ended it (None if stopped), ``call`` the
    last :class:`~libchatty.call.Call` (its ``text`` is the answer so far),
    ``delivered`` whether a ``Delta`` was delivered, ``requests`` how many requests were
    sent, ``fell_back`` whether the non-streaming fallback was used.

    ``timeout`` and ``max_retries`` are this call's, instead of the client's (None: the
    client's); ``config`` is then the client's configuration with them.
    """

    def __init__(
        self,
        config: ClientConfig,
        request: ChatRequest,
        pool: Pool,
        runtime: Runtime,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
    ) -> None:
        self.config = config.overridden(timeout, max_retries)
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
        :class:`~libchatty.exceptions.ChatError` for one that ended with ``Error``, and
        :class:`~libchatty.structured.StructuredOutputError` (keeping the text) when
        ``response_format`` was asked and the answer is not what it describes."""
        terminal = self.terminal
        if isinstance(terminal, Done):
            return self._completion(terminal)
        if terminal is None:
            raise LocalProtocolError("the call has not ended")
        raise ChatError(terminal)

    def stopped(self, last: Event, texts: list[str]) -> Completion:
        """The result when a callback returned STOP for event ``last``, having seen the
        answer text ``texts``: the complete answer if ``last`` was ``Done``, else that
        text with ``finish_reason="stopped"`` (and the response head's metadata)."""
        if isinstance(last, Done):
            return self._completion(last)
        call = self.call
        headers = call.response_headers if call is not None else ()
        return Completion(
            text="".join(texts),
            finish_reason="stopped",
            streamed=self.streamed,
            request_id=call.request_id if call is not None else None,
            headers=headers,
            rate_limit=self._rate_limit(headers),
        )

    def _completion(self, done: Done) -> Completion:
        call = self.call
        headers = call.response_headers if call is not None else ()
        response_format = self.request.neutral_response_format
        parsed = None
        if response_format is not None:
            from libchatty.structured import parse_structured  # only when asked

            parsed = parse_structured(done.text, response_format)
        return Completion.from_done(
            done,
            self.streamed,
            request_id=call.request_id if call is not None else None,
            headers=headers,
            rate_limit=self._rate_limit(headers),
            parsed=parsed,
        )

    def _rate_limit(self, headers: tuple[tuple[str, str], ...]) -> Any:
        """The rate-limit state the response reported, read at the time it ended."""
        # Most servers send none: skip the parser (and its import) then.
        if not any("ratelimit" in name for name, _ in headers):
            return None
        from libchatty.ratelimit import parse_rate_limit

        return parse_rate_limit(headers, self._now())

    def _now(self) -> datetime:
        """The wall-clock time as an aware UTC datetime (the runtime's clock)."""
        return datetime.fromtimestamp(self.runtime.wall_clock(), timezone.utc)

    def run(self) -> Generator[Op, Any, Done | Error]:
        """The loop. Returns (and has delivered, last) the terminal event."""
        # One generator for the retries (not run() over _run()): every read passes
        # through each generator frame of the chain, twice (the read, the delivery).
        try:
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
        finally:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()

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
        call = self.call = Call(endpoint, request, **self._call_options())
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
                        raise _Stale
                    events = self._end(call, data)
        except IOFailure as exc:
            self._drop()
            if reused and not got_bytes:
                raise _Stale from None
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
        :class:`ConnectFailure` when no connection could be made, :class:`_Stale` when
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
            _log.debug("request %s (provider %s)", _request_line(head),
                       self.config.provider or self.config.endpoint.dialect)
        try:
            yield Send(conn, head, self._timeout(self.config.timeout.idle))
        except IOFailure:
            if reused:
                raise _Stale from None
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

    def _call_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`Call`: the current time (a fresh one per attempt:
        signed dialects sign with it), and the credentials the client sends besides the
        endpoint's (the proxy's), so that the core redacts them from server text."""
        proxy = self.config.proxy
        if proxy is None or proxy.authorization is None:
            return {"now": self._now()}
        return {"now": self._now(), "secrets": proxy_secrets(proxy.authorization)}

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
