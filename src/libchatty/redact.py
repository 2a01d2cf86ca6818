"""Remove secrets from text that came from the server before it becomes part of an ``Error``.

Providers echo what they were sent: a 401 body quotes the key (``Incorrect API key
provided: sk-proj-...``), an in-stream error event may too, and many quote a *masked*
form (``sk-proj-****abcd``, or the first and last characters). So a :class:`Redactor`
removes, for every secret of :data:`MIN_FRAGMENT` characters or more, every substring of
the text that is a substring of the secret of at least :data:`MIN_FRAGMENT` characters;
a shorter secret is removed where it occurs whole (its fragments are too short to tell
from ordinary text). Each removed stretch becomes :data:`MARKER`.

The algorithm: the set of every :data:`MIN_FRAGMENT`-character window of every secret is
built once (:func:`redactor_for` shares a redactor per set of secrets); the text is first
checked for any window -- one substring search per window when there are fewer windows
than positions, else one set lookup per position -- and only text that holds one is
scanned again, marking the windows that hit. Any longer fragment of a secret is covered by
the windows it contains, so marking windows is enough. Cost: linear in the secrets (once)
and in the text (per redaction); every call pays it once, for the response head it shows
(``Completion.headers``), and error paths for their messages.

Which credentials count (see :func:`endpoint_secrets`): the API key, the values of the
endpoint's extra headers whose name says they are credentials (``Authorization``,
``Proxy-Authorization``, ``Cookie``, and any name containing ``key``, ``token``,
``auth``, ``secret``, ``password``, ``session`` or ``signature``), the values of such
parameters in the base URL's query (Gemini's ``?key=``), and whatever the driver adds
(a proxy password).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Final

__all__ = [
    "MARKER",
    "MIN_FRAGMENT",
    "Redactor",
    "endpoint_secrets",
    "is_credential_name",
    "redactor_for",
]

#: What a removed secret (or fragment of one) is replaced with.
MARKER: Final = "[REDACTED]"

#: The shortest fragment of a secret that is removed. Eight characters of a key are
#: already a useful clue (and what providers' masked forms show); shorter runs occur by
#: chance in ordinary text.
MIN_FRAGMENT: Final = 8

# If a secret shares a window with MARKER itself, the marker would re-introduce a
# fragment; this one is too short to hold a window.
_FALLBACK_MARKER: Final = "***"

_CREDENTIAL_WORDS: Final = (
    "key",
    "token",
    "auth",
    "secret",
    "password",
    "passwd",
    "session",
    "signature",
    "cookie",
    "credential",
)


def is_credential_name(name: str) -> bool:
    """Whether a header or query parameter named ``name`` carries a credential."""
    lowered = name.lower()
    return any(map(lowered.__contains__, _CREDENTIAL_WORDS))  # no generator frame


def endpoint_secrets(
    api_key: str | None, headers: Mapping[str, str], base_url: str = ""
) -> list[str]:
    """The credentials an endpoint sends: the key, credential header values (and, for an
    ``Authorization``-style value, the part after the scheme: ``Bearer <token>``), and
    credential query values of ``base_url``."""
    secrets = [api_key] if api_key else []
    for name, value in headers.items():
        if is_credential_name(name) and value:
            secrets.append(value)
            credential = value.strip().partition(" ")[2]
            if credential.strip():
                secrets.append(credential.strip())
    if "?" not in base_url:  # urlsplit finds a query only after a "?"
        return secrets
    # urllib.parse (and the ipaddress module it imports, ~3 ms) only for a base URL with
    # a query (Azure's api-version, a key in the URL), not on every call.
    from urllib.parse import parse_qsl, urlsplit

    query = urlsplit(base_url).query
    if query:
        for name, value in parse_qsl(query, keep_blank_values=False):
            if is_credential_name(name):
                secrets.append(value)
    return secrets


class Redactor:
    """Removes a fixed set of secrets from texts. Built once (per call), used on each
    text an ``Error`` is made of. Empty secrets are ignored; ``repr`` shows only how
    many secrets there are."""

    __slots__ = ("_marker", "_short", "_windows")

    def __init__(self, secrets: Iterable[str]) -> None:
        windows: set[str] = set()
        short: set[str] = set()
        n = MIN_FRAGMENT
        for secret in secrets:
            if not secret:
                continue
            if len(secret) < n:
                short.add(secret)
            else:
                windows.update(secret[i : i + n] for i in range(len(secret) - n + 1))
        self._windows = frozenset(windows)
        # Longest first, so that a short secret inside another is not removed piecemeal.
        self._short = tuple(sorted(short, key=len, reverse=True))
        self._marker = MARKER
        if self._leaks(MARKER) or any(s in MARKER for s in self._short):
            self._marker = _FALLBACK_MARKER

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._windows)} windows, {len(self._short)} short secrets>)"

    def __bool__(self) -> bool:
        return bool(self._windows or self._short)

    def __call__(self, text: str) -> str:
        """``text`` without any secret, nor any fragment of one of ``MIN_FRAGMENT``
        characters or more."""
        if not text or not (self._windows or self._short):
            return text
        out = self._remove_windows(text)
        for secret in self._short:
            if secret in out:
                out = out.replace(secret, self._marker)
        # Joining kept text to a marker could, in theory, form a new fragment (a secret
        # that contains marker characters); then nothing of the text is kept. Text with
        # nothing removed has no fragment: the scans above just said so.
        if out is not text and self.leaks(out):
            return self._marker
        return out

    def leaks(self, text: str) -> bool:
        """Whether ``text`` holds a secret, or a fragment :meth:`__call__` would remove."""
        return self._leaks(text) or any(s in text for s in self._short)

    # --- internals ------------------------------------------------------------------------
    def _leaks(self, text: str) -> bool:
        windows = self._windows
        positions = len(text) - MIN_FRAGMENT + 1
        if not windows or positions < 1:
            return False
        if len(windows) < positions:
            # Fewer windows than places to look: one C substring search per window
            # beats a slice and a set lookup per position.
            return any(window in text for window in windows)
        n = MIN_FRAGMENT
        return any(text[i : i + n] in windows for i in range(positions))

    def _remove_windows(self, text: str) -> str:
        windows = self._windows
        n = MIN_FRAGMENT
        if not self._leaks(text):  # the common case, at the cheaper of the two scans
            return text
        pieces: list[str] = []
        kept = 0  # text[kept:] is not yet copied to pieces
        cover_end = -1  # the end of the stretch being removed, or -1 before the first
        for i in range(len(text) - n + 1):
            if text[i : i + n] in windows:
                if cover_end < i:  # a new stretch (not touching the previous one)
                    if cover_end >= 0:
                        pieces.append(self._marker)
                        kept = cover_end
                    pieces.append(text[kept:i])
                cover_end = i + n
        if cover_end < 0:
            return text
        pieces.append(self._marker)
        pieces.append(text[cover_end:])
        return "".join(pieces)


@lru_cache(maxsize=32)
def redactor_for(secrets: tuple[str, ...]) -> Redactor:
    """The :class:`Redactor` of ``secrets``, shared: every call of a client has the same
    secrets and shows its response head (``Completion.headers``), and building the
    windows of a 160-character key costs more than the rest of that work."""
    return Redactor(secrets)
