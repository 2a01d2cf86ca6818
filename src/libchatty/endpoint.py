"""Where a call goes: :class:`Endpoint` (base URL, key, dialect, extra headers).

Everything that will become part of a request line or a header is checked here, when the
endpoint is built, so a bad key or header fails before any connection is opened. The API
key -- and every header value, which may be a credential too -- is kept out of ``repr``
and of every message this module produces: errors name the field, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from .values import Value
from .values import value as value_class  # "value" is a common local name here

if TYPE_CHECKING:
    from urllib.parse import SplitResult

    # Only Bedrock's endpoints carry credentials; sigv4 (hashlib, hmac, datetime) is
    # imported when one does, not by every program that builds an Endpoint.
    from .sigv4 import AWSCredentials

__all__ = [
    "MAX_TOKENS_FIELDS",
    "Endpoint",
    "PlainURL",
    "check_header_name",
    "check_header_value",
    "merge_query",
    "redact_url",
    "split_url",
]

# The patterns only some endpoints need (headers, AWS regions) are strings, compiled on
# first use by re's cache, not on import (about 0.2 ms of a CLI run's start-up).
# An HTTP token (RFC 9110 5.6.2), exactly h11's ``field_name``.
_TOKEN: Final = r"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
# Visible ASCII words separated by single runs of SP/HTAB: h11's ``field_value`` minus
# what h11 lets through for compatibility and we never want to send (obs-text, i.e.
# non-ASCII, and control characters other than HTAB). Empty is allowed, as in h11.
_FIELD_VALUE: Final = r"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?"
# An AWS region: lower-case words joined by single hyphens (``us-east-1``,
# ``us-gov-west-1``); it becomes part of a host name and of the SigV4 scope.
_REGION: Final = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_MAX_REGION: Final = 64
# The URL every provider's base URL has, ``(https?)://([0-9A-Za-z.-]+)(?::([0-9]{1,5}))?
# ([/?][\x21\x22\x24-\x7e]*)?``: a lower-case http(s) scheme, a host name or IPv4
# address, an optional port, then a path and query of visible ASCII without a fragment.
# split_url reads these itself (_plain_parts, with string methods: compiling the pattern
# cost every process's first Endpoint 0.4 M instructions); anything else (IPv6 literals,
# userinfo, fragments, odd characters) goes to urllib.parse.
_HOST_CHARACTERS: Final = frozenset(
    "0123456789.-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_MAX_PORT: Final = 65535


def _visible_word(text: str) -> bool:
    """Whether ``text`` is one word of visible ASCII (``[\\x21-\\x7e]+``): what an API
    key is (a space inside is a copy-paste accident) and what a base URL may hold (h11
    refuses anything else in a request target; urlsplit would silently drop a tab or a
    newline). Three C string scans: no pattern for every start-up to compile (0.2 M
    instructions)."""
    # Among ASCII characters, the printable ones are \x20-\x7e: all but the space.
    return text.isascii() and text.isprintable() and " " not in text and text != ""


class PlainURL:
    """A plain URL split by :func:`split_url`: the attributes of urlsplit's result that
    libchatty reads, with the same values."""

    __slots__ = ("hostname", "netloc", "path", "port", "query", "scheme")

    def __init__(self, scheme: str, host: str, port: str | None, rest: str) -> None:
        self.scheme = scheme
        self.netloc = host if port is None else f"{host}:{port}"
        self.hostname: str | None = host.lower()
        self.port: int | None = None if port is None else int(port)
        self.path, _, self.query = rest.partition("?")


def split_url(url: str) -> PlainURL | SplitResult:
    """``url`` split as ``urllib.parse.urlsplit(url)`` splits it: the same ``scheme``,
    ``netloc``, ``hostname``, ``port``, ``path`` and ``query``, and the same
    ``ValueError`` where urlsplit or its ``port`` raises one.

    urllib.parse, and the ipaddress module it imports, cost a process about 3 ms of
    start-up: a plain base URL (see ``_HOST_CHARACTERS``) is split here without them, anything
    else by urlsplit itself (tests/test_endpoint_urls.py holds the two to the same
    answers).
    """
    plain = _plain_parts(url)
    if plain is not None:
        scheme, host, port, rest = plain
        if port is None or int(port) <= _MAX_PORT:  # else urlsplit's port raises
            return PlainURL(scheme, host, port, rest)
    from urllib.parse import urlsplit

    return urlsplit(url)


def _plain_parts(url: str) -> tuple[str, str, str | None, str] | None:
    """The scheme, host, port (None when absent) and the rest of a plain URL (see
    ``_HOST_CHARACTERS``), or None when ``url`` is not one."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("http", "https"):
        return None
    # The host and port end where the path or the query starts.
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    host, colon, port = rest[:end].partition(":")
    rest = rest[end:]
    if not host or not _HOST_CHARACTERS.issuperset(host):
        return None
    if colon and not (0 < len(port) <= 5 and port.isascii() and port.isdigit()):
        return None
    if rest and not (_visible_word(rest) and "#" not in rest):
        return None
    return scheme, host, port if colon else None, rest


