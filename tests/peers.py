"""Network peers the binding tests share: TLS contexts from a test CA, and a CONNECT proxy.

The ``ca`` fixture (``conftest.py``) is one ``trustme.CA`` for the whole session;
:func:`server_context` and :func:`client_context` turn it into the two sides of a TLS
connection that verifies for real.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading

import trustme


def closed_port() -> int:
    """A loopback port nobody listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server-side context with a certificate for ``names``, issued by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A verifying client context that trusts ``ca`` (and only what the defaults trust)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback: every tunnel goes to ``target_port`` on
    127.0.0.1, whatever host was asked for (so a test can use a name no DNS knows)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.heads: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError), contextlib.ExitStack() as stack:
            client, _ = self.listener.accept()
            stack.enter_context(client)
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.heads.append(head)
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            stack.enter_context(upstream)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            pipe = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
            pipe.start()
            self._pipe(client, upstream)
            pipe.join(10)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            for _ in range(100000):
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(10)
