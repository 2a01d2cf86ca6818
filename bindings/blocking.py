"""The blocking binding: ``Client`` over plain sockets.

::

    from libchatty.bindings.blocking import Client

    with Client("openai") as client:            # OPENAI_API_KEY from the environment
        answer = client.chat("Say hi", "gpt-4o-mini")           # one JSON body
        print(answer.text)

        client.chat([{"role": "user", "content": "Count to 5"}], "gpt-4o-mini",
                    on_delta=lambda text, done: print(text, end="", flush=True))

        with client.stream("Tell a story", "gpt-4o-mini") as events:
            for event in events:                 # Delta..., then Done or Error
                ...

``Client(provider=None, *, base_url=None, api_key=None, dialect=None, timeout=None,
max_retries=2, ssl_context=None, headers=None, env=None)``: a provider name
(``"openai"``, ``"groq"``, ``"anthropic"``, ...) or a ``base_url`` (with ``dialect`` for a
non-OpenAI wire format); the key and URL overrides come from ``env`` (default
``os.environ``). A provider that needs a key and has none raises
:class:`~libchatty.bindings._api.MissingAPIKeyError` naming the variable to set.
``timeout`` is a :class:`~libchatty.bindings._api.Timeout` or a number (connect and idle
seconds). TLS is verified with the system CAs (``ssl_context`` for your own), HTTPS goes
through ``HTTPS_PROXY`` unless ``NO_PROXY`` says otherwise; connections are kept alive
and reused per host. A client may be shared by threads.

``chat(messages, model, *, on_delta=None, on_event=None, **options) -> Completion``:
``messages`` is a string (one user message) or a list of ``Message``/OpenAI-style dicts;
``options`` are ``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``tools``,
``tool_choice``, ``extra``. Without callbacks the request is not streamed. With them it
streams; see :mod:`libchatty.bindings._api` for the callbacks and :data:`STOP`. A call
that ends in an error raises :class:`~libchatty.exceptions.ChatError` (``.error`` is the
``Error`` event, ``.partial`` the text received before it).

``stream(messages, model, **options)``: a context manager giving an iterator of events:
``Delta`` events, then exactly one ``Done`` or ``Error`` -- the iterator does not raise
for an ``Error``, it yields it, last. Leaving the block early closes the connection.

Retries (``max_retries``, backoff with jitter, ``Retry-After`` honoured) and the fallback
to a non-streaming request happen only before anything was delivered: see
:mod:`libchatty.policy`. Redirects are not followed (a 3xx is ``Error("redirect")``).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from libchatty.events import Delta, Event
from libchatty.request import Message

from ._api import (
    STOP,
    ChatOptions,
    Completion,
    MissingAPIKeyError,
    OnDelta,
    OnEvent,
    Timeout,
    build_request,
    make_config,
    run_callbacks,
)
from ._driver import READ_SIZE, Exchange, IOFailure, Pool, Runtime, SyncBackend, drive

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

__all__ = ["STOP", "Client", "Completion", "MissingAPIKeyError", "Timeout"]

Messages = str | Sequence[Message | Mapping[str, Any]]

_default_context: ssl.SSLContext | None = None


def default_ssl_context() -> ssl.SSLContext:
    """``ssl.create_default_context()`` (verification on), made once: loading the CA
    store costs milliseconds, and ``ssl`` itself is imported only for HTTPS."""
    global _default_context
    if _default_context is None:
        import ssl

        _default_context = ssl.create_default_context()
    return _default_context


def _random() -> float:
    import random  # only when a retry happens: keeps the import cost off the hot path

    return random.random()


def describe(exc: OSError) -> str:
    """An ``OSError`` in a few words (``strerror`` without the errno noise)."""
    return exc.strerror or str(exc) or type(exc).__name__


def waiting(sock: Any) -> bool:
    """Whether bytes, an end of stream or an error wait on ``sock`` (a socket or anything
    with ``fileno()``), looked at without reading or waiting. A TLS socket also counts
    the decrypted bytes it holds (``pending()``). Any failure to look counts as True:
    a connection we cannot vouch for is not reused."""
    try:
        pending = getattr(sock, "pending", None)
        if pending is not None and pending():
            return True
        fd = sock.fileno()
        if fd < 0:
            return True
        import select  # cached after the first reuse

        if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLPRI)
            return bool(poller.poll(0))
        readable, _, errored = select.select([fd], [], [fd], 0)
        return bool(readable or errored)
    except (OSError, ValueError):
        return True


class SocketConn:
    """A socket (plain or TLS) and the timeout currently set on it."""

    __slots__ = ("sock", "timeout")

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self.sock = sock
        self.timeout = timeout

    def abort(self) -> None:
        """Close now (the response in flight, if any, is abandoned)."""
        self.sock.close()

    def interrupt(self) -> None:
        """Wake a ``send``/``recv`` blocked on this socket in another thread (``close``
        alone would not): the threads binding cancels with it. The owner closes it."""
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)  # the TCP socket, not TLS


class SocketBackend(SyncBackend):
    """Blocking sockets; ``ssl_context`` (default: :func:`default_ssl_context`) for TLS."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context

    def connect(self, host: str, port: int, timeout: float | None) -> SocketConn:
        try:
            sock = socket.create_connection((host, port), timeout)
        except TimeoutError:
            raise IOFailure("timeout", "connect timed out") from None
        except OSError as exc:
            message = f"cannot connect to {host}:{port}: {describe(exc)}"
            raise IOFailure("connection", message) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketConn(sock, timeout)

    def start_tls(
        self, conn: SocketConn, server_hostname: str, timeout: float | None
    ) -> SocketConn:
        import ssl

        context = self.ssl_context or default_ssl_context()
        conn.sock.settimeout(timeout)
        try:
            sock = context.wrap_socket(conn.sock, server_hostname=server_hostname)
        except ssl.SSLCertVerificationError as exc:
            raise IOFailure(
                "connection",
                f"TLS certificate verification failed for {server_hostname}: "
                f"{exc.verify_message or exc.reason}",
                retryable=False,
            ) from None
        except TimeoutError:
            raise IOFailure("timeout", "TLS handshake timed out") from None
        except OSError as exc:
            raise IOFailure(
                "connection", f"TLS handshake with {server_hostname} failed: {describe(exc)}"
            ) from None
        return SocketConn(sock, timeout)

    def send(self, conn: SocketConn, data: bytes, timeout: float | None) -> None:
        if timeout != conn.timeout:
            conn.sock.settimeout(timeout)
            conn.timeout = timeout
        try:
            conn.sock.sendall(data)
        except TimeoutError:
            raise IOFailure("timeout", "send timed out") from None
        except OSError as exc:
            raise IOFailure("connection", f"sending failed: {describe(exc)}") from None

    def receive(self, conn: SocketConn, timeout: float | None) -> bytes:
        if timeout != conn.timeout:  # settimeout is a syscall: only when it changes
            conn.sock.settimeout(timeout)
            conn.timeout = timeout
        try:
            return conn.sock.recv(READ_SIZE)
        except TimeoutError:
            raise IOFailure("timeout", "read timed out") from None
        except OSError as exc:
            raise IOFailure("connection", f"the connection failed: {describe(exc)}") from None

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def probe(self, conn: SocketConn) -> bool:
        return waiting(conn.sock)


