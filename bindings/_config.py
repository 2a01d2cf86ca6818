"""A client's configuration: the constructor keywords every client takes (written once,
as :class:`ClientOptions`), resolved with the provider table and the environment into a
:class:`ClientConfig`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, TypedDict

from libchatty.endpoint import Endpoint

from ._api import MissingAPIKeyError, Timeout
from ._proxy import Proxy, proxy_from_env

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

__all__ = ["CLIENT_OPTIONS", "ClientConfig", "ClientOptions", "make_config"]


class ClientOptions(TypedDict, total=False):
    """The keywords of every client's constructor (after the ``provider`` name), typed so
    that a type checker catches a misspelt or mistyped one (constructors take
    ``**options: Unpack[ClientOptions]``). Absent means the default shown.

    * ``base_url`` (None: the provider's) and ``dialect`` (None: the provider's, or
      ``"openai-chat"`` for a bare ``base_url``);
    * ``api_key`` (None: from the provider's environment variable);
    * ``timeout``: a :class:`~libchatty.bindings._api.Timeout` or a number (connect and
      idle seconds); None (the default) is ``Timeout()``;
    * ``max_retries`` (2); ``ssl_context`` (None: verified, system CAs);
    * ``headers`` sent with every request; ``env`` (None: ``os.environ``) for keys,
      URL overrides and proxies.
    """

    base_url: str | None
    api_key: str | None
    dialect: str | None
    timeout: Timeout | float | None
    max_retries: int
    ssl_context: ssl.SSLContext | None
    headers: Mapping[str, str] | None
    env: Mapping[str, str] | None


#: The keywords a client constructor accepts: the keys of :class:`ClientOptions`.
CLIENT_OPTIONS: Final = frozenset(ClientOptions.__annotations__)


class ClientConfig:
    """Everything one client needs; built once by :func:`make_config`. The endpoint's
    key stays out of ``repr``."""

    __slots__ = ("endpoint", "max_retries", "provider", "proxy", "ssl_context", "timeout")

    def __init__(
        self,
        endpoint: Endpoint,
        timeout: Timeout,
        max_retries: int,
        proxy: Proxy | None,
        ssl_context: ssl.SSLContext | None = None,
        provider: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_retries = max_retries
        self.proxy = proxy
        self.ssl_context = ssl_context
        self.provider = provider

    def __repr__(self) -> str:
        return (
            f"ClientConfig(endpoint={self.endpoint!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries!r}, proxy={self.proxy!r})"
        )


def make_config(provider: str | None = None, **options: Unpack[ClientOptions]) -> ClientConfig:
    """Resolve a provider name, explicit settings (:class:`ClientOptions`) and the
    environment (``os.environ`` unless ``env`` is given) into a :class:`ClientConfig`.

    Raises :class:`~libchatty.bindings._api.MissingAPIKeyError` when a key is needed and
    missing; ``TypeError`` for an unknown keyword; ``ValueError`` for an unknown provider
    or dialect, an invalid base URL or proxy, or a header value with control characters
    (the message never contains the value).
    """
    from libchatty.providers import resolve  # the provider table is only needed here

    unknown = options.keys() - CLIENT_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    max_retries = options.get("max_retries", 2)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be a non-negative integer")
    env = options.get("env")
    environ: Mapping[str, str] = os.environ if env is None else env
    resolved = resolve(
        provider, options.get("base_url"), options.get("api_key"), options.get("dialect"),
        environ,
    )
    if resolved.api_key is None and resolved.key_required and resolved.key_env_checked:
        raise MissingAPIKeyError(resolved.provider, resolved.base_url, resolved.key_env_checked)
    endpoint = Endpoint(
        resolved.base_url,
        resolved.api_key,
        resolved.dialect,
        headers={**resolved.headers, **(options.get("headers") or {})},
        include_usage=resolved.include_usage,
    )
    timeout = options.get("timeout")
    return ClientConfig(
        endpoint=endpoint,
        timeout=Timeout() if timeout is None else Timeout.coerce(timeout),
        max_retries=max_retries,
        proxy=proxy_from_env(endpoint.scheme, endpoint.host, endpoint.port, environ),
        ssl_context=options.get("ssl_context"),
        provider=resolved.provider,
    )
