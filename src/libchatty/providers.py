"""The providers libchatty knows, and the conventions that pick one from the environment.

Pure data and pure functions: nothing here reads ``os.environ``. A binding passes the
environment in (``resolve(..., env=os.environ)``) and builds an
:class:`~libchatty.endpoint.Endpoint` from the :class:`Resolved` answer.

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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from .dialects import DIALECT_NAMES, PROMPT_DIALECT_NAMES
from .endpoint import redact_url

if TYPE_CHECKING:
    from .sigv4 import AWSCredentials  # imported by _aws_credentials: Bedrock only

__all__ = [
    "PROVIDERS",
    "Provider",
    "Resolved",
    "get_provider",
    "ollama_base_url",
    "provider_for_base_url",
    "resolve",
]

_OPENAI_BASE_ENV: Final = ("OPENAI_BASE_URL", "OPENAI_API_BASE")
_OLLAMA_DEFAULT_PORT: Final = 11434
_AWS_REGION_ENV: Final = ("AWS_REGION", "AWS_DEFAULT_REGION")
_AWS_KEY_ENV: Final = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
_AZURE_TEMPLATE: Final = "https://{resource}.openai.azure.com/openai/v1"
# An Azure key goes in the api-key header; an Entra ID token is a bearer token.
_AZURE_KEY_ENV: Final = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")
_VERTEX_PROVIDERS: Final = frozenset({"vertex", "vertex-anthropic"})
_VERTEX_TEMPLATE: Final = "https://{host}/v1/projects/{project}/locations/{location}"
_VERTEX_HOST: Final = "aiplatform.googleapis.com"
# A project id or a location: it becomes part of the host name and of the path.
_VERTEX_NAME: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider: where it lives and how it is reached.

    ``key_env`` and ``base_url_env`` are environment variable names, tried in order.
    ``include_usage`` says whether to send ``stream_options.include_usage`` (off for servers
    that reject the field or send usage anyway). ``headers`` are sent with every request.
    ``hosts`` identify the provider in a base URL (a host or any subdomain of it);
    ``key_required`` is False for servers that usually run without a key.
    """

    name: str
    base_url: str
    dialect: str
    key_env: tuple[str, ...] = ()
    base_url_env: tuple[str, ...] = ()
    include_usage: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""
    key_required: bool = True
    hosts: tuple[str, ...] = ()
    #: ``Endpoint.max_tokens_field``: None lets the endpoint decide by host.
    max_tokens_field: str | None = None


def _table(*providers: Provider) -> dict[str, Provider]:
    return {p.name: p for p in providers}


