"""Endpoint: URL parsing, the Host header, the base URL's query on every request, and the
key and header values checked when built and kept out of sight."""

from __future__ import annotations

import socket
import traceback
from collections.abc import Callable

import pytest

from libchatty.endpoint import Endpoint, check_header_name, check_header_value, redact_url

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


# --- point 2: keys and header values are checked when the endpoint is built -------------------

SECRET = "sk-proj-abcdefgh12345678"
URL = "https://api.openai.com/v1"


def assert_nowhere(secret: str, exc: BaseException) -> None:
    """``secret`` (and its 8-character fragments) appear nowhere in ``exc``: not in its
    str or repr, nor in any exception of its ``__cause__``/``__context__`` chain, nor in
    the formatted traceback."""
    text = "".join(traceback.format_exception(exc))
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        text += str(link) + repr(link) + repr(link.args)
        link = link.__cause__ or link.__context__
    core = secret.strip()
    for start in range(max(1, len(core) - 7)):
        fragment = core[start : start + 8]
        assert fragment not in text, f"fragment {start} of the secret leaked"


def raised_by(build: Callable[[], object]) -> ValueError:
    with pytest.raises(ValueError) as info:
        build()
    assert_nowhere(SECRET, info.value)
    return info.value


KEY_MESSAGE = "Endpoint.api_key (the API key) {}; it was refused (its value is not shown)"


@pytest.mark.parametrize(
    ("key", "fault"),
    [
        ("ключ-" + SECRET, "contains a non-ASCII character"),
        (SECRET + "é", "contains a non-ASCII character"),
        (SECRET + " ", "has leading or trailing whitespace"),
        (" " + SECRET, "has leading or trailing whitespace"),
        (SECRET + "\t", "has leading or trailing whitespace"),
        (SECRET[:8] + " " + SECRET[8:], "contains whitespace"),
        (SECRET[:8] + "\t" + SECRET[8:], "contains whitespace"),
        (SECRET + "\r\nX-Evil: 1", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\n", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\r", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\x00", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\x01", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\x7f", "contains a control character (CR, LF, NUL...)"),
    ],
)
def test_bad_key_is_refused_by_name_without_its_value(key: str, fault: str) -> None:
    error = raised_by(lambda: Endpoint(URL, key))
    assert str(error) == KEY_MESSAGE.format(fault)
    assert error.__cause__ is None and error.__context__ is None


def test_empty_and_non_str_keys_are_refused() -> None:
    assert str(raised_by(lambda: Endpoint(URL, ""))) == (
        "Endpoint.api_key is empty; pass None for no key"
    )
    error = raised_by(lambda: Endpoint(URL, SECRET.encode()))  # type: ignore[arg-type]
    assert str(error) == "Endpoint.api_key must be a str, not bytes"


def test_every_visible_ascii_character_is_a_valid_key() -> None:
    key = "".join(chr(c) for c in range(0x21, 0x7F))
    assert Endpoint(URL, key).api_key == key
    assert Endpoint(URL, "k").api_key == "k"  # one character: the shortest key


VALUE_MESSAGE = (
    "Endpoint.headers: the value of header 'X-Token' {}; it was refused (its value is not shown)"
)


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        ("ключ " + SECRET, "contains a non-ASCII character"),
        (SECRET + " ", "has leading or trailing whitespace"),
        (" " + SECRET, "has leading or trailing whitespace"),
        ("\t" + SECRET, "has leading or trailing whitespace"),
        (SECRET + "\r\nX-Evil: 1", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\n", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\x00", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\x1b", "contains a control character (CR, LF, NUL...)"),
        (SECRET + "\x0b" + "x", "contains a control character (CR, LF, NUL...)"),
    ],
)
def test_bad_header_value_is_refused_by_name_without_its_value(value: str, fault: str) -> None:
    error = raised_by(lambda: Endpoint(URL, headers={"X-Token": value}))
    assert str(error) == VALUE_MESSAGE.format(fault)