def check_header_name(what: str, name: object) -> None:
    """Refuse a header name that is not an HTTP token. The message names ``what``."""
    if not isinstance(name, str):
        raise ValueError(f"{what} must be a str, not {type(name).__name__}")
    if not re.fullmatch(_TOKEN, name):
        raise ValueError(
            f"{what} is not a valid HTTP header name (letters, digits, -!#$%&'*+.^_`|~)"
        )


def check_header_value(what: str, value: object) -> None:
    """Refuse a header value that h11 would refuse, or that would break or smuggle a
    header: it must be visible ASCII, with spaces or tabs only between words.

    The message names ``what`` but never quotes ``value`` or any part of it (it may be a
    secret), and the ``ValueError`` has no ``__context__``.
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a str, not {type(value).__name__}")
    if not re.fullmatch(_FIELD_VALUE, value):
        raise ValueError(f"{what} {_fault(value)}; it was refused (its value is not shown)")


def _fault(value: str) -> str:
    """What is wrong with an invalid ``value``, in words that quote none of it."""
    if any(c in "\r\n\0" for c in value):
        return "contains a control character (CR, LF, NUL...)"
    if value != value.strip(" \t"):
        return "has leading or trailing whitespace"
    if not value.isascii():
        return "contains a non-ASCII character"
    if any(c in " \t" for c in value):
        return "contains whitespace"
    return "contains a control character (CR, LF, NUL...)"


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise ValueError(f"Endpoint.api_key must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError("Endpoint.api_key is empty; pass None for no key")
    if not _visible_word(key):
        raise ValueError(
            f"Endpoint.api_key (the API key) {_fault(key)}; it was refused (its value is not shown)"
        )


def redact_url(url: str) -> str:
    """``url`` with every query value and any userinfo replaced by ``***``, for reprs and
    messages: ``?key=...`` (Gemini's style) and ``https://user:pass@`` carry secrets."""
    # urllib.parse (and the ipaddress module it imports, ~3 ms) when a URL is parsed,
    # not when libchatty is imported.
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "<invalid URL>"
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{name}=***" if sep else name
        for name, sep, _ in (item.partition("=") for item in parts.query.split("&"))
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query if parts.query else "", ""))


def merge_query(target: str, query: str) -> str:
    """``target`` with the base URL's ``query`` in front of its own. A parameter the
    target sets itself (Gemini's ``alt=sse``) wins over one of the same name in ``query``:
    the dialect knows what its request needs."""
    if not query:
        return target
    path, sep, own = target.partition("?")
    if not sep:
        return f"{path}?{query}"
    names = {item.partition("=")[0] for item in own.split("&")}
    kept = [item for item in query.split("&") if item and item.partition("=")[0] not in names]
    return f"{path}?{'&'.join([*kept, own])}" if kept else target