#: Every known provider by name.
PROVIDERS: Final[Mapping[str, Provider]] = _table(
    Provider(
        "openai",
        "https://api.openai.com/v1",
        "openai-chat",
        ("OPENAI_API_KEY",),
        _OPENAI_BASE_ENV,
        hosts=("api.openai.com",),
        notes="OPENAI_ORG_ID / OPENAI_PROJECT_ID become OpenAI-Organization / OpenAI-Project.",
    ),
    Provider(
        "azure",
        _AZURE_TEMPLATE,
        "openai-chat",
        _AZURE_KEY_ENV,
        ("AZURE_OPENAI_ENDPOINT",),
        hosts=("openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com"),
        notes=(
            "Azure OpenAI. AZURE_OPENAI_ENDPOINT (the resource) gets /openai/v1 (model in the "
            "body); a base URL .../openai/deployments/<name> is the deployments API (needs "
            "OPENAI_API_VERSION or ?api-version=). AZURE_OPENAI_API_KEY is sent as api-key, "
            "AZURE_OPENAI_AD_TOKEN (Entra ID) as a bearer token."
        ),
        max_tokens_field="max_completion_tokens",
    ),
    Provider(
        "openai-responses",
        "https://api.openai.com/v1",
        "openai-responses",
        ("OPENAI_API_KEY",),
        _OPENAI_BASE_ENV,
        notes="The Responses API (POST /responses) of OpenAI.",
    ),
    Provider(
        "groq",
        "https://api.groq.com/openai/v1",
        "openai-chat",
        ("GROQ_API_KEY",),
        ("GROQ_BASE_URL",),
        hosts=("api.groq.com",),
        notes="Usage also in x_groq.usage on the finish chunk.",
    ),
    Provider(
        "fireworks",
        "https://api.fireworks.ai/inference/v1",
        "openai-chat",
        ("FIREWORKS_API_KEY",),
        hosts=("api.fireworks.ai",),
        notes="Model ids look like accounts/fireworks/models/<name>.",
    ),
    Provider(
        "mistral",
        "https://api.mistral.ai/v1",
        "openai-chat",
        ("MISTRAL_API_KEY",),
        include_usage=False,
        hosts=("api.mistral.ai",),
        notes="Usage arrives on the finish chunk unasked; error bodies are not OpenAI-shaped.",
    ),
    Provider(
        "hyperbolic",
        "https://api.hyperbolic.xyz/v1",
        "openai-chat",
        ("HYPERBOLIC_API_KEY",),
        hosts=("api.hyperbolic.xyz",),
    ),
    Provider(
        "deepseek",
        "https://api.deepseek.com",
        "openai-chat",
        ("DEEPSEEK_API_KEY",),
        hosts=("api.deepseek.com",),
        notes="Reasoning in delta.reasoning_content; ': keep-alive' comments while queued.",
    ),
    Provider(
        "llama",
        "https://api.llama.com/compat/v1",
        "openai-chat",
        ("LLAMA_API_KEY",),
        hosts=("api.llama.com",),
        notes="Meta's Llama API, OpenAI-compatible endpoint (the native one differs).",
    ),
    Provider(
        "moonshot",
        "https://api.moonshot.ai/v1",
        "openai-chat",
        ("MOONSHOT_API_KEY",),
        include_usage=False,
        hosts=("api.moonshot.ai", "api.moonshot.cn"),
        notes="Kimi; mainland China: https://api.moonshot.cn/v1. Usage inside the finish choice.",
    ),
    Provider(
        "openrouter",
        "https://openrouter.ai/api/v1",
        "openai-chat",
        ("OPENROUTER_API_KEY",),
        hosts=("openrouter.ai",),
        notes="Optional HTTP-Referer and X-Title headers; errors may arrive inside 200 streams.",
    ),
    Provider(
        "together",
        "https://api.together.xyz/v1",
        "openai-chat",
        ("TOGETHER_API_KEY",),
        hosts=("api.together.xyz", "api.together.ai"),
    ),
    Provider(
        "vllm",
        "http://localhost:8000/v1",
        "openai-chat",
        ("VLLM_API_KEY",),
        key_required=False,
        notes="A key only when the server was started with --api-key.",
    ),
    Provider(
        "llamacpp",
        "http://localhost:8080/v1",
        "openai-chat",
        key_required=False,
        notes="llama-server; reports some failures as an 'error:' SSE line.",
    ),
    Provider(
        "ollama-openai",
        "http://localhost:11434/v1",
        "openai-chat",
        ("OLLAMA_API_KEY",),
        ("OLLAMA_HOST",),
        key_required=False,
        notes="Ollama's OpenAI-compatible endpoint; OLLAMA_HOST is normalised, then /v1.",
    ),
    Provider(
        "ollama",
        "http://localhost:11434",
        "ollama",
        ("OLLAMA_API_KEY",),
        ("OLLAMA_HOST",),
        key_required=False,
        hosts=("ollama.com",),
        notes="Native /api/chat; OLLAMA_HOST may lack scheme or port. Cloud: OLLAMA_API_KEY.",
    ),
    Provider(
        "anthropic",
        "https://api.anthropic.com",
        "anthropic",
        ("ANTHROPIC_API_KEY",),
        ("ANTHROPIC_BASE_URL",),
        hosts=("api.anthropic.com",),
    ),
    Provider(
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        "gemini",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        hosts=("generativelanguage.googleapis.com",),
        notes="An OpenAI-compatible endpoint also exists: provider 'gemini-openai'.",
    ),
    Provider(
        "cohere",
        "https://api.cohere.com",
        "cohere",
        ("CO_API_KEY", "COHERE_API_KEY"),
        ("CO_API_URL",),
        hosts=("api.cohere.com",),
    ),
    Provider(
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        "bedrock",
        ("AWS_BEARER_TOKEN_BEDROCK",),
        notes=(
            "AWS Bedrock Converse; {region} from AWS_REGION/AWS_DEFAULT_REGION. Signed with "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN unless a Bedrock API key "
            "(AWS_BEARER_TOKEN_BEDROCK) is set."
        ),
    ),
    Provider(
        "vertex",
        _VERTEX_TEMPLATE,
        "gemini",
        ("GOOGLE_OAUTH_ACCESS_TOKEN",),
        notes=(
            "Google Vertex AI, Gemini models; GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION "
            "(default global); an OAuth access token as the key."
        ),
    ),
    Provider(
        "vertex-anthropic",
        _VERTEX_TEMPLATE,
        "anthropic",
        ("GOOGLE_OAUTH_ACCESS_TOKEN",),
        notes="Google Vertex AI, Claude models (streamRawPredict); as 'vertex' otherwise.",
    ),
    Provider(
        "gemini-openai",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "openai-chat",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        notes="Gemini through its OpenAI-compatible endpoint.",
    ),
)