@pytest.mark.parametrize(
    ("value", "kind"), [(SECRET.encode(), "bytes"), (None, "NoneType"), (12, "int")]
)
def test_non_str_header_value_is_refused(value: object, kind: str) -> None:
    error = raised_by(lambda: Endpoint(URL, headers={"X-Token": value}))  # type: ignore[dict-item]
    assert (
        str(error) == f"Endpoint.headers: the value of header 'X-Token' must be a str, not {kind}"
    )


@pytest.mark.parametrize("value", ["", "Bearer " + SECRET, "a b\tc", "a  \t b", "~!#"])
def test_header_values_h11_accepts_and_we_keep(value: str) -> None:
    assert Endpoint(URL, headers={"X-Token": value}).headers == {"X-Token": value}


@pytest.mark.parametrize("name", ["X Token", "X-Token:", "", "Ключ", "X\r\nEvil", b"X-Token", None])
def test_header_name_must_be_a_token(name: object) -> None:
    with pytest.raises(ValueError) as info:
        Endpoint(URL, headers={"X-Ok": "1", name: "v"})  # type: ignore[dict-item]
    want = (
        "Endpoint.headers: the name of header #1 is not a valid HTTP header name "
        "(letters, digits, -!#$%&'*+.^_`|~)"
        if isinstance(name, str)
        else f"Endpoint.headers: the name of header #1 must be a str, not {type(name).__name__}"
    )
    assert str(info.value) == want


def test_check_helpers_match_h11_on_what_we_accept() -> None:
    """Whatever our checks accept, h11 accepts too (ours are at least as strict)."""
    import h11

    names = ["X-A", "x_b", "A1!#$%&'*+.^_`|~"]
    values = ["", "v", "a b", "a\tb", "".join(chr(c) for c in range(0x21, 0x7F))]
    for name in names:
        check_header_name("n", name)
        for value in values:
            check_header_value("v", value)
            h11.Request(method="GET", target="/", headers=[("Host", "x"), (name, value)])


def test_bad_base_url_characters_are_refused_without_the_query() -> None:
    for url in [
        "https://x/v1?key=" + SECRET + " ",
        "https://x/v1?key=" + SECRET + "\n",
        "https://ключ.example/v1?key=" + SECRET,
    ]:
        error = raised_by(lambda url=url: Endpoint(url))
        assert str(error) == (
            "Endpoint.base_url must be visible ASCII without spaces "
            "(percent-encode other characters)"
        )


def test_url_errors_redact_the_query() -> None:
    error = raised_by(lambda: Endpoint(f"ftp://x/v1?key={SECRET}"))
    assert str(error) == "Endpoint.base_url must be http:// or https://, not 'ftp://x/v1?key=***'"
    error = raised_by(lambda: Endpoint(f"https://x:99999/v1?key={SECRET}"))
    assert str(error) == "Endpoint.base_url has an invalid port: 'https://x:99999/v1?key=***'"
    error = raised_by(lambda: Endpoint(f"https://u:{SECRET}@x/v1"))
    assert str(error) == "Endpoint.base_url must not carry credentials; pass api_key"


def test_blocking_client_refuses_a_non_ascii_key_before_connecting() -> None:
    from libchatty.bindings.blocking import Client

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(ValueError) as info:
            Client(base_url=f"http://127.0.0.1:{port}/v1", api_key="ключ-" + SECRET)
        assert str(info.value) == KEY_MESSAGE.format("contains a non-ASCII character")
        assert_nowhere(SECRET, info.value)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected


