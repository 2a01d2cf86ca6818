"""The conventions that pick a provider, its base URL and its key from the environment.

The table of providers is :mod:`libchatty.provider_table` (re-exported here), the
clouds' own rules :mod:`libchatty.clouds`. Pure functions: nothing here reads
``os.environ``. A binding passes the environment in (``resolve(..., env=os.environ)``)
and builds an :class:`~libchatty.endpoint.Endpoint` from the :class:`Resolved` answer.

The conventions, in the order :func:`resolve` applies them:

* an explicit ``base_url``/``api_key``/``dialect`` always wins;
* a named provider takes its base URL from its override variable when set
  (``OPENAI_BASE_URL`` then ``OPENAI_API_BASE`` for OpenAI, ``ANTHROPIC_BASE_URL``,
  ``GROQ_BASE_URL``, ``OLLAMA_HOST``...) and its key from its key variable(s)
  (``GEMINI_API_KEY`` then ``GOOGLE_API_KEY``...);
* with no provider and no base URL, ``OPENAI_BASE_URL``/``OPENAI_API_BASE`` are honoured,
  else OpenAI itself;
* a base URL picks its key by host: ``api.groq.com`` -> ``GROQ_API_KEY``. When the base URL
  came from ``OPENAI_BASE_URL``/``OPENAI_API_BASE``, ``OPENAI_API_KEY`` is also accepted
  (the openai SDK sends it to whatever that variable names); an explicit base URL on a known
  host never receives another provider's key. An unknown host gets ``OPENAI_API_KEY``, as the
  openai SDK would send it;
* local servers (vLLM, llama.cpp, Ollama, any loopback or private address) need no key;
* ``OPENAI_ORG_ID``/``OPENAI_PROJECT_ID`` become ``OpenAI-Organization``/``OpenAI-Project``
  headers for OpenAI;
* AWS Bedrock (``bedrock``): the region is ``region=``, else ``AWS_REGION``, else
  ``AWS_DEFAULT_REGION``, else the one in a ``bedrock-runtime.<region>.amazonaws.com``
  base URL; none of them is a ``ValueError`` (AWS has no default region). The key is a
  Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK``, a bearer token) or else
  :attr:`Resolved.aws_credentials` from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``
  (and ``AWS_SESSION_TOKEN``) to sign with; profiles, SSO and instance roles are the
  bindings' (botocore's credential chain, the ``aws`` extra).
* Google Vertex AI: ``vertex`` (Gemini models, gemini dialect) and ``vertex-anthropic``
  (Claude models, anthropic dialect; ``vertex`` with ``dialect="anthropic"`` is the
  same). The base URL is ``https://{location}-aiplatform.googleapis.com/v1/projects/
  {project}/locations/{location}`` (host ``aiplatform.googleapis.com`` for the
  ``global`` location): ``project=`` else ``GOOGLE_CLOUD_PROJECT`` (none is a
  ``ValueError``), ``location=`` else ``GOOGLE_CLOUD_LOCATION`` else ``global``. The key
  is an OAuth access token, ``GOOGLE_OAUTH_ACCESS_TOKEN``, sent as a bearer token;
  application default credentials (google-auth, the ``google`` extra) are the bindings'.

* Azure OpenAI (``azure``): the base URL is ``base_url=`` else ``AZURE_OPENAI_ENDPOINT``
  (none is a ``ValueError``); a bare resource URL gets ``/openai/v1`` (the v1 API, model
  in the body), a ``/openai/deployments/<name>`` URL is kept (the deployments API, the
  model is the deployment); ``OPENAI_API_VERSION`` becomes ``?api-version=`` unless the
  URL has one, and a deployments URL without one is a ``ValueError``. An explicit key or
  ``AZURE_OPENAI_API_KEY`` is sent as the ``api-key`` header (in
  :attr:`Resolved.headers`, ``api_key`` None); else ``AZURE_OPENAI_AD_TOKEN`` (an Entra
  ID token) is the bearer ``api_key``. Azure hosts (``*.openai.azure.com``...) are known
  by base URL too. ``max_tokens`` goes as ``max_completion_tokens``
  (:attr:`Resolved.max_tokens_field`).

A missing key never raises: :attr:`Resolved.api_key` is None, :attr:`Resolved.key_required`
says whether that is a problem and :attr:`Resolved.key_env_checked` names the variables to
suggest. No key ever appears in a repr or a message from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from .dialects import DIALECT_NAMES, PROMPT_DIALECT_NAMES
from .endpoint import redact_url, split_url
from .provider_table import (
    OLLAMA_DEFAULT_PORT,
    OPENAI_BASE_ENV,
    PROVIDERS,
    Provider,
    first_set,
    get_provider,
    is_local,
    provider_for_base_url,
)
from .values import Value
from .values import value as value_class  # "value" is a common local name here

if TYPE_CHECKING:
    from .sigv4 import AWSCredentials  # Resolved.aws_credentials: Bedrock only

__all__ = [
    "PROVIDERS",
    "Provider",
    "Resolved",
    "get_provider",
    "ollama_base_url",
    "provider_for_base_url",
    "resolve",
]

_VERTEX_PROVIDERS: Final = frozenset({"vertex", "vertex-anthropic"})


@value_class(no_repr=("api_key", "aws_credentials"))
class Resolved(Value):
    """Everything a binding needs to build an :class:`~libchatty.endpoint.Endpoint`.

    ``api_key`` is None when none was given or found: ``key_required`` says whether the
    provider needs one and ``key_env_checked`` lists the variables that were tried, in
    order, to name in the error. ``provider`` is None for an unknown host.
    """

    __slots__ = (  # noqa: RUF023 - the fields, in order
        "base_url",
        "api_key",
        "dialect",
        "key_env_checked",
        "provider",
        "include_usage",
        "headers",
        "key_required",
        "region",
        "aws_credentials",
        "max_tokens_field",
    )
    base_url: str
    api_key: str | None
    dialect: str
    key_env_checked: tuple[str, ...]
    provider: str | None
    include_usage: bool
    headers: Mapping[str, str]
    key_required: bool
    #: AWS Bedrock only: the region, and the access keys to sign with when no API key.
    region: str | None
    aws_credentials: AWSCredentials | None
    #: ``Endpoint.max_tokens_field`` (None: the endpoint decides by host).
    max_tokens_field: str | None

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        dialect: str,
        key_env_checked: tuple[str, ...],
        provider: str | None,
        include_usage: bool,
        headers: Mapping[str, str],
        key_required: bool = True,
        region: str | None = None,
        aws_credentials: AWSCredentials | None = None,
        max_tokens_field: str | None = None,
    ) -> None:
        given: tuple[object, ...]
        given = (base_url, api_key, dialect, key_env_checked, provider, include_usage, headers)
        given += (key_required, region, aws_credentials, max_tokens_field)
        for slot, item in zip(self.__slots__, given, strict=True):
            object.__setattr__(self, slot, item)

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "'***'"
        return (
            f"Resolved(base_url={redact_url(self.base_url)!r}, api_key={key}, "
            f"dialect={self.dialect!r}, "
            f"provider={self.provider!r}, key_env_checked={self.key_env_checked!r})"
        )


def ollama_base_url(value: str) -> str:
    """Normalise an ``OLLAMA_HOST`` value as ollama-python does: no scheme means
    ``http://`` and port 11434; a scheme without port means 80/443; ``":11435"`` means
    the local host. ``0.0.0.0`` (a server's bind-all address) becomes ``127.0.0.1`` so
    that a client can connect on every OS. Raises ``ValueError`` for a bad port."""
    value = value.strip()
    if "://" in value:
        scheme, _, rest = value.partition("://")
        scheme = scheme.lower()
        default_port = 443 if scheme == "https" else 80
    else:
        scheme, rest, default_port = "http", value, OLLAMA_DEFAULT_PORT
    hostport, _, path = rest.partition("/")
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host, port = hostport, ""  # a name, or a bare IPv6 address
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"OLLAMA_HOST has an invalid port: {port!r}")
    shown = f"[{host}]" if ":" in host else host
    path = path.rstrip("/")
    return f"{scheme}://{shown}:{port or default_port}" + (f"/{path}" if path else "")


def _checked_url(variable: str, value: str) -> str:
    """An override variable's URL, refused with a message naming the variable when it is
    not an http(s) URL (Endpoint's own message could not say where it came from)."""
    if split_url(value).scheme not in ("http", "https"):
        raise ValueError(
            f"{variable} must be an http:// or https:// URL, not {redact_url(value)!r}"
        )
    return value


def _provider_base_url(provider: Provider, env: Mapping[str, str]) -> str:
    name, value = first_set(env, provider.base_url_env)
    if name is None or value is None:
        return provider.base_url
    if name == "OLLAMA_HOST":
        base = ollama_base_url(value)
        return base + "/v1" if provider.dialect == "openai-chat" else base
    return _checked_url(name, value)


def resolve(
    provider: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    dialect: str | None = None,
    env: Mapping[str, str] | None = None,
    region: str | None = None,
    project: str | None = None,
    location: str | None = None,
) -> Resolved:
    """Apply the conventions (see the module docstring) and say where to connect and
    with which key. Raises ``ValueError`` only for an unknown provider or dialect name
    (or an invalid ``OLLAMA_HOST``, or Bedrock without a region), never for a missing
    key. ``region`` is for AWS Bedrock; ``project`` and ``location`` for Vertex AI."""
    env = env if env is not None else {}
    from_table = provider is not None and base_url is None
    if dialect is not None and dialect not in DIALECT_NAMES + PROMPT_DIALECT_NAMES:
        known_names = ", ".join(DIALECT_NAMES + PROMPT_DIALECT_NAMES)
        raise ValueError(f"unknown dialect {dialect!r}; known: {known_names}")
    from_openai_env = False
    known: Provider | None
    if provider is not None:
        known = get_provider(provider)
        if base_url is None and known.name in _VERTEX_PROVIDERS:
            from .clouds import vertex_base_url  # each cloud's rules: only for that cloud

            base_url = vertex_base_url(project, location, env)
        elif base_url is None:
            base_url = _provider_base_url(known, env)
    else:
        if base_url is None:
            name, value = first_set(env, OPENAI_BASE_ENV)
            if name is not None and value is not None:
                base_url = _checked_url(name, value)
                from_openai_env = True
        if base_url is None:
            known = PROVIDERS["openai"]
            base_url = known.base_url
        else:
            known = provider_for_base_url(base_url)
    host = (split_url(base_url).hostname or "") if "://" in base_url else ""
    local = bool(host) and is_local(host)

    key_env: tuple[str, ...]
    if known is not None:
        key_env = known.key_env
        if from_openai_env and "OPENAI_API_KEY" not in key_env:
            key_env = (*key_env, "OPENAI_API_KEY")
        key_required = known.key_required and not local
    else:
        # An unknown OpenAI-compatible server: the openai SDK convention is OPENAI_API_KEY.
        key_env = ("OPENAI_API_KEY",)
        key_required = False
    from_env_key = api_key is None
    if api_key is None:
        _, api_key = first_set(env, key_env)
    aws_credentials = None
    if known is not None and known.name == "bedrock":
        from .clouds import AWS_KEY_ENV, aws_access_keys, bedrock_base_url

        base_url, region = bedrock_base_url(base_url, region, env, from_table)
        if api_key is None:
            aws_credentials = aws_access_keys(env)
            key_required = aws_credentials is None
            key_env = (*key_env, *AWS_KEY_ENV)

    headers: dict[str, str] = dict(known.headers) if known is not None else {}
    if known is not None and known.name == "azure":
        from .clouds import azure_auth, azure_base_url

        base_url = azure_base_url(base_url, env)
        explicit = None if from_env_key else api_key
        api_key = azure_auth(explicit, env, headers)
        key_required = key_required and api_key is None and "api-key" not in headers
    if known is not None and known.name in ("openai", "openai-responses"):
        for variable, header in (
            ("OPENAI_ORG_ID", "OpenAI-Organization"),
            ("OPENAI_PROJECT_ID", "OpenAI-Project"),
        ):
            value = env.get(variable, "").strip()
            if value:
                headers[header] = value
    return Resolved(
        base_url=base_url,
        api_key=api_key,
        dialect=dialect or (known.dialect if known is not None else "openai-chat"),
        key_env_checked=key_env,
        provider=known.name if known is not None else None,
        include_usage=known.include_usage if known is not None else True,
        headers=headers,
        key_required=key_required,
        max_tokens_field=known.max_tokens_field if known is not None else None,
        region=region if known is not None and known.name == "bedrock" else None,
        aws_credentials=aws_credentials,
    )