_ALIASES: Final = {
    "chatgpt": "openai",
    "fireworks-ai": "fireworks",
    "llama-api": "llama",
    "meta": "llama",
    "kimi": "moonshot",
    "together-ai": "together",
    "llama.cpp": "llamacpp",
    "llama-cpp": "llamacpp",
    "google": "gemini",
    "claude": "anthropic",
    "aws": "bedrock",
    "aws-bedrock": "bedrock",
    "azure-openai": "azure",
    "vertex-ai": "vertex",
    "vertexai": "vertex",
    "google-vertex": "vertex",
    "vertex-claude": "vertex-anthropic",
}

# Well-known local ports, to name the server behind a loopback base URL.
_LOCAL_PORTS: Final = {8000: "vllm", 8080: "llamacpp", _OLLAMA_DEFAULT_PORT: "ollama"}


@dataclass(frozen=True, slots=True)
class Resolved:
    """Everything a binding needs to build an :class:`~libchatty.endpoint.Endpoint`.

    ``api_key`` is None when none was given or found: ``key_required`` says whether the
    provider needs one and ``key_env_checked`` lists the variables that were tried, in
    order, to name in the error. ``provider`` is None for an unknown host.
    """

    base_url: str
    api_key: str | None = field(repr=False)
    dialect: str
    key_env_checked: tuple[str, ...]
    provider: str | None
    include_usage: bool
    headers: Mapping[str, str]
    key_required: bool = True
    #: AWS Bedrock only: the region, and the access keys to sign with when no API key.
    region: str | None = None
    aws_credentials: AWSCredentials | None = field(default=None, repr=False)
    #: ``Endpoint.max_tokens_field`` (None: the endpoint decides by host).
    max_tokens_field: str | None = None

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "'***'"
        return (
            f"Resolved(base_url={redact_url(self.base_url)!r}, api_key={key}, "
            f"dialect={self.dialect!r}, "
            f"provider={self.provider!r}, key_env_checked={self.key_env_checked!r})"
        )


def get_provider(name: str) -> Provider:
    """The provider called ``name`` (case-insensitive, a few aliases); ``ValueError``
    listing the known names otherwise."""
    key = name.strip().lower()
    provider = PROVIDERS.get(_ALIASES.get(key, key))
    if provider is None:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
    return provider


