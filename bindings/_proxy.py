"""HTTPS through an HTTP proxy: which proxy the environment names for a target, and the
``CONNECT`` tunnel through it (a generator step of the request loop).

The proxy never sees the request or the key: the tunnel carries TLS end to end. Its
credentials (``Proxy-Authorization``, from the proxy URL) stay out of every ``repr`` and,
through :func:`proxy_secrets`, out of any text the server sends back.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any, Final

import h11

from ._api import _Value
from ._config import PROXY_URL_ENV
from ._ops import Conn, IOFailure, Op, Receive, Send

__all__ = ["Proxy", "open_tunnel", "proxy_from_env", "proxy_secrets"]


class Proxy(_Value):
    """An HTTP proxy that tunnels HTTPS with ``CONNECT``. ``authorization`` (the
    ``Proxy-Authorization`` value, from credentials in the proxy URL) is kept out of
    ``repr``."""

    _fields = ("host", "port", "authorization")
    __slots__ = _fields
    host: str
    port: int
    authorization: str | None

    def __init__(self, host: str, port: int, authorization: str | None = None) -> None:
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "authorization", authorization)

    def __repr__(self) -> str:
        return f"Proxy(host={self.host!r}, port={self.port!r})"


_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def _no_proxy_matches(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:  # a CIDR block: only then is ipaddress worth importing
            import ipaddress

            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else ("", "", "")
        if name and entry_port.isdigit():
            if int(entry_port) != port:
                continue
            entry = name
        entry = entry.lstrip("*").lstrip(".").strip("[]")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def proxy_from_env(scheme: str, host: str, port: int, env: Mapping[str, str]) -> Proxy | None:
    """The proxy for ``scheme://host:port`` from ``HTTPS_PROXY``/``ALL_PROXY`` (either
    case), or None.

    Only ``https`` targets use a proxy (tunnelled with ``CONNECT``, so the proxy never
    sees the request or the key); plain ``http`` targets are local servers and go
    direct. ``NO_PROXY`` (comma-separated host names, ``.suffix``, ``host:port``, CIDR
    blocks, or ``*``) and loopback hosts bypass the proxy. Only ``http://`` proxy URLs
    are supported; anything else is a ``ValueError``.
    """
    if scheme != "https" or host.lower().strip("[]") in _LOOPBACK:
        return None
    url = ""
    for name in PROXY_URL_ENV:
        url = env.get(name, "").strip()
        if url:
            break
    if not url:
        return None
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    if no_proxy and _no_proxy_matches(host, port, no_proxy):
        return None
    from urllib.parse import unquote, urlsplit  # only with a proxy configured

    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme != "http":
        raise ValueError(
            f"the proxy URL must be http://host:port (a {parts.scheme}:// proxy is not supported)"
        )
    if not parts.hostname:
        raise ValueError("the proxy URL has no host")
    try:
        proxy_port = parts.port or 80
    except ValueError:
        raise ValueError("the proxy URL has an invalid port") from None
    authorization = None
    if parts.username is not None:
        import binascii  # only with credentials in the proxy URL

        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = binascii.b2a_base64(credentials.encode(), newline=False).decode("ascii")
        authorization = f"Basic {token}"
    return Proxy(parts.hostname, proxy_port, authorization)


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


def open_tunnel(
    conn: Conn, host: str, port: int, proxy: Proxy, timeout: float | None
) -> Generator[Op, Any, None]:
    """``CONNECT host:port`` through the proxy on ``conn`` (a step of the request loop:
    ``yield from`` it); returns once the tunnel is open, raises :class:`IOFailure` when
    the proxy refuses or garbles its answer."""
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
