"""SigV4 signing: AWS's published test-suite answers, and botocore's SigV4Auth as the oracle
for generated requests (its clock frozen at the same instant)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from libchatty.sigv4 import AWSCredentials, canonical_request, sign

SUITE = AWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_AT = datetime(2015, 8, 30, 12, 36, 0, tzinfo=timezone.utc)
SCOPE = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def botocore_sign(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    credentials: AWSCredentials,
    region: str,
    service: str,
    now: datetime,
    params: list[tuple[str, str]] | None = None,
) -> dict[str, list[str]]:
    """The headers botocore's SigV4Auth leaves on the request, by lower-case name."""
    request = AWSRequest(method=method, url=url, data=body, params=params)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders appends: repeated names are kept
    token = credentials.session_token
    creds = Credentials(credentials.access_key_id, credentials.secret_access_key, token)
    naive_utc = now.astimezone(timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive_utc):
        SigV4Auth(creds, service, region).add_auth(request)
    out: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        out.setdefault(name.lower(), []).append(value)
    return out


# --- AWS's Signature Version 4 test suite (published answers) --------------------------------
SUITE_CASES = [
    (
        "get-vanilla",
        "GET",
        "https://example.amazonaws.com/",
        [],
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "post-vanilla",
        "POST",
        "https://example.amazonaws.com/",
        [],
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET",
        "https://example.amazonaws.com/?Param2=value2&Param1=value1",
        [],
        "SignedHeaders=host;x-amz-date, "
        "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "get-utf8",
        "GET",
        "https://example.amazonaws.com/\u1234",
        [],
        "SignedHeaders=host;x-amz-date, "
        "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    ),
    (
        "get-unreserved",
        "GET",
        "https://example.amazonaws.com/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        [],
        "SignedHeaders=host;x-amz-date, "
        "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    (
        "get-header-key-duplicate",
        "GET",
        "https://example.amazonaws.com/",
        [
            ("Host", "example.amazonaws.com"),
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
        ],
        "SignedHeaders=host;my-header1;x-amz-date, "
        "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "url", "headers", "tail"), SUITE_CASES, ids=[c[0] for c in SUITE_CASES]
)
def test_aws_test_suite(
    name: str, method: str, url: str, headers: list[tuple[str, str]], tail: str
) -> None:
    added = sign(method, url, headers, b"", SUITE, "us-east-1", "service", SUITE_AT)
    assert added == [("Authorization", f"{SCOPE}, {tail}"), ("X-Amz-Date", "20150830T123600Z")]


def test_get_vanilla_canonical_request_is_the_published_one() -> None:
    text = canonical_request(
        "GET", "https://example.amazonaws.com/", [("X-Amz-Date", "20150830T123600Z")], b""
    )
    assert text == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        f"host;x-amz-date\n{EMPTY_SHA256}"
    )


# --- Bedrock specifics -----------------------------------------------------------------------
BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def test_bedrock_model_id_in_the_canonical_path() -> None:
    raw = canonical_request("POST", f"{BEDROCK}/model/{MODEL}/converse-stream", [], b"{}")
    assert raw.split("\n")[1] == (
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    )
    # Sent percent-encoded (as botocore's serializer sends it), it is encoded once more.
    encoded = quote(MODEL, safe="")
    assert encoded == "anthropic.claude-3-5-sonnet-20240620-v1%3A0"
    sent = canonical_request("POST", f"{BEDROCK}/model/{encoded}/converse-stream", [], b"{}")
    assert sent.split("\n")[1] == (
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse-stream"
    )


def test_bedrock_request_matches_botocore_and_adds_no_content_sha256() -> None:
    url = f"{BEDROCK}/model/{quote(MODEL, safe='')}/converse-stream"
    headers = [("Content-Type", "application/json"), ("User-Agent", "libchatty/1")]
    body = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'
    creds = AWSCredentials("AKIAEXAMPLE", "secret", "token-123")
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    added = sign("POST", url, headers, body, creds, "us-east-1", "bedrock", at)
    oracle = botocore_sign("POST", url, headers, body, creds, "us-east-1", "bedrock", at)
    assert "x-amz-content-sha256" not in oracle
    assert [name for name, _ in added] == ["Authorization", "X-Amz-Date", "X-Amz-Security-Token"]
    assert added == [
        ("Authorization", oracle["authorization"][0]),
        ("X-Amz-Date", "20250102T030405Z"),
        ("X-Amz-Security-Token", "token-123"),
    ]
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in added[0][1]


# --- botocore as the oracle for generated requests -------------------------------------------
segment_text = st.text(
    st.characters(blacklist_characters="/?#\r\n\t", blacklist_categories=["Cs"]), max_size=12
)
segments = st.one_of(
    st.sampled_from(
        [
            MODEL,
            "us.meta.llama3-1-70b-instruct-v1:0",
            "amazon.titan-text-express-v1",
            "model",
            "converse-stream",
            "converse",
            ".",
            "..",
            "",
            "a b",
            "%",
            "caf\u00e9",
        ]
    ),
    segment_text,
)
paths = st.lists(
    st.tuples(segments, st.booleans()).map(lambda t: quote(t[0], safe="") if t[1] else t[0]),
    max_size=5,
).map(lambda parts: "/" + "/".join(parts))
query_pairs = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4)
hosts = st.sampled_from(
    [
        ("https", "bedrock-runtime.us-east-1.amazonaws.com"),
        ("https", "Bedrock-Runtime.EU-West-1.amazonaws.com"),
        ("https", "example.com:443"),
        ("http", "127.0.0.1:8080"),
        ("http", "localhost:80"),
        ("https", "[::1]:9443"),
    ]
)
header_names = st.one_of(
    st.sampled_from(
        [
            "Content-Type",
            "Accept",
            "X-Amzn-Bedrock-Trace",
            "User-Agent",
            "Connection",
            "content-type",
            "X-Custom",
        ]
    ),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10),
)
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=20,
).map(lambda v: f"  {v} \t ")
headers_lists = st.lists(st.tuples(header_names, header_values), max_size=6).filter(
    lambda hs: not {n.lower() for n, _ in hs} & {"authorization", "date", "x-amz-date"}
)
credentials = st.builds(
    AWSCredentials,
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=16, max_size=20),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    st.none() | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(timezone.utc),
)
regions = st.sampled_from(["us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1"])