def _is_local(host: str) -> bool:
    """Loopback, unspecified, private-range and single-label hosts: servers on the user's
    own machine or network, which usually need no key."""
    host = host.lower().strip("[]")
    if host in ("localhost", "0.0.0.0", "::", "::1", "host.docker.internal"):
        return True
    if host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa")):
        return True
    if "." not in host and ":" not in host:
        return True  # "ollama", "vllm": a container or LAN name
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        a, b = int(parts[0]), int(parts[1])
        return a in (10, 127) or (a, b) == (192, 168) or (a == 172 and 16 <= b <= 31)
    return host.startswith(("fc", "fd", "fe80:")) and ":" in host


def provider_for_base_url(url: str) -> Provider | None:
    """The provider a base URL belongs to, by host (``api.groq.com`` -> groq, any subdomain
    too) or, on a local host, by well-known port (8000 vLLM, 8080 llama.cpp, 11434 Ollama);
    None when unknown or unparsable."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    path = parts.path.rstrip("/")
    if host == "generativelanguage.googleapis.com" and path.endswith("/openai"):
        return PROVIDERS["gemini-openai"]
    if _bedrock_region(host) is not None:
        return PROVIDERS["bedrock"]
    if host == _VERTEX_HOST or host.endswith("-" + _VERTEX_HOST):
        return PROVIDERS["vertex"]
    for provider in PROVIDERS.values():
        if any(host == h or host.endswith("." + h) for h in provider.hosts):
            return provider
    if _is_local(host) and port in _LOCAL_PORTS:
        name = _LOCAL_PORTS[port]
        if name == "ollama" and path.startswith("/v1"):
            name = "ollama-openai"
        return PROVIDERS[name]
    return None


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
        scheme, rest, default_port = "http", value, _OLLAMA_DEFAULT_PORT
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


def _first_set(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    """``(name, value)`` of the first variable set to a non-blank value."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None, None


def _checked_url(variable: str, value: str) -> str:
    """An override variable's URL, refused with a message naming the variable when it is
    not an http(s) URL (Endpoint's own message could not say where it came from)."""
    if urlsplit(value).scheme not in ("http", "https"):
        raise ValueError(
            f"{variable} must be an http:// or https:// URL, not {redact_url(value)!r}"
        )
    return value


def _provider_base_url(provider: Provider, env: Mapping[str, str]) -> str:
    name, value = _first_set(env, provider.base_url_env)
    if name is None or value is None:
        return provider.base_url
    if name == "OLLAMA_HOST":
        base = ollama_base_url(value)
        return base + "/v1" if provider.dialect == "openai-chat" else base
    return _checked_url(name, value)


def _bedrock_region(host: str) -> str | None:
    """The region of a Bedrock runtime host: ``bedrock-runtime[-fips].<region>.amazonaws.com``."""
    parts = host.split(".")
    runtime = parts[0] in ("bedrock-runtime", "bedrock-runtime-fips")
    if len(parts) == 4 and runtime and parts[2:] == ["amazonaws", "com"] and parts[1]:
        return parts[1]
    return None


def _bedrock(
    base_url: str | None, region: str | None, env: Mapping[str, str], from_table: bool
) -> tuple[str, str]:
    """(base URL, region) for Bedrock."""
    if region is None:
        _, region = _first_set(env, _AWS_REGION_ENV)
    if region is None and base_url is not None and not from_table:
        region = _bedrock_region((urlsplit(base_url).hostname or "").lower())
    if region is None:
        raise ValueError(
            "bedrock needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or pass region="
        )
    if base_url is None or from_table:
        base_url = PROVIDERS["bedrock"].base_url.replace("{region}", region)
    return base_url, region


