"""Endpoint: URL parsing, the Host header, and the key kept out of sight."""

from __future__ import annotations

import pytest

from libchatty.endpoint import Endpoint

KEY = "sk-secret-EXAMPLE-1234"


def test_url_parts_and_defaults() -> None:
    endpoint = Endpoint("https://api.groq.com/openai/v1/", KEY)
    assert (endpoint.scheme, endpoint.host, endpoint.port) == ("https", "api.groq.com", 443)
    assert endpoint.tls
    assert endpoint.url("/chat/completions") == "/openai/v1/chat/completions"
    assert endpoint.host_header == "api.groq.com"


def test_non_default_port_shows_in_host_header() -> None:
    endpoint = Endpoint("http://127.0.0.1:8080/v1")
    assert endpoint.port == 8080 and not endpoint.tls
    assert endpoint.host_header == "127.0.0.1:8080"
    assert Endpoint("http://[::1]:9/v1").host_header == "[::1]:9"


def test_key_never_in_repr_or_str() -> None:
    endpoint = Endpoint("https://api.openai.com/v1", KEY)
    assert KEY not in repr(endpoint)
    assert KEY not in str(endpoint)
    assert "***" in repr(endpoint)


@pytest.mark.parametrize(
    "url", ["ftp://x/v1", "api.openai.com/v1", "https:///v1", "http://x:99999/", "https://u:p@x/"]
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        Endpoint(url)


@pytest.mark.parametrize("bad", [KEY + "\r\nX-Evil: 1", KEY + "\n", "k\x00"])
def test_header_breaking_key_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        Endpoint("https://api.openai.com/v1", bad)
    assert KEY not in str(info.value)
    assert "API key" in str(info.value)


def test_header_breaking_extra_header_is_refused() -> None:
    with pytest.raises(ValueError, match="control character"):
        Endpoint("https://x/v1", headers={"X-Title": "a\r\nb"})