@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "post"]),
    hosts,
    paths,
    query_pairs,
    headers_lists,
    st.binary(max_size=300),
    credentials,
    regions,
    st.sampled_from(["bedrock", "service"]),
    times,
)
def test_same_authorization_as_botocore(
    method: str,
    host: tuple[str, str],
    path: str,
    query: list[tuple[str, str]],
    headers: list[tuple[str, str]],
    body: bytes,
    creds: AWSCredentials,
    region: str,
    service: str,
    now: datetime,
) -> None:
    encoded_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query)
    url = f"{host[0]}://{host[1]}{path}" + (f"?{encoded_query}" if query else "")
    added = sign(method, url, headers, body, creds, region, service, now)
    oracle = botocore_sign(method, url, headers, body, creds, region, service, now)
    expected = [
        ("Authorization", oracle["authorization"][0]),
        ("X-Amz-Date", oracle["x-amz-date"][0]),
    ]
    if creds.session_token:
        expected.append(("X-Amz-Security-Token", creds.session_token))
    assert added == expected
    # botocore's other door: the query as raw parameters it encodes itself.
    if query:
        bare = f"{host[0]}://{host[1]}{path}"
        by_params = botocore_sign(method, bare, headers, body, creds, region, service, now, query)
        assert added[0] == ("Authorization", by_params["authorization"][0])


