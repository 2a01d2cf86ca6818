"""Redactor: secrets, and every fragment of 8+ characters of one, never survive."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.redact import (
    MARKER,
    MIN_FRAGMENT,
    Redactor,
    endpoint_secrets,
    is_credential_name,
)

KEY = "sk-proj-Abc123Def456Ghi789Jkl0"


def fragments(secret: str) -> set[str]:
    """Every substring of ``secret`` of at least MIN_FRAGMENT characters."""
    return {
        secret[i:j]
        for i in range(len(secret))
        for j in range(i + MIN_FRAGMENT, len(secret) + 1)
    }


def has_fragment(text: str, secret: str) -> bool:
    n = MIN_FRAGMENT
    return any(secret[i : i + n] in text for i in range(len(secret) - n + 1))


# --- exact outputs ------------------------------------------------------------------------------


def test_the_whole_key_is_replaced() -> None:
    redact = Redactor([KEY])
    assert redact(f"Incorrect API key provided: {KEY}.") == f"Incorrect API key provided: {MARKER}."


def test_every_occurrence_and_adjacent_copies_become_one_marker_each_stretch() -> None:
    redact = Redactor([KEY])
    assert redact(f"{KEY} and {KEY}") == f"{MARKER} and {MARKER}"
    assert redact(f"{KEY}{KEY}") == MARKER  # one covered stretch


def test_masked_forms_lose_every_long_fragment() -> None:
    redact = Redactor([KEY])
    # OpenAI's masked echo: the first 8 characters survive in it, then stars, then the tail.
    assert redact("key sk-proj-****Jkl0 is invalid") == f"key {MARKER}****Jkl0 is invalid"
    # first and last characters, 8 each
    assert redact("sk-proj-...789Jkl0") == f"{MARKER}...789Jkl0"
    assert redact(f"got '{KEY[3:11]}'") == f"got '{MARKER}'"


def test_exactly_min_fragment_is_removed_one_less_is_kept() -> None:
    redact = Redactor([KEY])
    eight, seven = KEY[10:18], KEY[10:17]
    assert len(eight) == MIN_FRAGMENT
    assert redact(f"x{eight}y") == f"x{MARKER}y"
    assert redact(f"x{seven}y") == f"x{seven}y"


def test_short_secrets_are_removed_whole_only() -> None:
    redact = Redactor(["hunter2"])  # 7 characters
    assert redact("password hunter2 rejected") == f"password {MARKER} rejected"
    assert redact("hunter is fine") == "hunter is fine"


def test_text_without_secrets_is_returned_unchanged() -> None:
    text = "The model `gpt-5` does not exist"
    redact = Redactor([KEY, "pw"])
    assert redact(text) is text
    assert Redactor([])(text) is text
    assert Redactor([""])(text) is text
    assert not Redactor(["", ""])


def test_several_secrets() -> None:
    redact = Redactor([KEY, "proxy-password-1", "abc"])
    assert redact(f"{KEY}|proxy-password-1|abc") == f"{MARKER}|{MARKER}|{MARKER}"


def test_a_secret_that_contains_the_marker_uses_another_marker() -> None:
    secret = "x[REDACTED]y-12345"
    redact = Redactor([secret])
    assert redact(f"bad key {secret}") == "bad key ***"


def test_repr_never_shows_a_secret() -> None:
    redact = Redactor([KEY, "hunter2"])
    assert repr(redact) == "Redactor(<23 windows, 1 short secrets>)"
    assert not has_fragment(repr(redact), KEY)


def test_leaks() -> None:
    redact = Redactor([KEY, "pw1"])
    assert redact.leaks(f"a {KEY[5:13]} b")
    assert redact.leaks("pw1")
    assert not redact.leaks(f"a {KEY[5:12]} b")


# --- what counts as a credential -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("Authorization", True),
        ("Proxy-Authorization", True),
        ("api-key", True),
        ("x-api-key", True),
        ("x-goog-api-key", True),
        ("X-Auth-Token", True),
        ("Cookie", True),
        ("OpenAI-Organization", False),
        ("anthropic-version", False),
        ("x-request-id", False),
    ],
)
def test_credential_names(name: str, credential: bool) -> None:
    assert is_credential_name(name) is credential


def test_endpoint_secrets() -> None:
    secrets = endpoint_secrets(
        KEY,
        {"Authorization": "Bearer tok-123456789", "OpenAI-Organization": "org-visible"},
        "https://example.com/v1?key=query-secret-1&api-version=2024-10-21",
    )
    assert secrets == [KEY, "Bearer tok-123456789", "tok-123456789", "query-secret-1"]
    assert endpoint_secrets(None, {}, "") == []


# --- properties ---------------------------------------------------------------------------------

SECRET_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
KEYS = st.text(SECRET_CHARS, min_size=MIN_FRAGMENT, max_size=60)
NOISE = st.text(SECRET_CHARS, max_size=30)


@st.composite
def echoes(draw: st.DrawFn) -> tuple[str, str]:
    """(key, text) where the text quotes the key whole, a fragment, or a masked form."""
    key = draw(KEYS)
    i = draw(st.integers(0, len(key) - MIN_FRAGMENT))
    j = draw(st.integers(i + MIN_FRAGMENT, len(key)))
    head = key[: draw(st.integers(0, len(key)))]
    tail = key[draw(st.integers(0, len(key))) :]
    quoted = [key, key[i:j], f"{head}****{tail}", f"{key[:8]}...{key[-8:]}"]
    parts = draw(st.lists(st.sampled_from(quoted) | NOISE, min_size=1, max_size=6))
    return key, "".join(parts)


@given(echoes())
def test_no_fragment_of_the_key_survives(case: tuple[str, str]) -> None:
    key, text = case
    out = Redactor([key])(text)
    assert not has_fragment(out, key), (key, text, out)


@given(KEYS, NOISE)
def test_text_without_a_fragment_is_unchanged(key: str, text: str) -> None:
    if has_fragment(text, key):
        return
    assert Redactor([key])(text) == text


@given(st.lists(KEYS, min_size=1, max_size=3), st.lists(NOISE, max_size=4), st.data())
def test_several_keys_none_survives(keys: list[str], noise: list[str], data: st.DataObject) -> None:
    parts = noise + [data.draw(st.sampled_from(sorted(fragments(k)))) for k in keys]
    text = "".join(data.draw(st.permutations(parts)))
    out = Redactor(keys)(text)
    for key in keys:
        assert not has_fragment(out, key), (key, text, out)


def test_long_text_is_linear_enough() -> None:
    # Not timed: a 1 MB text with a key every 1000 characters gives the exact result.
    text = ("x" * 990 + KEY[:10]) * 1000
    out = Redactor([KEY])(text)
    assert out == ("x" * 990 + MARKER) * 1000


# --- pinned by mutation testing (mutate/run.py redact) ---------------------------------------


def test_an_authorization_value_gives_everything_after_its_scheme() -> None:
    value = "Digest user=alice response=6629fae49393a053"
    assert endpoint_secrets(None, {"Authorization": value}) == [
        value,
        "user=alice response=6629fae49393a053",
    ]


def test_blank_query_values_are_no_secret() -> None:
    url = "https://generativelanguage.googleapis.com/v1beta?key=&token=tok-0123456789&x="
    assert endpoint_secrets(None, {}, url) == ["tok-0123456789"]
    assert endpoint_secrets("sk-abc", {}) == ["sk-abc"]


def test_a_redactor_is_true_when_it_has_any_secret() -> None:
    assert not Redactor([])
    assert not Redactor(["", ""])
    assert Redactor(["short"])  # shorter than MIN_FRAGMENT: removed whole only
    assert Redactor(["a-long-secret-value"])
    assert Redactor(["short", "a-long-secret-value"])


def test_an_empty_secret_does_not_hide_the_ones_after_it() -> None:
    redact = Redactor(["", "sk-0123456789"])
    assert redact("key sk-0123456789 sent") == f"key {MARKER} sent"


def test_a_secret_of_exactly_min_fragment_is_removed_by_windows() -> None:
    secret = "abcdefgh"
    assert len(secret) == MIN_FRAGMENT
    # Windows join touching stretches into one marker; whole-string replacement would
    # leave two, and would leave the ninth "a" of an overlapping run behind.
    assert Redactor([secret])(secret + secret) == MARKER
    assert Redactor(["aaaaaaaa"])("x aaaaaaaaa y") == f"x {MARKER} y"


def test_short_secrets_are_removed_longest_first() -> None:
    redact = Redactor(["abc", "aabca"])
    assert redact("x aabca y abc") == f"x {MARKER} y {MARKER}"


def test_leaks_sees_a_fragment_at_the_very_end() -> None:
    secret = "sk-0123456789abcdef"
    assert Redactor([secret]).leaks("see " + secret[-MIN_FRAGMENT:])
    assert not Redactor([secret]).leaks("see " + secret[-MIN_FRAGMENT + 1 :])


@given(
    st.lists(st.text("abcdefgh-", min_size=1, max_size=30), min_size=1, max_size=3),
    st.text("abcdefgh-\n", max_size=120),
)
def test_leaks_agrees_with_brute_force_whichever_scan_it_takes(
    secrets: list[str], text: str
) -> None:
    # Few windows and a long text: a substring search per window; many windows and a
    # short text: a set lookup per position. The answer is the same.
    short = [s for s in secrets if len(s) < MIN_FRAGMENT]
    want = any(has_fragment(text, s) for s in secrets) or any(s in text for s in short)
    assert Redactor(secrets).leaks(text) is want


@pytest.mark.parametrize("text", ["x" * 21, "x" * 22, "x" * 23])
def test_both_scans_at_the_switch(text: str) -> None:
    # "xxxxxxxxxxxxxxxxxxxxxxxy": 16 windows; a text of 23 characters has 16 positions.
    secret = "x" * (2 * MIN_FRAGMENT - 1) + "y" + "z" * (MIN_FRAGMENT - 1)
    assert Redactor([secret]).leaks(text)
    assert not Redactor([secret]).leaks(text[: MIN_FRAGMENT - 1])
    assert Redactor([secret])(text + "!") == MARKER + "!"


def test_a_shared_redactor_per_secrets() -> None:
    from libchatty.redact import redactor_for

    assert redactor_for((KEY, "pw1")) is redactor_for((KEY, "pw1"))
    assert redactor_for((KEY,)) is not redactor_for((KEY, "pw1"))
    assert redactor_for((KEY,))(f"say {KEY}") == f"say {MARKER}"


def test_text_that_a_marker_joins_into_a_fragment_is_all_removed() -> None:
    # "x" + secret + "abcdef": the secret is removed, and the marker's last two
    # characters with the "abcdef" after it spell the secret again.
    secret = "D]abcdef"
    assert Redactor([secret])("x" + secret + "abcdef") == MARKER
