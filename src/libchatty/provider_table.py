"""The providers libchatty knows: a table of where each lives and how it is reached.

Pure data, and the lookups that read it: a provider by name (:func:`get_provider`) and
by base URL (:func:`provider_for_base_url`, by host or by a local server's well-known
port), and the first of a provider's variables set in an environment (:func:`first_set`).
Choosing one from the environment is :mod:`libchatty.providers`' job; the clouds' own
conventions (Azure, Bedrock, Vertex) are :mod:`libchatty.clouds`', imported only when
that cloud is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .endpoint import split_url
from .values import Value, set_fields, value

__all__ = [
    "PROVIDERS",
    "Provider",
    "bedrock_region",
    "first_set",
    "get_provider",
    "is_local",
    "provider_for_base_url",
]

OPENAI_BASE_ENV: Final = ("OPENAI_BASE_URL", "OPENAI_API_BASE")
OLLAMA_DEFAULT_PORT: Final = 11434
AZURE_TEMPLATE: Final = "https://{resource}.openai.azure.com/openai/v1"
# An Azure key goes in the api-key header; an Entra ID token is a bearer token.
AZURE_KEY_ENV: Final = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")
VERTEX_TEMPLATE: Final = "https://{host}/v1/projects/{project}/locations/{location}"
VERTEX_HOST: Final = "aiplatform.googleapis.com"


# The default ``Provider.headers``: each provider gets a dict of its own (as a
# dataclass's ``default_factory=dict`` would give), so this one is never stored.
_NO_HEADERS: Final[Mapping[str, str]] = {}


@value()
class Provider(Value):
    """One provider: where it lives and how it is reached.

    ``key_env`` and ``base_url_env`` are environment variable names, tried in order.
    ``include_usage`` says whether to send ``stream_options.include_usage`` (off for servers
    that reject the field or send usage anyway). ``headers`` are sent with every request.
    ``hosts`` identify the provider in a base URL (a host or any subdomain of it);
    ``key_required`` is False for servers that usually run without a key.
    """

    __slots__ = (  # noqa: RUF023 - the fields, in order
        "name",
        "base_url",
        "dialect",
        "key_env",
        "base_url_env",
        "include_usage",
        "headers",
        "notes",
        "key_required",
        "hosts",
        "max_tokens_field",
    )
    name: str
    base_url: str
    dialect: str
    key_env: tuple[str, ...]
    base_url_env: tuple[str, ...]
    include_usage: bool
    headers: Mapping[str, str]
    notes: str
    key_required: bool
    hosts: tuple[str, ...]
    #: ``Endpoint.max_tokens_field``: None lets the endpoint decide by host.
    max_tokens_field: str | None

    def __init__(
        self,
        name: str,
        base_url: str,
        dialect: str,
        key_env: tuple[str, ...] = (),
        base_url_env: tuple[str, ...] = (),
        include_usage: bool = True,
        headers: Mapping[str, str] = _NO_HEADERS,
        notes: str = "",
        key_required: bool = True,
        hosts: tuple[str, ...] = (),
        max_tokens_field: str | None = None,
    ) -> None:
        if headers is _NO_HEADERS:
            headers = {}
        set_fields(
            self,
            name,
            base_url,
            dialect,
            key_env,
            base_url_env,
            include_usage,
            headers,
            notes,
            key_required,
            hosts,
            max_tokens_field,
        )


def _hosted(
    name: str,
    location: str,
    key_variable: str,
    *,
    include_usage: bool = True,
    also: tuple[str, ...] = (),
    notes: str = "",
) -> Provider:
    """An OpenAI-compatible API at ``https://{location}`` (host and path), keyed by
    ``key_variable`` and known by the host of its base URL (and the hosts in ``also``)."""
    host = location.partition("/")[0]
    return Provider(
        name,
        f"https://{location}",
        "openai-chat",
        (key_variable,),
        include_usage=include_usage,
        hosts=(host, *also),
        notes=notes,
    )


def _table(*providers: Provider) -> dict[str, Provider]:
    return {p.name: p for p in providers}


#: Every known provider by name.
PROVIDERS: Final[Mapping[str, Provider]] = _table(
    Provider(
        "openai",
        "https://api.openai.com/v1",
        "openai-chat",
        ("OPENAI_API_KEY",),
        OPENAI_BASE_ENV,
        hosts=("api.openai.com",),
        notes="OPENAI_ORG_ID / OPENAI_PROJECT_ID become OpenAI-Organization / OpenAI-Project.",
    ),
    Provider(
        "azure",
        AZURE_TEMPLATE,
        "openai-chat",
        AZURE_KEY_ENV,
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
        OPENAI_BASE_ENV,
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
    _hosted(
        "fireworks",
        "api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        notes="Model ids look like accounts/fireworks/models/<name>.",
    ),
    _hosted(
        "mistral",
        "api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        include_usage=False,
        notes="Usage arrives on the finish chunk unasked; error bodies are not OpenAI-shaped.",
    ),
    _hosted("hyperbolic", "api.hyperbolic.xyz/v1", "HYPERBOLIC_API_KEY"),
    _hosted(
        "deepseek",
        "api.deepseek.com",
        "DEEPSEEK_API_KEY",
        notes="Reasoning in delta.reasoning_content; ': keep-alive' comments while queued.",
    ),
    _hosted(
        "llama",
        "api.llama.com/compat/v1",
        "LLAMA_API_KEY",
        notes="Meta's Llama API, OpenAI-compatible endpoint (the native one differs).",
    ),
    _hosted(
        "moonshot",
        "api.moonshot.ai/v1",
        "MOONSHOT_API_KEY",
        include_usage=False,
        also=("api.moonshot.cn",),
        notes="Kimi; mainland China: https://api.moonshot.cn/v1. Usage inside the finish choice.",
    ),
    _hosted(
        "openrouter",
        "openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        notes="Optional HTTP-Referer and X-Title headers; errors may arrive inside 200 streams.",
    ),
    _hosted("together", "api.together.xyz/v1", "TOGETHER_API_KEY", also=("api.together.ai",)),
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
        VERTEX_TEMPLATE,
        "gemini",
        ("GOOGLE_OAUTH_ACCESS_TOKEN",),
        notes=(
            "Google Vertex AI, Gemini models; GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION "
            "(default global); an OAuth access token as the key."
        ),
    ),
    Provider(
        "vertex-anthropic",
        VERTEX_TEMPLATE,
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
_LOCAL_PORTS: Final = {8000: "vllm", 8080: "llamacpp", OLLAMA_DEFAULT_PORT: "ollama"}


def get_provider(name: str) -> Provider:
    """The provider called ``name`` (case-insensitive, a few aliases); ``ValueError``
    listing the known names otherwise."""
    key = name.strip().lower()
    provider = PROVIDERS.get(_ALIASES.get(key, key))
    if provider is None:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
    return provider


def is_local(host: str) -> bool:
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
        parts = split_url(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    path = parts.path.rstrip("/")
    if host == "generativelanguage.googleapis.com" and path.endswith("/openai"):
        return PROVIDERS["gemini-openai"]
    if bedrock_region(host) is not None:
        return PROVIDERS["bedrock"]
    if host == VERTEX_HOST or host.endswith("-" + VERTEX_HOST):
        return PROVIDERS["vertex"]
    for provider in PROVIDERS.values():
        if any(host == h or host.endswith("." + h) for h in provider.hosts):
            return provider
    if is_local(host) and port in _LOCAL_PORTS:
        name = _LOCAL_PORTS[port]
        if name == "ollama" and path.startswith("/v1"):
            name = "ollama-openai"
        return PROVIDERS[name]
    return None


def bedrock_region(host: str) -> str | None:
    """The region of a Bedrock runtime host: ``bedrock-runtime[-fips].<region>.amazonaws.com``."""
    parts = host.split(".")
    runtime = parts[0] in ("bedrock-runtime", "bedrock-runtime-fips")
    if len(parts) == 4 and runtime and parts[2:] == ["amazonaws", "com"] and parts[1]:
        return parts[1]
    return None


def first_set(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    """``(name, value)`` of the first variable set to a non-blank value."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None, None