# --- point 3: reprs redact the base URL's query ------------------------------------------------
def test_repr_redacts_every_query_value() -> None:
    endpoint = Endpoint(f"https://x/v1beta?key={SECRET}&api-version=2024-10-21", SECRET)
    assert repr(endpoint) == (
        "Endpoint(base_url='https://x/v1beta?key=***&api-version=***', api_key='***', "
        "dialect='openai-chat')"
    )
    assert SECRET not in str(endpoint)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://x/v1", "https://x/v1"),
        ("https://x/v1?flag", "https://x/v1?flag"),
        ("https://x/v1?a=1&b=&c", "https://x/v1?a=***&b=***&c"),
        ("https://u:p@x:8/v1?key=k#frag", "https://***@x:8/v1?key=***"),
        # At the edges: a URL urlsplit refuses, two "@", an empty query.
        ("http://[::1/v1?key=k", "<invalid URL>"),
        ("https://a@b@x/v1", "https://***@x/v1"),
        ("https://x/v1?", "https://x/v1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# --- point 12: the base URL's query reaches every request -------------------------------------
@pytest.mark.parametrize(
    ("base", "path", "target"),
    [
        (
            "https://x/openai?api-version=2024-10-21",
            "/chat/completions",
            "/openai/chat/completions?api-version=2024-10-21",
        ),
        ("https://x/v1?a=1&b=2", "/m:s?alt=sse", "/v1/m:s?a=1&b=2&alt=sse"),
        ("https://x/v1?alt=json&a=1", "/m:s?alt=sse", "/v1/m:s?a=1&alt=sse"),
        ("https://x/v1?alt=json", "/m:s?alt=sse", "/v1/m:s?alt=sse"),
        ("https://x/v1", "/m:s?alt=sse", "/v1/m:s?alt=sse"),
        ("https://x/v1?", "/chat", "/v1/chat"),
    ],
)
def test_url_keeps_the_base_query(base: str, path: str, target: str) -> None:
    assert Endpoint(base).url(path) == target


# --- AWS Bedrock: region and credentials ---------------------------------------------------------
from libchatty.sigv4 import AWSCredentials  # noqa: E402

BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com"
AWS = AWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSION-TOKEN-xyz")


def test_region_and_credentials_are_kept_and_hidden() -> None:
    endpoint = Endpoint(BEDROCK, dialect="bedrock", region="us-gov-west-1", aws_credentials=AWS)
    assert (endpoint.region, endpoint.aws_credentials) == ("us-gov-west-1", AWS)
    shown = repr(endpoint)
    assert shown == (
        f"Endpoint(base_url={BEDROCK!r}, api_key=None, dialect='bedrock', "
        "region='us-gov-west-1', aws_credentials=<hidden>)"
    )
    assert "wJalr" not in str(endpoint) and "SESSION" not in str(endpoint)


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-2", "a", "x" * 64, "cn-north-1", "us-isob-east-1"]
)
def test_good_regions(region: str) -> None:
    assert Endpoint(BEDROCK, region=region).region == region


@pytest.mark.parametrize(
    "region", ["", "US-EAST-1", "us_east_1", "us--east-1", "-us", "us-", "us east", "x" * 65,
               "us-east-1.evil.com", "us-east-1/", 1]
)  # fmt: skip
def test_bad_regions_are_refused(region: object) -> None:
    with pytest.raises(ValueError, match=r"^Endpoint.region must be an AWS region name"):
        Endpoint(BEDROCK, region=region)  # type: ignore[arg-type]


def test_credentials_need_a_region_and_the_right_type() -> None:
    with pytest.raises(ValueError, match=r"need Endpoint\.region"):
        Endpoint(BEDROCK, aws_credentials=AWS)
    with pytest.raises(ValueError, match="must be an AWSCredentials, not tuple"):
        Endpoint(BEDROCK, region="us-east-1", aws_credentials=("a", "b"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "creds"),
    [
        ("access_key_id", AWSCredentials("", "secret")),
        ("access_key_id", AWSCredentials("AKID\r\nX-Evil: 1", "secret")),
        ("secret_access_key", AWSCredentials("AKID", "has a-SECRET space")),
        ("session_token", AWSCredentials("AKID", "secret", "tok\nSECRET")),
        ("session_token", AWSCredentials("AKID", "secret", "")),
    ],
)
def test_bad_credentials_are_refused_without_their_value(field: str, creds: AWSCredentials) -> None:
    with pytest.raises(ValueError) as caught:
        Endpoint(BEDROCK, region="us-east-1", aws_credentials=creds)
    assert str(caught.value) == (
        f"Endpoint.aws_credentials.{field} must be a non-empty str of visible ASCII without "
        "spaces; it was refused (its value is not shown)"
    )
    assert caught.value.__context__ is None


