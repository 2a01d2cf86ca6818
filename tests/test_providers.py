"""The provider table and the environment conventions of ``libchatty.providers``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.dialects import DIALECT_NAMES
from libchatty.endpoint import Endpoint
from libchatty.providers import (
    PROVIDERS,
    Provider,
    get_provider,
    ollama_base_url,
    provider_for_base_url,
    resolve,
)

SECRET = "sk-SECRET-must-not-leak"

REQUIRED = {
    "openai",
    "groq",
    "fireworks",
    "mistral",
    "hyperbolic",
    "deepseek",
    "llama",
    "moonshot",
    "openrouter",
    "together",
    "vllm",
    "llamacpp",
    "ollama-openai",
    "anthropic",
    "gemini",
    "ollama",
    "openai-responses",
    "cohere",
}


# --- the table ------------------------------------------------------------------------
def test_every_required_provider_is_there() -> None:
    assert set(PROVIDERS) >= REQUIRED


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_entry_is_usable(name: str) -> None:
    provider = PROVIDERS[name]
    assert isinstance(provider, Provider)
    assert provider.name == name
    assert provider.dialect in DIALECT_NAMES
    # Each base URL builds an Endpoint: scheme, host and prefix are valid.
    endpoint = Endpoint(provider.base_url, None, provider.dialect)
    assert endpoint.host
    for variable in (*provider.key_env, *provider.base_url_env):
        assert variable.isupper() and " " not in variable


@pytest.mark.parametrize(
    ("name", "base_url", "key_env"),
    [
        ("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",)),
        ("groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
        ("fireworks", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",)),
        ("mistral", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
        ("hyperbolic", "https://api.hyperbolic.xyz/v1", ("HYPERBOLIC_API_KEY",)),
        ("deepseek", "https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
        ("llama", "https://api.llama.com/compat/v1", ("LLAMA_API_KEY",)),
        ("moonshot", "https://api.moonshot.ai/v1", ("MOONSHOT_API_KEY",)),
        ("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
        ("together", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
        ("anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",)),
        (
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        ),
        ("cohere", "https://api.cohere.com", ("CO_API_KEY", "COHERE_API_KEY")),
    ],
)
def test_hosted_providers(name: str, base_url: str, key_env: tuple[str, ...]) -> None:
    provider = get_provider(name)
    assert provider.base_url == base_url
    assert provider.key_env == key_env
    assert provider.key_required


def test_local_servers_need_no_key() -> None:
    for name in ("vllm", "llamacpp", "ollama", "ollama-openai"):
        assert not PROVIDERS[name].key_required
    assert PROVIDERS["ollama"].base_url == "http://localhost:11434"
    assert PROVIDERS["ollama-openai"].base_url == "http://localhost:11434/v1"


def test_get_provider_is_forgiving_about_case_and_aliases() -> None:
    assert get_provider("Groq").name == "groq"
    assert get_provider(" llama.cpp ").name == "llamacpp"
    assert get_provider("kimi").name == "moonshot"


def test_get_provider_unknown_lists_names() -> None:
    with pytest.raises(ValueError, match="unknown provider 'nope'") as info:
        get_provider("nope")
    for name in ("openai", "groq", "anthropic"):
        assert name in str(info.value)


# --- base URL -> provider ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://api.openai.com/v1/", "openai"),
        ("https://API.DeepSeek.com", "deepseek"),
        ("https://api.moonshot.cn/v1", "moonshot"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://api.together.ai/v1", "together"),
        ("https://api.anthropic.com", "anthropic"),
        ("https://api.cohere.com", "cohere"),
        ("https://generativelanguage.googleapis.com/v1beta", "gemini"),
        ("https://generativelanguage.googleapis.com/v1beta/openai/", "gemini-openai"),
        ("http://localhost:8000/v1", "vllm"),
        ("http://127.0.0.1:8080/v1", "llamacpp"),
        ("http://localhost:11434", "ollama"),
        ("http://localhost:11434/v1", "ollama-openai"),
    ],
)
def test_provider_for_base_url(url: str, name: str) -> None:
    found = provider_for_base_url(url)
    assert found is not None and found.name == name


@pytest.mark.parametrize(
    "url",
    ["https://example.com/v1", "https://notapi.groq.com.evil.example/v1", "nonsense", ""],
)
def test_provider_for_unknown_base_url(url: str) -> None:
    assert provider_for_base_url(url) is None


def test_lookalike_host_is_not_the_provider() -> None:
    # "evil-api.groq.com" is not a subdomain of api.groq.com; "x.api.groq.com" is.
    assert provider_for_base_url("https://evilapi.groq.com/v1") is None
    found = provider_for_base_url("https://eu.api.groq.com/v1")
    assert found is not None and found.name == "groq"


# --- OLLAMA_HOST ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("example.com", "http://example.com:11434"),
        ("example.com:8080", "http://example.com:8080"),
        (":11435", "http://127.0.0.1:11435"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com", "https://example.com:443"),
        ("https://example.com:8443/ollama/", "https://example.com:8443/ollama"),
        ("[::1]:9000", "http://[::1]:9000"),
        ("[::1]", "http://[::1]:11434"),
    ],
)
def test_ollama_host_normalisation(value: str, url: str) -> None:
    assert ollama_base_url(value) == url


def test_ollama_host_bad_port() -> None:
    with pytest.raises(ValueError, match="port"):
        ollama_base_url("localhost:99999")


# --- resolve ------------------------------------------------------------------------------
def test_default_is_openai_with_openai_key() -> None:
    r = resolve(env={"OPENAI_API_KEY": SECRET})
    assert (r.base_url, r.api_key, r.dialect, r.provider) == (
        "https://api.openai.com/v1",
        SECRET,
        "openai-chat",
        "openai",
    )
    assert r.key_env_checked == ("OPENAI_API_KEY",)
    assert r.include_usage and r.key_required


def test_openai_base_url_then_api_base() -> None:
    env = {"OPENAI_API_BASE": "https://old.example/v1", "OPENAI_API_KEY": SECRET}
    assert resolve(env=env).base_url == "https://old.example/v1"
    env["OPENAI_BASE_URL"] = "https://new.example/v1"
    r = resolve(env=env)
    assert r.base_url == "https://new.example/v1"
    assert r.api_key == SECRET and r.provider is None and r.dialect == "openai-chat"
    assert resolve("openai", env=env).base_url == "https://new.example/v1"


def test_blank_variables_count_as_unset() -> None:
    r = resolve(env={"OPENAI_BASE_URL": "  ", "OPENAI_API_KEY": ""})
    assert r.base_url == "https://api.openai.com/v1"
    assert r.api_key is None


def test_key_chosen_by_base_url_host() -> None:
    env = {"GROQ_API_KEY": "gsk-groq", "OPENAI_API_KEY": SECRET}
    r = resolve(base_url="https://api.groq.com/openai/v1", env=env)
    assert r.api_key == "gsk-groq" and r.provider == "groq"
    assert r.key_env_checked == ("GROQ_API_KEY",)


def test_explicit_base_url_never_gets_another_providers_key() -> None:
    r = resolve(base_url="https://api.groq.com/openai/v1", env={"OPENAI_API_KEY": SECRET})
    assert r.api_key is None
    assert r.key_required and r.key_env_checked == ("GROQ_API_KEY",)


def test_openai_base_url_env_pointing_elsewhere_accepts_openai_key() -> None:
    # The openai SDK convention: OPENAI_API_KEY goes with OPENAI_BASE_URL.
    env = {"OPENAI_BASE_URL": "https://api.groq.com/openai/v1", "OPENAI_API_KEY": "k1"}
    r = resolve(env=env)
    assert r.provider == "groq" and r.api_key == "k1"
    assert r.key_env_checked == ("GROQ_API_KEY", "OPENAI_API_KEY")
    r = resolve(env={**env, "GROQ_API_KEY": "k2"})
    assert r.api_key == "k2"


def test_named_provider() -> None:
    r = resolve("deepseek", env={"DEEPSEEK_API_KEY": "dk"})
    assert (r.base_url, r.api_key, r.provider) == ("https://api.deepseek.com", "dk", "deepseek")
    r = resolve("mistral", env={})
    assert r.api_key is None and r.key_required and not r.include_usage
    assert r.key_env_checked == ("MISTRAL_API_KEY",)


def test_gemini_key_order() -> None:
    env = {"GOOGLE_API_KEY": "g2"}
    assert resolve("gemini", env=env).api_key == "g2"
    assert resolve("gemini", env={**env, "GEMINI_API_KEY": "g1"}).api_key == "g1"
    assert resolve("gemini", env=env).dialect == "gemini"


def test_anthropic_base_url_env() -> None:
    r = resolve("anthropic", env={"ANTHROPIC_BASE_URL": "https://proxy.example"})
    assert r.base_url == "https://proxy.example" and r.dialect == "anthropic"


def test_cohere_key_order_and_base_url_env() -> None:
    env = {"COHERE_API_KEY": "c2", "CO_API_URL": "https://proxy.example"}
    r = resolve("cohere", env=env)
    assert (r.base_url, r.api_key, r.dialect) == ("https://proxy.example", "c2", "cohere")
    assert resolve("cohere", env={**env, "CO_API_KEY": "c1"}).api_key == "c1"
    assert resolve("cohere", env={}).base_url == "https://api.cohere.com"


def test_ollama_host_env() -> None:
    r = resolve("ollama", env={"OLLAMA_HOST": "0.0.0.0:11500"})
    assert r.base_url == "http://127.0.0.1:11500" and r.dialect == "ollama"
    assert not r.key_required and r.api_key is None
    r = resolve("ollama-openai", env={"OLLAMA_HOST": "gpu-box"})
    assert r.base_url == "http://gpu-box:11434/v1" and r.dialect == "openai-chat"


def test_local_servers_need_no_key_even_for_unknown_ports() -> None:
    r = resolve(base_url="http://localhost:1234/v1", env={})
    assert r.provider is None and not r.key_required
    r = resolve(base_url="http://192.168.1.20:8000/v1", env={})
    assert r.provider == "vllm" and not r.key_required
    # A local server does not get the user's OpenAI key unless OPENAI_BASE_URL chose it.
    assert resolve("vllm", env={"OPENAI_API_KEY": SECRET}).api_key is None
    env = {"OPENAI_BASE_URL": "http://localhost:8000/v1", "OPENAI_API_KEY": "dummy"}
    assert resolve(env=env).api_key == "dummy"


def test_explicit_values_win() -> None:
    r = resolve(
        "openai",
        base_url="https://gateway.example/v1",
        api_key="explicit",
        dialect="openai-responses",
        env={"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": "https://ignored.example"},
    )
    assert (r.base_url, r.api_key, r.dialect) == (
        "https://gateway.example/v1",
        "explicit",
        "openai-responses",
    )


def test_malformed_base_url_variable_is_named() -> None:
    with pytest.raises(ValueError, match="OPENAI_BASE_URL must be an http"):
        resolve(env={"OPENAI_BASE_URL": "api.example.com/v1"})
    with pytest.raises(ValueError, match="ANTHROPIC_BASE_URL"):
        resolve("anthropic", env={"ANTHROPIC_BASE_URL": "ftp://x"})


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        resolve(dialect="smoke-signals", env={})


def test_openai_org_and_project_headers() -> None:
    env = {"OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj_2"}
    r = resolve("openai", env=env)
    assert dict(r.headers) == {"OpenAI-Organization": "org-1", "OpenAI-Project": "proj_2"}
    assert dict(resolve("groq", env=env).headers) == {}


def test_resolve_does_not_read_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert resolve().api_key is None


def test_key_never_in_repr() -> None:
    r = resolve(env={"OPENAI_API_KEY": SECRET})
    assert SECRET not in repr(r) and SECRET not in str(r)
    assert "***" in repr(r)


@given(
    provider=st.sampled_from(sorted(PROVIDERS)),
    env=st.dictionaries(
        st.sampled_from(
            [
                "OPENAI_API_KEY",
                "OPENAI_BASE_URL",
                "OPENAI_API_BASE",
                "GROQ_API_KEY",
                "OLLAMA_HOST",
                "GEMINI_API_KEY",
                "OPENAI_ORG_ID",
            ]
        ),
        st.sampled_from(["", " ", "http://localhost:9", "https://api.groq.com/openai/v1", "k"]),
    ),
)
def test_resolve_always_yields_a_usable_endpoint(provider: str, env: dict[str, str]) -> None:
    try:
        r = resolve(provider, env=env)
    except ValueError as exc:  # only a malformed base URL variable, named in the message
        if provider == "bedrock":  # or Bedrock without a region: AWS has no default one
            assert str(exc).startswith("bedrock needs an AWS region: set AWS_REGION")
            return
        if provider in ("vertex", "vertex-anthropic"):  # no project: Google has no default
            assert str(exc).startswith("vertex needs a Google Cloud project")
            return
        if provider == "azure" and "AZURE_OPENAI_ENDPOINT" not in env:  # no default resource
            assert str(exc).startswith("azure needs an endpoint: set AZURE_OPENAI_ENDPOINT")
            return
        assert "_BASE" in str(exc) and "must be an http" in str(exc)
        return
    endpoint = Endpoint(r.base_url, r.api_key, r.dialect, headers=r.headers)
    assert endpoint.host
    if r.api_key is None:
        assert r.key_env_checked or not r.key_required


def test_repr_redacts_the_base_url_query() -> None:
    r = resolve(base_url=f"https://x.example/v1beta?key={SECRET}", dialect="gemini", env={})
    assert repr(r) == (
        "Resolved(base_url='https://x.example/v1beta?key=***', api_key=None, "
        "dialect='gemini', provider=None, key_env_checked=('OPENAI_API_KEY',))"
    )


# --- AWS Bedrock ------------------------------------------------------------------------------
from libchatty.sigv4 import AWSCredentials  # noqa: E402

AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET}


def test_bedrock_region_from_aws_region_then_default_region() -> None:
    both = {**AWS_ENV, "AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-west-2"}
    r = resolve("bedrock", env=both)
    assert (r.base_url, r.region, r.dialect) == (
        "https://bedrock-runtime.eu-west-3.amazonaws.com",
        "eu-west-3",
        "bedrock",
    )
    r = resolve("bedrock", env={**AWS_ENV, "AWS_DEFAULT_REGION": "us-west-2"})
    assert (r.base_url, r.region) == (
        "https://bedrock-runtime.us-west-2.amazonaws.com",
        "us-west-2",
    )
    r = resolve("bedrock", env=both, region="ap-south-1")
    assert (r.base_url, r.region) == (
        "https://bedrock-runtime.ap-south-1.amazonaws.com",
        "ap-south-1",
    )


def test_bedrock_without_a_region_is_refused() -> None:
    with pytest.raises(ValueError, match="bedrock needs an AWS region: set AWS_REGION"):
        resolve("bedrock", env=AWS_ENV)


def test_bedrock_access_keys_sign() -> None:
    env = {**AWS_ENV, "AWS_REGION": "us-east-1", "AWS_SESSION_TOKEN": "TOKEN-xyz"}
    r = resolve("bedrock", env=env)
    assert r.api_key is None and not r.key_required
    assert r.aws_credentials == AWSCredentials("AKIDEXAMPLE", SECRET, "TOKEN-xyz")
    assert SECRET not in repr(r) and "TOKEN-xyz" not in repr(r)
    r = resolve("bedrock", env={**env, "AWS_SESSION_TOKEN": "  "})
    assert r.aws_credentials == AWSCredentials("AKIDEXAMPLE", SECRET, None)


def test_bedrock_api_key_wins_and_is_not_signed() -> None:
    env = {**AWS_ENV, "AWS_REGION": "us-east-1", "AWS_BEARER_TOKEN_BEDROCK": "ABSK-key"}
    r = resolve("bedrock", env=env)
    assert (r.api_key, r.aws_credentials, r.key_env_checked) == (
        "ABSK-key",
        None,
        ("AWS_BEARER_TOKEN_BEDROCK",),
    )


def test_bedrock_without_any_credential_names_every_variable() -> None:
    r = resolve("bedrock", env={"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKID"})
    assert (r.api_key, r.aws_credentials, r.key_required) == (None, None, True)
    assert r.key_env_checked == (
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    )


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://bedrock-runtime.us-west-2.amazonaws.com", "us-west-2"),
        ("https://bedrock-runtime-fips.us-east-1.amazonaws.com", "us-east-1"),
    ],
)
def test_bedrock_base_url_names_the_provider_and_region(url: str, region: str) -> None:
    provider = provider_for_base_url(url)
    assert provider is not None and provider.name == "bedrock"
    r = resolve(base_url=url, env=AWS_ENV)
    assert (r.base_url, r.region, r.provider) == (url, region, "bedrock")


def test_bedrock_lookalike_hosts_are_not_bedrock() -> None:
    for url in (
        "https://bedrock-runtime.us-east-1.amazonaws.com.evil.example",
        "https://evil.bedrock-runtime.us-east-1.amazonaws.com",
        "https://bedrock.us-east-1.amazonaws.com",
    ):
        assert provider_for_base_url(url) is None, url


def test_provider_and_resolved_are_frozen_dataclasses_to_their_users() -> None:
    # Both are values.Value classes (no dataclass machinery at import, issue 14).
    import dataclasses
    import pickle

    assert [f.name for f in dataclasses.fields(Provider)] == [
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
    ]
    groq = get_provider("groq")
    assert dataclasses.replace(groq, name="x") == Provider(
        "x",
        groq.base_url,
        "openai-chat",
        ("GROQ_API_KEY",),
        ("GROQ_BASE_URL",),
        hosts=("api.groq.com",),
        notes=groq.notes,
    )
    assert Provider("a", "http://a", "x").headers == {}
    assert Provider("a", "http://a", "x").headers is not Provider("b", "http://b", "x").headers
    with pytest.raises(dataclasses.FrozenInstanceError):
        groq.name = "other"  # type: ignore[misc]
    resolved = resolve("groq", env={"GROQ_API_KEY": SECRET})
    assert [(f.name, f.repr) for f in dataclasses.fields(resolved)][:3] == [
        ("base_url", True),
        ("api_key", False),
        ("dialect", True),
    ]
    assert pickle.loads(pickle.dumps(resolved)) == resolved
    assert dataclasses.replace(resolved, api_key=None).api_key is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.api_key = None  # type: ignore[misc]


def test_hosted_compatible_providers_are_known_by_their_base_url_host() -> None:
    # provider_table._hosted: the base URL's host (and the extra hosts) name the provider.
    for name in ("fireworks", "mistral", "hyperbolic", "deepseek", "llama", "moonshot"):
        provider = get_provider(name)
        assert provider.dialect == "openai-chat" and len(provider.key_env) == 1
        assert provider_for_base_url(provider.base_url) is provider
    assert provider_for_base_url("https://api.moonshot.cn/v1") is get_provider("moonshot")
    assert provider_for_base_url("https://api.together.ai/v1") is get_provider("together")
    assert get_provider("mistral").include_usage is False


def test_a_provider_holds_its_fields_in_order() -> None:
    openai = PROVIDERS["openai"]
    assert (openai.name, openai.dialect, openai.key_env) == (
        "openai",
        "openai-chat",
        ("OPENAI_API_KEY",),
    )
    made = Provider("x", "https://x.example/v1", "openai-chat", ("X_KEY",), hosts=("x.example",))
    assert made.headers == {} and made.headers is not Provider("y", "u", "d").headers
    assert [getattr(made, name) for name in Provider.__slots__] == [
        "x",
        "https://x.example/v1",
        "openai-chat",
        ("X_KEY",),
        (),
        True,
        {},
        "",
        True,
        ("x.example",),
        None,
    ]
