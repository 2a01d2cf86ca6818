"""``split_url`` (libchatty.endpoint): the same answers as ``urllib.parse.urlsplit``.

split_url reads a plain base URL itself, so that a program that builds an Endpoint does
not import urllib.parse (and ipaddress); everything else it hands to urlsplit. Each test
holds it to urlsplit's values -- and to urlsplit's ``ValueError`` -- for the attributes
libchatty reads.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.endpoint import PlainURL, _plain_parts, _visible_word, split_url

FIELDS = ("scheme", "netloc", "hostname", "port", "path", "query")


def answers(split: object) -> dict[str, object]:
    """Each field's value, or the ValueError reading it raises (a bad port)."""
    out: dict[str, object] = {}
    for name in FIELDS:
        try:
            out[name] = getattr(split, name)
        except ValueError as exc:
            out[name] = ("ValueError", str(exc))
    return out


def same_as_urlsplit(url: str) -> None:
    try:
        expected = answers(urlsplit(url))
    except ValueError as exc:
        with pytest.raises(ValueError) as raised:
            split_url(url)
        assert str(raised.value) == str(exc)
        return
    assert answers(split_url(url)) == expected


PLAIN = [
    "https://api.openai.com/v1",
    "http://127.0.0.1:8080",
    "http://localhost:11434/v1/",
    "https://API.Groq.com/openai/v1",
    "https://x.openai.azure.com/openai/v1?api-version=2024-10-21",
    "http://h?q=1",
    "http://h:0/a",
    "http://h:00080/a?b?c",
    "https://h:65535",
    "http://h/a%20b;p=1",
]
# Not plain: urlsplit answers (or raises) for these.
OTHER = [
    "https://h:65536/v1",
    "https://h:99999",
    "http://h:/v1",
    "http://h:x/v1",
    "HTTP://h/v1",
    "ftp://h/v1",
    "http://[::1]:8080/v1",
    "http://[::1/v1",
    "http://user:pass@h/v1",
    "http://h/v1#frag",
    "http://h/v1 x",
    "http://h\t/v1",
    "http://",
    "http:///v1",
    "h/v1",
    "",
    "http://bücher.example/v1",
]


@pytest.mark.parametrize("url", PLAIN)
def test_plain_urls_are_split_without_urllib(url: str) -> None:
    assert isinstance(split_url(url), PlainURL)
    same_as_urlsplit(url)


@pytest.mark.parametrize("url", OTHER)
def test_other_urls_are_urlsplits_answers(url: str) -> None:
    same_as_urlsplit(url)
    with contextlib.suppress(ValueError):  # urlsplit refused it: checked above
        assert not isinstance(split_url(url), PlainURL)


_PIECES = st.sampled_from(
    [
        "http",
        "https",
        "HTTPS",
        "ftp",
        "://",
        ":",
        "//",
        "/",
        "?",
        "#",
        "@",
        "[",
        "]",
        "::1",
        "h",
        "H",
        "a.b",
        "-",
        ".",
        "0",
        "8080",
        "65536",
        "99999",
        "%20",
        " ",
        "\t",
        "=",
        "&",
        "v1",
        "é",
        "x",
    ]
)


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_any_url_gets_urlsplits_answers(url: str) -> None:
    same_as_urlsplit(url)


@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[0-9A-Za-z.-]{1,20}", fullmatch=True),
    st.none() | st.integers(0, 99999).map(str) | st.from_regex(r"0[0-9]{1,4}", fullmatch=True),
    st.from_regex(r"([/?][\x21-\x7e]{0,30})?", fullmatch=True),
)
def test_urls_near_the_plain_shape(scheme: str, host: str, port: str | None, rest: str) -> None:
    same_as_urlsplit(f"{scheme}://{host}{'' if port is None else ':' + port}{rest}")


@given(st.text(alphabet=st.characters(max_codepoint=0x10F), max_size=6))
def test_a_visible_word_is_what_the_pattern_it_replaces_matches(text: str) -> None:
    # Keys, credentials and base URLs are checked by string methods, not a regex.
    assert _visible_word(text) == (re.fullmatch(r"[\x21-\x7e]+", text) is not None)


def test_a_visible_word_refuses_each_character_outside_the_visible_ascii() -> None:
    for code in range(0x180):
        char = chr(code)
        visible = 0x21 <= code <= 0x7E
        assert [_visible_word(t) for t in (char, f"a{char}", f"{char}b")] == [visible] * 3
    assert not _visible_word("")


# The pattern split_url's own reading replaced: it takes exactly the URLs this matches.
PLAIN_PATTERN = r"(https?)://([0-9A-Za-z.-]+)(?::([0-9]{1,5}))?([/?][\x21\x22\x24-\x7e]*)?"
URL_PIECES = ["http", "https", "HTTP", "://", ":", "/", "?", "#", "a", "Z", "9", ".", "-"]
URL_PIECES += ["80", "٣", "123456", " ", "\t", "@", "[::1]", "%20", "é", "\x7f", '"']


@given(st.lists(st.sampled_from(URL_PIECES), max_size=9).map("".join))
def test_plain_parts_are_the_groups_of_the_pattern_it_replaces(url: str) -> None:
    match = re.fullmatch(PLAIN_PATTERN, url)
    expected = None if match is None else (*match.groups()[:3], match.group(4) or "")
    assert _plain_parts(url) == expected
    assert _plain_parts(f"http://h{url}") == (
        None
        if (m := re.fullmatch(PLAIN_PATTERN, f"http://h{url}")) is None
        else (*m.groups()[:3], m.group(4) or "")
    )


@pytest.mark.parametrize("url", [*PLAIN, "http://h:/a", "https://:80", "http://h:8a", "ftp://h"])
def test_plain_parts_of_the_listed_urls(url: str) -> None:
    match = re.fullmatch(PLAIN_PATTERN, url)
    expected = None if match is None else (*match.groups()[:3], match.group(4) or "")
    assert _plain_parts(url) == expected


# --- pinned by mutation testing (mutate/run.py endpoint) ------------------------------------
@pytest.mark.parametrize(
    ("url", "parts"),
    [
        # The first "://" ends the scheme: a later one is part of the path.
        ("http://h/p://q", ("http", "h", None, "/p://q")),
        ("https://h:8/a?b=c://d", ("https", "h", "8", "/a?b=c://d")),
        # A port has one to five digits (six are urlsplit's to refuse or read).
        ("http://h:12345/a", ("http", "h", "12345", "/a")),
        ("http://h:123456/a", None),
        ("http://h:000080", None),
        ("http://h:", None),
    ],
)
def test_plain_parts_of_urls_at_the_edges(url: str, parts: tuple[object, ...] | None) -> None:
    assert _plain_parts(url) == parts