@given(headers_lists, st.text(max_size=64), times)
def test_a_given_content_sha256_is_the_payload_hash(
    headers: list[tuple[str, str]], digest: str, now: datetime
) -> None:
    headers = [h for h in headers if h[0].lower() != "x-amz-content-sha256"]
    headers.append(("X-Amz-Content-SHA256", digest))
    creds = AWSCredentials("AKID", "secret")
    url = f"{BEDROCK}/model/x/converse"
    added = sign("POST", url, headers, b"body", creds, "us-east-1", "bedrock", now)
    oracle = botocore_sign("POST", url, headers, b"body", creds, "us-east-1", "bedrock", now)
    assert added[0] == ("Authorization", oracle["authorization"][0])


# --- time ------------------------------------------------------------------------------------
def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign("GET", f"{BEDROCK}/", [], b"", SUITE, "us-east-1", "bedrock", datetime(2025, 1, 1))


def test_any_timezone_is_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2015, 8, 30, 14, 36, 0, tzinfo=plus_two)
    got = sign(
        "GET", "https://example.amazonaws.com/", [], b"", SUITE, "us-east-1", "service", local
    )
    assert got == sign(
        "GET", "https://example.amazonaws.com/", [], b"", SUITE, "us-east-1", "service", SUITE_AT
    )
    assert got[1] == ("X-Amz-Date", "20150830T123600Z")


def test_the_day_in_the_scope_is_the_utc_day() -> None:
    late = datetime(2015, 8, 30, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5)))
    url = "https://example.amazonaws.com/"
    got = sign("GET", url, [], b"", SUITE, "us-east-1", "service", late)
    oracle = botocore_sign("GET", url, [], b"", SUITE, "us-east-1", "service", late)
    assert got == [
        ("Authorization", oracle["authorization"][0]),
        ("X-Amz-Date", "20150831T045959Z"),
    ]
    assert got[0][1].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, "
    )


# --- the caller's mistakes ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Authorization", "x-amz-date", "X-Amz-Security-Token", "Date"])
def test_signer_headers_may_not_be_passed_in(name: str) -> None:
    with pytest.raises(ValueError, match="headers set by the signer") as info:
        sign("GET", f"{BEDROCK}/", [(name, "v")], b"", SUITE, "us-east-1", "bedrock", SUITE_AT)
    assert str(info.value) == f"headers set by the signer, not the caller: ['{name.lower()}']"


def test_url_without_host_is_refused() -> None:
    with pytest.raises(ValueError, match="no host"):
        sign("GET", "/model/x", [], b"", SUITE, "us-east-1", "bedrock", SUITE_AT)


def test_a_host_header_given_is_used_as_given() -> None:
    text = canonical_request("GET", "https://a.example/", [("Host", "b.example:8443")], b"")
    assert text.split("\n")[3] == "host:b.example:8443"


# --- secrets -----------------------------------------------------------------------------------
def test_repr_and_str_hide_the_secret_and_the_token() -> None:
    creds = AWSCredentials("AKIAEXAMPLE", "very-secret-key", "very-secret-token")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "very-secret" not in text
    assert repr(creds) == (
        "AWSCredentials(access_key_id='AKIAEXAMPLE', secret_access_key=<hidden>, "
        "session_token=<hidden>)"
    )
    assert repr(AWSCredentials("AKIAEXAMPLE", "very-secret-key")) == (
        "AWSCredentials(access_key_id='AKIAEXAMPLE', secret_access_key=<hidden>, "
        "session_token=None)"
    )


def test_errors_never_carry_the_secret() -> None:
    creds = AWSCredentials("AKIAEXAMPLE", "very-secret-key", "very-secret-token")
    calls: list[Callable[[], object]] = [
        lambda: sign("GET", f"{BEDROCK}/", [], b"", creds, "r", "s", datetime(2025, 1, 1)),
        lambda: sign("GET", "/x", [], b"", creds, "r", "s", SUITE_AT),
        lambda: sign("GET", f"{BEDROCK}/", [("Date", "x")], b"", creds, "r", "s", SUITE_AT),
    ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        assert "very-secret" not in str(info.value)
        assert "very-secret" not in repr(info.value.args)


def test_credentials_are_frozen() -> None:
    creds = AWSCredentials("AKID", "secret")
    with pytest.raises(AttributeError):
        creds.secret_access_key = "other"  # type: ignore[misc]