def test_a_frozen_dataclass_to_its_users() -> None:
    # Endpoint is a values.Value (no dataclass machinery at import, issue 14); what the
    # frozen dataclass it was gave its users must hold: fields with their flags,
    # replace() running the checks again, equality, pickling, immutability.
    import dataclasses
    import pickle

    fields = [(f.name, f.init, f.repr) for f in dataclasses.fields(Endpoint)]
    assert fields == [
        ("base_url", True, True),
        ("api_key", True, False),
        ("dialect", True, True),
        ("headers", True, True),
        ("include_usage", True, True),
        ("region", True, True),
        ("aws_credentials", True, False),
        ("max_tokens_field", True, True),
        ("scheme", False, True),
        ("host", False, True),
        ("port", False, True),
        ("path_prefix", False, True),
        ("query", False, False),
    ]
    endpoint = Endpoint("https://api.openai.com/v1?x=1", KEY, headers={"X-A": "b"})
    moved = dataclasses.replace(endpoint, base_url="http://localhost:8000/v2")
    assert (moved.host, moved.port, moved.path_prefix) == ("localhost", 8000, "/v2")
    assert moved.query == ""
    assert moved.api_key == KEY and moved.headers == {"X-A": "b"}
    # The resolved max_tokens_field is carried over, as a dataclass's replace() did.
    assert moved.max_tokens_field == "max_completion_tokens"
    with pytest.raises(ValueError, match="api_key"):
        dataclasses.replace(endpoint, api_key="two words")
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(endpoint, host="elsewhere")
    assert endpoint == Endpoint("https://api.openai.com/v1?x=1", KEY, headers={"X-A": "b"})
    assert endpoint != dataclasses.replace(endpoint, api_key="other")
    assert pickle.loads(pickle.dumps(endpoint)) == endpoint
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoint.api_key = "other"  # type: ignore[misc]
    # Each endpoint gets a headers dict of its own; None is refused, as before.
    first, second = Endpoint("http://a.example"), Endpoint("http://b.example")
    assert first.headers == {} and first.headers is not second.headers
    with pytest.raises(ValueError, match="headers"):
        Endpoint("http://a.example", headers=None)  # type: ignore[arg-type]


# --- pinned by mutation testing (mutate/run.py endpoint) ------------------------------------
from libchatty.endpoint import merge_query  # noqa: E402


@pytest.mark.parametrize(
    ("key", "fault"),
    [
        # An X is no control character and no whitespace, wherever it stands.
        ("X Y", "contains whitespace"),
        ("Xa\tb", "contains whitespace"),
        ("X\x01", "contains a control character (CR, LF, NUL...)"),
        # Whitespace at an end means a space or a tab; a vertical tab is a control character.
        (SECRET + "\x0b", "contains a control character (CR, LF, NUL...)"),
        ("\x0c" + SECRET, "contains a control character (CR, LF, NUL...)"),
    ],
)
def test_the_fault_named_is_the_one_the_key_has(key: str, fault: str) -> None:
    assert str(raised_by(lambda: Endpoint(URL, key))) == KEY_MESSAGE.format(fault)