class Client:
    """A chat client over blocking sockets; see the module docstring."""

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
        self.backend: SyncBackend = SocketBackend(ssl_context)
        self.runtime = Runtime(time.monotonic, _random, time.time)

    def __repr__(self) -> str:
        return f"<Client {self.config.endpoint!r}>"

    def close(self) -> None:
        """Close the idle keep-alive connections. The client stays usable."""
        self.pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def exchange(
        self, messages: Messages, model: str, stream: bool, options: Mapping[str, Any]
    ) -> Exchange:
        """The loop for one call (for bindings built on this client)."""
        request = build_request(messages, model, stream, options)
        return Exchange(self.config, request, self.pool, self.runtime)

    def chat(
        self,
        messages: Messages,
        model: str,
        *,
        on_delta: OnDelta | None = None,
        on_event: OnEvent | None = None,
        **options: Unpack[ChatOptions],
    ) -> Completion:
        """Send one chat request and return its :class:`Completion` (see the module
        docstring); raises :class:`~libchatty.exceptions.ChatError` on failure."""
        streaming = on_delta is not None or on_event is not None
        exchange = self.exchange(messages, model, streaming, options)
        return run_exchange(exchange, self.backend, on_delta, on_event)

    @contextlib.contextmanager
    def stream(
        self, messages: Messages, model: str, **options: Unpack[ChatOptions]
    ) -> Iterator[Generator[Event, None, None]]:
        """Stream one chat request: yields an iterator of events (see the module
        docstring). Leaving the block early closes the connection."""
        exchange = self.exchange(messages, model, True, options)
        events = drive(exchange.run(), self.backend)
        try:
            yield events
        finally:
            events.close()


def run_exchange(
    exchange: Exchange,
    backend: SyncBackend,
    on_delta: OnDelta | None,
    on_event: OnEvent | None,
) -> Completion:
    """Run ``exchange`` to its end, giving events to the callbacks; the body of
    ``chat()`` (shared with the threads binding)."""
    events = drive(exchange.run(), backend)
    try:
        if on_delta is None and on_event is None:
            for _ in events:
                pass
        else:
            texts: list[str] = []  # what the callbacks saw, for a STOP mid-answer
            for event in events:
                if type(event) is Delta and event.kind == "text" and event.index == 0:
                    texts.append(event.text)
                if run_callbacks(event, on_delta, on_event):
                    return exchange.stopped(event, texts)
    finally:
        events.close()  # after a raising callback too: closes the connection
    return exchange.completion()