def _check_aws(region: object, credentials: object) -> None:
    if region is not None and (
        not isinstance(region, str)
        or len(region) > _MAX_REGION
        or not re.fullmatch(_REGION, region)
    ):
        raise ValueError(
            "Endpoint.region must be an AWS region name such as 'us-east-1' "
            "(lower-case letters, digits and single hyphens)"
        )
    if credentials is None:
        return
    from .sigv4 import AWSCredentials  # cached: whoever made the credentials imported it

    if not isinstance(credentials, AWSCredentials):
        raise ValueError(
            f"Endpoint.aws_credentials must be an AWSCredentials, not {type(credentials).__name__}"
        )
    if region is None:
        raise ValueError("Endpoint.aws_credentials need Endpoint.region to sign with")
    # Each is sent in a header (the key id inside Authorization) or keys the signature.
    for what, value in (
        ("access_key_id", credentials.access_key_id),
        ("secret_access_key", credentials.secret_access_key),
        ("session_token", credentials.session_token),
    ):
        if value is None and what == "session_token":
            continue
        if not isinstance(value, str) or not _visible_word(value):
            raise ValueError(
                f"Endpoint.aws_credentials.{what} must be a non-empty str of visible ASCII "
                "without spaces; it was refused (its value is not shown)"
            )


#: ``Endpoint.max_tokens_field`` values.
MAX_TOKENS_FIELDS: Final = ("max_tokens", "max_completion_tokens")
# Hosts (and their subdomains) whose API takes max_completion_tokens: OpenAI and Azure.
_COMPLETION_TOKENS_HOSTS: Final = (
    "api.openai.com",
    "openai.azure.com",
    "cognitiveservices.azure.com",
    "services.ai.azure.com",
)


def _max_tokens_field(given: str | None, host: str) -> str:
    if given is None:
        host = host.lower()
        on_openai = any(host == h or host.endswith("." + h) for h in _COMPLETION_TOKENS_HOSTS)
        return "max_completion_tokens" if on_openai else "max_tokens"
    if given not in MAX_TOKENS_FIELDS:
        raise ValueError(
            "Endpoint.max_tokens_field must be 'max_tokens', 'max_completion_tokens' or None"
        )
    return given


# The default ``headers``: each endpoint gets a dict of its own (as a dataclass's
# ``default_factory=dict`` would give), so this one is never stored.
_NO_HEADERS: Final[Mapping[str, str]] = {}
_set: Final = object.__setattr__


