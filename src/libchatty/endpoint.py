"""Where a call goes: :class:`Endpoint` (base URL, key, dialect, extra headers).

The API key is kept out of ``repr`` and every message this module produces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["Endpoint", "check_header_value"]

_FORBIDDEN_IN_HEADERS = frozenset("\r\n\0")


def check_header_value(what: str, value: str) -> None:
    """Refuse a value that would break or smuggle an HTTP header.

    The message names ``what`` but never echoes ``value`` (it may be a secret).
    """
    if any(c in _FORBIDDEN_IN_HEADERS for c in value) or not value.isprintable():
        raise ValueError(f"{what} contains a control character (CR, LF, NUL...) and was refused")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A provider endpoint.

    ``base_url`` keeps its path prefix (``https://api.groq.com/openai/v1``): dialects
    append their own path to it. ``dialect`` names the wire format (``"openai-chat"``,
    ``"openai-responses"``, ``"anthropic"``, ``"gemini"``, ``"ollama"``).
    ``include_usage`` asks OpenAI-style servers for a usage chunk
    (``stream_options``); turn it off for servers that reject that field.
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    dialect: str = "openai-chat"
    headers: Mapping[str, str] = field(default_factory=dict)
    include_usage: bool = True
    scheme: str = field(init=False)
    host: str = field(init=False)
    port: int = field(init=False)
    path_prefix: str = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(
                f"Endpoint.base_url must be http:// or https://, not {self.base_url!r}"
            )
        if not parts.hostname:
            raise ValueError(f"Endpoint.base_url has no host: {self.base_url!r}")
        if parts.username or parts.password:
            raise ValueError("Endpoint.base_url must not carry credentials; pass api_key")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"Endpoint.base_url has an invalid port: {self.base_url!r}") from None
        if self.api_key is not None:
            if not isinstance(self.api_key, str):
                raise ValueError("Endpoint.api_key must be a string")
            check_header_value("the API key", self.api_key)
        for name, value in self.headers.items():
            check_header_value(f"header {name!r}", name)
            check_header_value(f"the value of header {name!r}", value)
        object.__setattr__(self, "scheme", parts.scheme)
        object.__setattr__(self, "host", parts.hostname)
        object.__setattr__(self, "port", port or (443 if parts.scheme == "https" else 80))
        object.__setattr__(self, "path_prefix", parts.path.rstrip("/"))

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the port is shown only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url(self, path: str) -> str:
        """The request target for ``path`` below the base URL's prefix."""
        return self.path_prefix + path

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "'***'"
        return (
            f"Endpoint(base_url={self.base_url!r}, api_key={key}, "
            f"dialect={self.dialect!r})"
        )
