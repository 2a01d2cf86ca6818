"""A client's configuration: the constructor keywords every client takes (written once,
as :class:`ClientOptions`), resolved with the provider table and the environment into a
:class:`ClientConfig`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from libchatty.endpoint import Endpoint

from ._api import MissingAPIKeyError, Timeout, _Value

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from 3.11; not needed at run time

    from libchatty.providers import Resolved

    from ._client_options import ClientOptions
    from ._credentials import CredentialSource
    from ._proxy import Proxy

__all__ = ["CLIENT_OPTIONS", "ClientConfig", "ClientOptions", "make_config"]


#: The keywords a client constructor accepts: the keys of :class:`ClientOptions`.
CLIENT_OPTIONS: Final = (
    frozenset({"base_url", "api_key", "dialect", "headers", "env"})  # where, with which key
    | {"timeout", "max_retries", "ssl_context"}  # the connection
    | {"region", "aws_credentials", "project", "location"}  # the clouds'
)

if not TYPE_CHECKING:  # a module __getattr__ would hide misspelt names from mypy

    def __getattr__(name: str) -> Any:
        # ClientOptions is in _client_options, imported the first time it is named at
        # run time (PEP 562); type checkers import it directly (above).
        if name != "ClientOptions":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from ._client_options import ClientOptions

        return ClientOptions


class ClientConfig(_Value):
    """Everything one client needs; built once by :func:`make_config`. The endpoint's
    key stays out of ``repr``. ``credentials`` (None for static keys) gives each
    attempt the endpoint with credentials good at that moment."""

    _fields = (
        "endpoint",
        "timeout",
        "max_retries",
        "proxy",
        "ssl_context",
        "provider",
        "credentials",
    )
    __slots__ = _fields
    endpoint: Endpoint
    timeout: Timeout
    max_retries: int
    proxy: Proxy | None
    ssl_context: ssl.SSLContext | None
    provider: str | None
    credentials: CredentialSource | None

    def __init__(
        self,
        endpoint: Endpoint,
        timeout: Timeout,
        max_retries: int,
        proxy: Proxy | None,
        ssl_context: ssl.SSLContext | None = None,
        provider: str | None = None,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._assign(locals())

    def overridden(self, timeout: Timeout | None, max_retries: int | None) -> ClientConfig:
        """This configuration with one call's ``timeout``/``max_retries`` (None: keep
        this one's); ``self`` when neither changes anything."""
        if (timeout is None or timeout == self.timeout) and (
            max_retries is None or max_retries == self.max_retries
        ):
            return self
        return ClientConfig(
            self.endpoint,
            self.timeout if timeout is None else timeout,
            self.max_retries if max_retries is None else max_retries,
            self.proxy,
            self.ssl_context,
            self.provider,
            self.credentials,
        )

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
    region, project = options.get("region"), options.get("project")
    cloud = _cloud_provider(provider) if env is None else None
    chain: tuple[object, str | None] | None = None
    if (
        cloud == "bedrock"
        and region is None
        and options.get("base_url") is None  # a runtime URL names its own region
        and not _any_set(environ, _AWS_REGION_ENV)
    ):
        chain = _bedrock_chain()
        region = chain[1] if chain is not None else None
    adc: tuple[object, str | None] | None = None
    if (
        cloud == "vertex"
        and options.get("api_key") is None
        and not _any_set(environ, ("GOOGLE_OAUTH_ACCESS_TOKEN",))
    ):
        adc = _google_default()
        if adc is not None and project is None and not _any_set(environ, ("GOOGLE_CLOUD_PROJECT",)):
            project = adc[1]
    resolved = resolve(
        provider, options.get("base_url"), options.get("api_key"), options.get("dialect"),
        environ, region=region, project=project, location=options.get("location"),
    )
    aws_credentials = options.get("aws_credentials") or resolved.aws_credentials
    source_credentials: object = None
    if adc is not None:
        source_credentials = adc[0]
    elif (
        cloud == "bedrock" and resolved.api_key is None and aws_credentials is None
    ):
        chain = chain or _bedrock_chain()
        source_credentials = chain[0] if chain is not None else None
    if (
        resolved.api_key is None
        and resolved.key_required
        and resolved.key_env_checked
        and aws_credentials is None
        and source_credentials is None
    ):
        raise MissingAPIKeyError(resolved.provider, resolved.base_url, resolved.key_env_checked)
    endpoint = Endpoint(
        resolved.base_url,
        resolved.api_key,
        resolved.dialect,
        headers={**resolved.headers, **(options.get("headers") or {})},
        include_usage=resolved.include_usage,
        region=resolved.region,
        aws_credentials=aws_credentials,
        max_tokens_field=resolved.max_tokens_field,
    )
    timeout = options.get("timeout")
    return ClientConfig(
        endpoint=endpoint,
        timeout=Timeout() if timeout is None else Timeout.coerce(timeout),
        max_retries=max_retries,
        proxy=_proxy(endpoint, environ),
        ssl_context=options.get("ssl_context"),
        provider=resolved.provider,
        credentials=_source(resolved, endpoint, source_credentials),
    )


_AWS_REGION_ENV: Final = ("AWS_REGION", "AWS_DEFAULT_REGION")
#: Where proxy_from_env reads a proxy URL, first set first (bindings/_proxy.py).
PROXY_URL_ENV: Final = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _proxy(endpoint: Endpoint, environ: Mapping[str, str]) -> Proxy | None:
    """:func:`~._proxy.proxy_from_env` for the endpoint; a client that cannot use a
    proxy -- not https, or none of its variables set -- does not load the module."""
    if endpoint.scheme != "https" or not _any_set(environ, PROXY_URL_ENV):
        return None  # what proxy_from_env answers then
    from ._proxy import proxy_from_env

    return proxy_from_env(endpoint.scheme, endpoint.host, endpoint.port, environ)


def _any_set(environ: Mapping[str, str], names: tuple[str, ...]) -> bool:
    return any(environ.get(name, "").strip() for name in names)


def _cloud_provider(provider: str | None) -> str | None:
    """``"bedrock"`` or ``"vertex"`` (either Vertex provider) for a provider name whose
    credentials may come from a cloud SDK; None for any other (or an unknown) name."""
    if provider is None:
        return None
    from libchatty.providers import get_provider

    try:
        name = get_provider(provider).name
    except ValueError:
        return None  # resolve() says so, with the list of names
    if name == "bedrock":
        return "bedrock"
    return "vertex" if name in ("vertex", "vertex-anthropic") else None


def _bedrock_chain() -> tuple[object, str | None] | None:
    from ._credentials import bedrock_chain

    return bedrock_chain()


def _google_default() -> tuple[object, str | None] | None:
    from ._credentials import google_default

    return google_default()


def _source(
    resolved: Resolved, endpoint: Endpoint, credentials: object
) -> CredentialSource | None:
    if credentials is None:
        return None
    from ._credentials import BotocoreCredentials, GoogleCredentials

    if resolved.provider == "bedrock":
        return BotocoreCredentials(endpoint, credentials)
    return GoogleCredentials(endpoint, credentials)