def _vertex_base_url(project: str | None, location: str | None, env: Mapping[str, str]) -> str:
    """The Vertex AI base URL of a project location (see the module)."""
    if project is None:
        _, project = _first_set(env, ("GOOGLE_CLOUD_PROJECT",))
    if project is None:
        raise ValueError(
            "vertex needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT or pass project="
        )
    if location is None:
        _, location = _first_set(env, ("GOOGLE_CLOUD_LOCATION",))
    location = location or "global"
    for what, value in (("project", project), ("location", location)):
        if not _VERTEX_NAME.fullmatch(value):
            raise ValueError(
                f"vertex: the {what} must be lower-case letters, digits and hyphens, "
                f"not {value[:64]!r}"
            )
    host = _VERTEX_HOST if location == "global" else f"{location}-{_VERTEX_HOST}"
    return _VERTEX_TEMPLATE.format(host=host, project=project, location=location)


def _azure_base_url(base_url: str, env: Mapping[str, str]) -> str:
    """Azure's base URL (see the module): a bare resource URL gets ``/openai/v1``;
    ``OPENAI_API_VERSION`` becomes ``?api-version=`` unless the URL has one; a
    deployments URL without an API version is a ``ValueError`` (Azure refuses it)."""
    if base_url == _AZURE_TEMPLATE:
        raise ValueError(
            "azure needs an endpoint: set AZURE_OPENAI_ENDPOINT "
            "(https://<resource>.openai.azure.com) or pass base_url="
        )
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/") or "/openai/v1"
    query = parts.query
    _, version = _first_set(env, ("OPENAI_API_VERSION",))
    if version is not None and "api-version=" not in query:
        query = f"{query}&api-version={version}" if query else f"api-version={version}"
    if "/deployments/" in path and "api-version=" not in query:
        raise ValueError(
            "an Azure deployments URL needs an API version: set OPENAI_API_VERSION or add "
            "?api-version= to the base URL (or use the v1 API: <endpoint>/openai/v1)"
        )
    return parts._replace(path=path, query=query).geturl()


def _azure_auth(
    api_key: str | None, env: Mapping[str, str], headers: dict[str, str]
) -> str | None:
    """The bearer token for Azure, after putting a key in ``headers["api-key"]``: an
    explicit key or ``AZURE_OPENAI_API_KEY`` is an ``api-key``; else
    ``AZURE_OPENAI_AD_TOKEN`` (Entra ID) is the bearer token."""
    key = api_key if api_key is not None else _first_set(env, _AZURE_KEY_ENV[:1])[1]
    if key is not None:
        headers.setdefault("api-key", key)
        return None
    return _first_set(env, _AZURE_KEY_ENV[1:])[1]


def _aws_credentials(env: Mapping[str, str]) -> AWSCredentials | None:
    _, key_id = _first_set(env, _AWS_KEY_ENV[:1])
    _, secret = _first_set(env, _AWS_KEY_ENV[1:])
    if key_id is None or secret is None:
        return None
    from .sigv4 import AWSCredentials

    return AWSCredentials(key_id, secret, _first_set(env, ("AWS_SESSION_TOKEN",))[1])


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
            base_url = _vertex_base_url(project, location, env)
        elif base_url is None:
            base_url = _provider_base_url(known, env)
    else:
        if base_url is None:
            name, value = _first_set(env, _OPENAI_BASE_ENV)
            if name is not None and value is not None:
                base_url = _checked_url(name, value)
                from_openai_env = True
        if base_url is None:
            known = PROVIDERS["openai"]
            base_url = known.base_url
        else:
            known = provider_for_base_url(base_url)
    host = (urlsplit(base_url).hostname or "") if "://" in base_url else ""
    local = bool(host) and _is_local(host)

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
        _, api_key = _first_set(env, key_env)
    aws_credentials = None
    if known is not None and known.name == "bedrock":
        base_url, region = _bedrock(base_url, region, env, from_table)
        if api_key is None:
            aws_credentials = _aws_credentials(env)
            key_required = aws_credentials is None
            key_env = (*key_env, *_AWS_KEY_ENV)

    headers: dict[str, str] = dict(known.headers) if known is not None else {}
    if known is not None and known.name == "azure":
        base_url = _azure_base_url(base_url, env)
        explicit = None if from_env_key else api_key
        api_key = _azure_auth(explicit, env, headers)
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