@pytest.mark.parametrize(
    ("target", "query", "merged"),
    [
        # A name is what comes before the first "=", on each side.
        ("/p?a=b=c", "a=1", "/p?a=b=c"),
        ("/p?a=x", "a=1=2", "/p?a=x"),
        ("/p?a=x", "a=b=2", "/p?a=x"),
        # The target's parameters are split at "&": each of its names wins.
        ("/p?a=1&b=2", "b=9", "/p?a=1&b=2"),
        ("/p?a=1&b=2", "b=9&c=3", "/p?c=3&a=1&b=2"),
    ],
)
def test_merge_query_names(target: str, query: str, merged: str) -> None:
    assert merge_query(target, query) == merged


def test_with_query_puts_the_base_query_in_front_of_the_target_s() -> None:
    endpoint = Endpoint("https://x/v1?api-version=1&alt=json")
    assert endpoint.with_query("/m:s?alt=sse") == "/m:s?api-version=1&alt=sse"
    assert endpoint.with_query("/m") == "/m?api-version=1&alt=json"
    assert Endpoint("https://x/v1").with_query("/m?a=1") == "/m?a=1"


def test_defaults_of_the_url_and_the_usage_chunk() -> None:
    endpoint = Endpoint("http://h")
    assert (endpoint.port, endpoint.include_usage, endpoint.path_prefix) == (80, True, "")
    assert Endpoint("https://h").port == 443
    # Only slashes are trimmed from the path prefix.
    assert Endpoint("http://h/X/").path_prefix == "/X"
    assert Endpoint("http://h/v1X//").path_prefix == "/v1X"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("https://api.openai.com/v1", "max_completion_tokens"),
        ("https://API.OpenAI.com/v1", "max_completion_tokens"),
        ("https://res.openai.azure.com/openai", "max_completion_tokens"),
        ("https://res.cognitiveservices.azure.com/openai", "max_completion_tokens"),
        ("https://res.services.ai.azure.com/models", "max_completion_tokens"),
        ("https://api.groq.com/openai/v1", "max_tokens"),
        ("https://notapi.openai.com/v1", "max_tokens"),
        ("https://resopenai.azure.com/openai", "max_tokens"),
        ("http://localhost:8000/v1", "max_tokens"),
    ],
)
def test_max_tokens_field_by_host(url: str, field: str) -> None:
    assert Endpoint(url).max_tokens_field == field
    other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
    assert Endpoint(url, max_tokens_field=other).max_tokens_field == other


def test_a_bad_max_tokens_field_is_refused_by_its_values() -> None:
    message = r"^Endpoint\.max_tokens_field must be 'max_tokens', 'max_completion_tokens' or None$"
    with pytest.raises(ValueError, match=message):
        Endpoint(URL, max_tokens_field="max_output_tokens")


def test_the_type_and_shape_errors_of_base_url_and_headers() -> None:
    with pytest.raises(ValueError, match=r"^Endpoint\.base_url must be a str, not bytes$"):
        Endpoint(b"https://x/v1")  # type: ignore[arg-type]
    message = r"^Endpoint\.headers must be a mapping of str to str$"
    with pytest.raises(ValueError, match=message):
        Endpoint(URL, headers=[("X-A", "b")])  # type: ignore[arg-type]


def test_the_region_and_credential_messages() -> None:
    message = (
        r"^Endpoint\.region must be an AWS region name such as 'us-east-1' "
        r"\(lower-case letters, digits and single hyphens\)$"
    )
    with pytest.raises(ValueError, match=message):
        Endpoint(BEDROCK, region="US")
    with pytest.raises(
        ValueError, match=r"^Endpoint\.aws_credentials need Endpoint\.region to sign with$"
    ):
        Endpoint(BEDROCK, aws_credentials=AWS)


def test_credentials_without_a_session_token_are_long_term_ones() -> None:
    long_term = AWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    endpoint = Endpoint(BEDROCK, region="us-east-1", aws_credentials=long_term)
    assert endpoint.aws_credentials == long_term
    assert long_term.session_token is None