@value_class(
    no_init=("scheme", "host", "port", "path_prefix", "query"),
    no_repr=("api_key", "aws_credentials", "query"),
)
class Endpoint(Value):
    """A provider endpoint.

    ``base_url`` keeps its path prefix (``https://api.groq.com/openai/v1``): dialects
    append their own path to it. Its query string (``?api-version=2024-10-21``, Azure) is
    kept on every request, in front of any parameter the dialect adds. ``dialect`` names
    the wire format (``"openai-chat"``, ``"openai-responses"``, ``"anthropic"``,
    ``"gemini"``, ``"ollama"``). ``include_usage`` asks OpenAI-style servers for a usage
    chunk (``stream_options``); turn it off for servers that reject that field.
    ``region`` and ``aws_credentials`` are for AWS Bedrock (dialect ``"bedrock"``): the
    region signs the request and the credentials (an access key pair and, for temporary
    credentials, a session token) make the SigV4 signature; a Bedrock API key goes in
    ``api_key`` instead and is sent as a bearer token, unsigned.

    Checked when built, so nothing invalid reaches a connection (``ValueError`` naming
    the field, never quoting a key or header value):

    * ``base_url``: ``http``/``https``, a host, a valid port, no userinfo, visible ASCII
      only (percent-encode the rest; IDN hosts in their ``xn--`` form);
    * ``api_key``: None, or a non-empty str of visible ASCII without spaces;
    * ``region``: None or an AWS region name (``us-east-1``: lower-case letters, digits,
      single hyphens); ``aws_credentials``: None or an
      :class:`~libchatty.sigv4.AWSCredentials` of visible ASCII words, and then a region;
    * ``headers``: str names that are HTTP tokens, str values of visible ASCII with
      spaces or tabs only between words (stricter than h11, which also lets non-ASCII and
      most control characters through).

    ``max_tokens_field`` is the body key OpenAI-style dialects send
    ``ChatRequest.max_tokens`` under: ``"max_completion_tokens"`` (OpenAI and Azure, whose
    reasoning models refuse ``max_tokens``) or ``"max_tokens"`` (compatible servers).
    None (the default) decides by host: ``api.openai.com`` and Azure OpenAI hosts
    (``*.openai.azure.com``, ``*.cognitiveservices.azure.com``, ``*.services.ai.azure.com``)
    get ``max_completion_tokens``, every other host ``max_tokens``; after construction it
    is always one of the two.

    ``repr`` shows the base URL with every query value as ``***``, and no key, header
    or AWS credential (the region is shown).
    """

    __slots__ = (  # noqa: RUF023 - the fields, in order
        "base_url",
        "api_key",
        "dialect",
        "headers",
        "include_usage",
        "region",
        "aws_credentials",
        "max_tokens_field",
        "scheme",
        "host",
        "port",
        "path_prefix",
        "query",
    )
    base_url: str
    api_key: str | None
    dialect: str
    headers: Mapping[str, str]
    include_usage: bool
    region: str | None
    aws_credentials: AWSCredentials | None
    max_tokens_field: str | None
    scheme: str
    host: str
    port: int
    path_prefix: str
    query: str

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        dialect: str = "openai-chat",
        headers: Mapping[str, str] = _NO_HEADERS,
        include_usage: bool = True,
        region: str | None = None,
        aws_credentials: AWSCredentials | None = None,
        max_tokens_field: str | None = None,
    ) -> None:
        if not isinstance(base_url, str):
            raise ValueError(f"Endpoint.base_url must be a str, not {type(base_url).__name__}")
        if not _visible_word(base_url):
            raise ValueError(
                "Endpoint.base_url must be visible ASCII without spaces "
                "(percent-encode other characters)"
            )
        parts = split_url(base_url)
        # The URL is shown (query values and userinfo hidden) only in these errors.
        if parts.scheme not in ("http", "https"):
            shown = redact_url(base_url)
            raise ValueError(f"Endpoint.base_url must be http:// or https://, not {shown!r}")
        host = parts.hostname
        if not host:
            raise ValueError(f"Endpoint.base_url has no host: {redact_url(base_url)!r}")
        if "@" in parts.netloc:
            raise ValueError("Endpoint.base_url must not carry credentials; pass api_key")
        try:
            port = parts.port
        except ValueError:
            shown = redact_url(base_url)
            raise ValueError(f"Endpoint.base_url has an invalid port: {shown!r}") from None
        if api_key is not None:
            _check_key(api_key)
        _check_aws(region, aws_credentials)
        if headers is _NO_HEADERS:
            headers = {}
        elif not isinstance(headers, Mapping):
            raise ValueError("Endpoint.headers must be a mapping of str to str")
        for position, (name, header) in enumerate(headers.items()):
            check_header_name(f"Endpoint.headers: the name of header #{position}", name)
            check_header_value(f"Endpoint.headers: the value of header {name!r}", header)
        _set(self, "base_url", base_url)
        _set(self, "api_key", api_key)
        _set(self, "dialect", dialect)
        _set(self, "headers", headers)
        _set(self, "include_usage", include_usage)
        _set(self, "region", region)
        _set(self, "aws_credentials", aws_credentials)
        _set(self, "max_tokens_field", _max_tokens_field(max_tokens_field, host))
        _set(self, "scheme", parts.scheme)
        _set(self, "host", host)
        _set(self, "port", port or (443 if parts.scheme == "https" else 80))
        _set(self, "path_prefix", parts.path.rstrip("/"))
        _set(self, "query", parts.query)

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the port is shown only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url(self, path: str) -> str:
        """The request target for ``path`` (which may carry its own ``?query``) below the
        base URL's prefix, with the base URL's query merged in (see :meth:`with_query`)."""
        return merge_query(self.path_prefix + path, self.query)

    def with_query(self, target: str) -> str:
        """``target`` (a whole request target a dialect built itself) with the base URL's
        query in front of its own parameters; a parameter of the same name in ``target``
        wins."""
        return merge_query(target, self.query)

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "'***'"
        aws = ""
        if self.region is not None:
            aws += f", region={self.region!r}"
        if self.aws_credentials is not None:
            aws += ", aws_credentials=<hidden>"
        return (
            f"Endpoint(base_url={redact_url(self.base_url)!r}, api_key={key}, "
            f"dialect={self.dialect!r}{aws})"
        )
