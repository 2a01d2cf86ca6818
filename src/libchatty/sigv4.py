"""AWS Signature Version 4: the headers that sign one request. Pure: no clock, no I/O.

:func:`sign` computes what botocore's ``SigV4Auth`` computes for the same request,
credentials, region, service and time (the tests hold it to that), and returns the headers
to add: ``Authorization``, ``X-Amz-Date`` and, with a session token,
``X-Amz-Security-Token`` (an empty token counts as none). Like botocore's ``SigV4Auth``
(which Bedrock uses) it sends no ``X-Amz-Content-Sha256``: the payload hash is signed,
not sent.

What the caller may rely on and must do:

* ``url`` is the URL exactly as the request will be sent (the path as it appears on the
  request line). The canonical path encodes it once more per AWS's rule for services
  other than S3: dot segments and empty segments are removed, then every byte but
  unreserved characters and ``/`` is percent-encoded. So a Bedrock model id sent as
  ``anthropic.claude-3-5-sonnet-20240620-v1:0`` is canonical ``...-v1%3A0``, and sent as
  ``...-v1%3A0`` (as botocore sends it) is canonical ``...-v1%253A0``; either signs
  correctly as long as the URL signed is the URL sent.
* The query string is decoded and re-encoded canonically (RFC 3986 unreserved characters
  kept, everything else ``%XX``), pairs sorted by key then value; for a query that is
  already canonically encoded this is botocore's string.
* ``headers`` are the headers that will be sent; all are signed except hop-by-hop and
  tracing headers that proxies may change (``User-Agent``, ``Connection``, ...; botocore's
  list). Send ``Host`` yourself or let it be derived from ``url`` (lower case, default port
  dropped, IPv6 in brackets) and send that same value. Repeated names are joined by ``,``
  in the order given; values are trimmed and inner runs of whitespace become one space.
  ``Authorization``, ``X-Amz-Date``, ``X-Amz-Security-Token`` and ``Date`` are the
  signer's to set: passing them raises ValueError. An ``X-Amz-Content-Sha256`` passed in
  is used as the payload hash (as botocore does), else the SHA-256 of ``body``.
* ``now`` must be timezone-aware (any zone; it is converted to UTC). A naive datetime
  raises ValueError rather than being guessed at: a wrong guess would sign with the
  local time and AWS would answer 403 far from the cause.
* The secret key and session token never appear in a repr or an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote, unquote, urlsplit

__all__ = ["AWSCredentials", "canonical_request", "sign"]

_ALGORITHM = "AWS4-HMAC-SHA256"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
# Headers a proxy or HTTP stack may add, drop or rewrite in transit; signing them would
# make a correct signature fail. The same list as botocore's SIGNED_HEADERS_BLACKLIST.
_UNSIGNED = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_SIGNER_OWNED = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "date"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class AWSCredentials:
    """An access key pair and, for temporary credentials, a session token.

    The repr shows the access key id (it is sent in every ``Authorization`` header) and
    hides the secret and the token.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        token = "None" if self.session_token is None else "<hidden>"
        return (
            f"AWSCredentials(access_key_id={self.access_key_id!r}, "
            f"secret_access_key=<hidden>, session_token={token})"
        )


def sign(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    credentials: AWSCredentials,
    region: str,
    service: str,
    now: datetime,
) -> list[tuple[str, str]]:
    """The headers to add so that AWS accepts the request as signed at ``now``."""
    given = list(headers)
    own = {name.lower() for name, _ in given} & _SIGNER_OWNED
    if own:
        raise ValueError(f"headers set by the signer, not the caller: {sorted(own)}")
    stamp = _utc(now).strftime(_TIMESTAMP)
    added = [("X-Amz-Date", stamp)]
    if credentials.session_token:  # an empty token is no token, as in botocore
        added.append(("X-Amz-Security-Token", credentials.session_token))
    request, signed_names = _canonical(method, url, [*given, *added], body)
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [_ALGORITHM, stamp, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()]
    )
    key = _signing_key(credentials.secret_access_key, stamp[:8], region, service)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    authorization = (
        f"{_ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return [("Authorization", authorization), *added]


def canonical_request(
    method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes
) -> str:
    """The canonical request AWS hashes, for ``headers`` as given (signer headers included).

    Exposed for debugging a 403: AWS's error message quotes the canonical request it
    computed, and this is the one we signed.
    """
    return _canonical(method, url, list(headers), body)[0]


def _canonical(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[str, str]:
    """(canonical request, signed header names) for the final header list."""
    parts = urlsplit(url)
    values: dict[str, list[str]] = {}
    for name, value in headers:
        lower = name.lower()
        if lower in _UNSIGNED:
            continue
        values.setdefault(lower, []).append(value)
    if "host" not in values:
        values["host"] = [_host(parts.scheme, parts.hostname, parts.port)]
    names = sorted(values)
    canonical_headers = "".join(
        f"{n}:{','.join(' '.join(v.split()) for v in values[n])}\n" for n in names
    )
    signed_names = ";".join(names)
    payload_hash = values.get("x-amz-content-sha256", [None])[0]
    if payload_hash is None:
        payload_hash = hashlib.sha256(body).hexdigest()
    request = "\n".join(
        [
            method.upper(),
            _canonical_path(parts.path),
            _canonical_query(parts.query),
            canonical_headers,
            signed_names,
            payload_hash,
        ]
    )
    return request, signed_names


def _canonical_path(path: str) -> str:
    # RFC 3986 dot-segment removal; AWS also drops empty segments (double slashes).
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    normal = "/" + "/".join(kept)
    if kept and path.endswith("/"):
        normal += "/"
    return quote(normal, safe="/~")


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((_encode(unquote(key)), _encode(unquote(value))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _host(scheme: str, hostname: str | None, port: int | None) -> str:
    if not hostname:
        raise ValueError("the URL has no host to sign")
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return host


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime (for example in UTC)")
    return now.astimezone(timezone.utc)
