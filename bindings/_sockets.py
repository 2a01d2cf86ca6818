"""The blocking binding's backend: plain and TLS sockets, with the timeout of each
operation set on the socket (only when it changes: ``settimeout`` is a syscall)."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Final

from ._ops import READ_SIZE
from ._runners import SyncBackend
from ._transport import ExceptionTable, default_ssl_context, io_failure, map_exceptions, waiting

if TYPE_CHECKING:
    # At run time connect() and interrupt() import socket: with selectors, select and
    # array it is ~3 ms that importing the binding does not pay.
    import socket
    import ssl

__all__ = ["SocketBackend", "SocketConn"]

# What a socket raises, and what it means (TLS errors are OSErrors too; a failed
# certificate check is recognised by map_exceptions whatever the backend).
_ERRORS: Final[ExceptionTable] = {TimeoutError: "timeout", OSError: "connection"}


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
        import socket

        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)  # the TCP socket, not TLS

    def settimeout(self, timeout: float | None) -> None:
        if timeout != self.timeout:  # settimeout is a syscall: only when it changes
            self.sock.settimeout(timeout)
            self.timeout = timeout


class SocketBackend(SyncBackend):
    """Blocking sockets; ``ssl_context`` (default: :func:`default_ssl_context`) for TLS."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context

    def connect(self, host: str, port: int, timeout: float | None) -> SocketConn:
        import socket

        with map_exceptions(_ERRORS, f"connecting to {host}:{port}"):
            # typeshed says str; create_connection hands the host to getaddrinfo as is
            address = (_host_bytes(host), port)
            sock = socket.create_connection(address, timeout)  # type: ignore[arg-type]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketConn(sock, timeout)

    def start_tls(
        self, conn: SocketConn, server_hostname: str, timeout: float | None
    ) -> SocketConn:
        context = self.ssl_context or default_ssl_context()
        conn.sock.settimeout(timeout)
        with map_exceptions(_ERRORS, f"the TLS handshake with {server_hostname}"):
            sock = context.wrap_socket(conn.sock, server_hostname=server_hostname)
        return SocketConn(sock, timeout)

    def send(self, conn: SocketConn, data: bytes, timeout: float | None) -> None:
        conn.settimeout(timeout)
        with map_exceptions(_ERRORS, "sending"):
            conn.sock.sendall(data)

    def receive(self, conn: SocketConn, timeout: float | None) -> bytes:
        # Once per read: try/except rather than map_exceptions (see its docstring), and
        # SocketConn.settimeout's test inlined.
        if timeout != conn.timeout:
            conn.settimeout(timeout)
        try:
            return conn.sock.recv(READ_SIZE)
        except OSError as exc:  # TimeoutError included: _ERRORS names both
            raise io_failure(_ERRORS, exc, "reading") from None

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def probe(self, conn: SocketConn) -> bool:
        return waiting(conn.sock)


def _host_bytes(host: str) -> str | bytes:
    """``host`` as ``getaddrinfo`` receives it. A ``str`` goes through the ``idna``
    codec, whose first use imports ``encodings.idna``, ``stringprep`` and
    ``unicodedata`` (about a millisecond of every CLI run); for an ASCII name or an IP
    literal that encoding is the identity, so ASCII goes as bytes and only an
    internationalised name pays for IDNA."""
    return host.encode("ascii") if host.isascii() else host
