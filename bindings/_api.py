"""What every binding shares with its users: the types of the public API and the client
configuration.

* :class:`Completion` -- what ``chat()`` returns.
* :class:`Timeout` -- ``connect``, ``idle`` (no byte for that long; keep-alive comments
  count as bytes), ``total`` and the opt-in ``stall`` (no content for that long;
  keep-alive comments do not count) seconds; each, when exceeded, ends the call with
  ``Error("timeout")``. ``None`` disables one.
* :data:`STOP` -- return it from ``on_delta``/``on_event`` to stop streaming cleanly.
* :class:`MissingAPIKeyError` -- raised by a client constructor when the provider needs a
  key and none was given or found; the message names the variables to set.
* :func:`make_config` -- provider table + environment -> :class:`ClientConfig` (the
  endpoint, timeouts, retries, proxy and TLS context one client uses).

The callbacks (the same in every binding; async clients also accept ``async def``):

* ``on_delta(text: str, done: bool)`` -- called with each piece of answer text
  (``done=False``) and once more at the end of a successful answer with ``("", True)``.
* ``on_event(event)`` -- called with every typed event (``Delta`` of any kind: text,
  reasoning, tool-call fragments, refusals; then the final ``Done``). An ``Error`` is not
  passed to callbacks: it is raised as :class:`~libchatty.exceptions.ChatError`.

A callback that raises stops the call at once: the connection is closed (never reused)
and that same exception reaches the caller of ``chat()``. A callback that returns
:data:`STOP` ends the call cleanly: ``chat()`` returns a :class:`Completion` with the text
received so far and ``finish_reason="stopped"``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypedDict
from urllib.parse import unquote, urlsplit

from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import LibchattyError
from libchatty.request import ChatRequest, Message, as_message

if TYPE_CHECKING:
    import ssl

    from libchatty.request import Tool

__all__ = [
    "CHAT_OPTIONS",
    "STOP",
    "ChatOptions",
    "ClientConfig",
    "Completion",
    "MissingAPIKeyError",
    "OnDelta",
    "OnEvent",
    "Proxy",
    "Timeout",
    "build_request",
    "make_config",
    "proxy_from_env",
    "run_callbacks",
]


# --- what chat() returns ---------------------------------------------------------------


class _Value:
    """An immutable slotted value: ``==``, ``hash`` and ``repr`` from ``__slots__``.

    What ``@dataclass(frozen=True, slots=True)`` would give; written out because building
    each dataclass costs about half a millisecond of import time, which every program
    importing a binding would pay.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()  # in declaration order (slots are sorted)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Value)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # copy, deepcopy and pickle rebuild through __init__ (fields in __init__ order).
        return type(self), self._values()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


class Completion(_Value):
    """A finished answer (immutable).

    ``text``/``reasoning``/``refusal`` are complete (choice 0; ``choices`` holds every
    choice's text when ``n > 1`` was asked through ``extra``). ``finish_reason`` is
    normalised (``stop``, ``length``, ``tool_calls``, ``content_filter``), or
    ``"stopped"`` when a callback returned :data:`STOP` (then only ``text`` is filled:
    the answer text received until then). ``raw_finish_reason`` is the provider's value.
    ``streamed`` says whether the answer arrived as a stream of events: False for a
    request without callbacks, after the non-streaming fallback, or when the server
    answered a streaming request with one JSON body. ``reasoning_signature`` is the
    provider's opaque signature of ``reasoning`` (Anthropic extended thinking), or None.

    In a tool loop, append :meth:`to_message` to the conversation, then one ``tool``
    message per call: the signatures the provider needs back travel with it.
    """

    _fields = (
        "text",
        "reasoning",
        "refusal",
        "tool_calls",
        "finish_reason",
        "raw_finish_reason",
        "usage",
        "streamed",
        "choices",
        "reasoning_signature",
    )
    __slots__ = _fields
    text: str
    reasoning: str
    refusal: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    raw_finish_reason: str | None
    usage: Usage | None
    streamed: bool
    choices: tuple[str, ...]
    reasoning_signature: str | None

    def __init__(
        self,
        text: str,
        reasoning: str = "",
        refusal: str = "",
        tool_calls: tuple[ToolCall, ...] = (),
        finish_reason: str | None = None,
        raw_finish_reason: str | None = None,
        usage: Usage | None = None,
        streamed: bool = False,
        choices: tuple[str, ...] = (),
        reasoning_signature: str | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "text", text)
        init(self, "reasoning", reasoning)
        init(self, "refusal", refusal)
        init(self, "tool_calls", tool_calls)
        init(self, "finish_reason", finish_reason)
        init(self, "raw_finish_reason", raw_finish_reason)
        init(self, "usage", usage)
        init(self, "streamed", streamed)
        init(self, "choices", choices)
        init(self, "reasoning_signature", reasoning_signature)

    @classmethod
    def from_done(cls, done: Done, streamed: bool) -> Completion:
        return cls(
            text=done.text,
            reasoning=done.reasoning,
            refusal=done.refusal,
            tool_calls=done.tool_calls,
            finish_reason=done.finish_reason,
            raw_finish_reason=done.raw_finish_reason,
            usage=done.usage,
            streamed=streamed,
            choices=done.choices,
            reasoning_signature=done.reasoning_signature,
        )

    def to_message(self) -> Message:
        """The assistant turn to append to the conversation (a tool loop's next request):
        the text (None when empty and there are tool calls), the tool calls with their
        signatures, the reasoning and its signature (None when there is none)."""
        return Message(
            role="assistant",
            content=None if not self.text and self.tool_calls else self.text,
            tool_calls=self.tool_calls,
            reasoning=self.reasoning or None,
            reasoning_signature=self.reasoning_signature,
        )


class _Stop:
    """The type of :data:`STOP` (one instance)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "STOP"


#: Return this from a callback to stop streaming cleanly (see the module docstring).
STOP: Final = _Stop()

#: ``on_delta(text, done)``: the return value is ignored unless it is :data:`STOP`.
OnDelta = Callable[[str, bool], object]
#: ``on_event(event)``: the return value is ignored unless it is :data:`STOP`.
OnEvent = Callable[[Event], object]


def run_callbacks(event: Event, on_delta: OnDelta | None, on_event: OnEvent | None) -> bool:
    """Give ``event`` to the callbacks (see the module docstring); True when one of
    them returned :data:`STOP`. An ``Error`` is not given to callbacks."""
    kind = type(event)
    if kind is Error:
        return False
    if on_event is not None and on_event(event) is STOP:
        return True
    if on_delta is not None:
        if kind is Delta:
            if event.kind == "text" and event.text:  # type: ignore[union-attr]
                return on_delta(event.text, False) is STOP  # type: ignore[union-attr]
        elif kind is Done:
            return on_delta("", True) is STOP
    return False


# --- timeouts ------------------------------------------------------------------------------


class Timeout(_Value):
    """Seconds allowed; ``None`` waits forever.

    * ``connect``: to open the connection (DNS, TCP, proxy tunnel, TLS handshake);
    * ``idle``: between two reads that bring bytes (a keep-alive comment counts, so a
      reasoning model thinking quietly behind ``: ping`` lines is not cut off). Also
      bounds the wait for the first byte of the response;
    * ``total``: the whole call, retries and their backoff included;
    * ``stall`` (opt-in): on a streaming request, from the first byte of the response
      to the first piece of content and between two pieces of content. Only a read that
      brings a ``Delta`` resets it -- keep-alive comments and ``ping`` events do not --
      so a server trickling nothing but keep-alives is cut off. Exceeding it ends the
      call (not retried, no fallback) with ``Error("timeout")`` saying "stall timeout",
      with the partial text.

    The default idle timeout is long because a non-streamed answer sends nothing until
    the model has finished. A timeout never triggers the fallback to a non-streaming
    request: that request would wait just as long.
    """

    _fields = __slots__ = ("connect", "idle", "total", "stall")
    connect: float | None
    idle: float | None
    total: float | None
    stall: float | None

    def __init__(
        self,
        connect: float | None = 10.0,
        idle: float | None = 300.0,
        total: float | None = None,
        stall: float | None = None,
    ) -> None:
        for name, value in (
            ("connect", connect), ("idle", idle), ("total", total), ("stall", stall)
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            ):
                raise ValueError(f"Timeout.{name} must be a positive number or None")
            object.__setattr__(self, name, value)

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A :class:`Timeout` from a number (connect and idle, no total), ``None`` (no
        timeouts at all) or a :class:`Timeout`."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(None, None, None)
        return cls(connect=value, idle=value, total=None)


# --- proxies -------------------------------------------------------------------------------


class Proxy(_Value):
    """An HTTP proxy that tunnels HTTPS with ``CONNECT``. ``authorization`` (the
    ``Proxy-Authorization`` value, from credentials in the proxy URL) is kept out of
    ``repr``."""

    _fields = ("host", "port", "authorization")
    __slots__ = _fields
    host: str
    port: int
    authorization: str | None

    def __init__(self, host: str, port: int, authorization: str | None = None) -> None:
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "authorization", authorization)

    def __repr__(self) -> str:
        return f"Proxy(host={self.host!r}, port={self.port!r})"


_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def _no_proxy_matches(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:  # a CIDR block: only then is ipaddress worth importing
            import ipaddress

            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else ("", "", "")
        if name and entry_port.isdigit():
            if int(entry_port) != port:
                continue
            entry = name
        entry = entry.lstrip("*").lstrip(".").strip("[]")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def proxy_from_env(scheme: str, host: str, port: int, env: Mapping[str, str]) -> Proxy | None:
    """The proxy for ``scheme://host:port`` from ``HTTPS_PROXY``/``ALL_PROXY`` (either
    case), or None.

    Only ``https`` targets use a proxy (tunnelled with ``CONNECT``, so the proxy never
    sees the request or the key); plain ``http`` targets are local servers and go
    direct. ``NO_PROXY`` (comma-separated host names, ``.suffix``, ``host:port``, CIDR
    blocks, or ``*``) and loopback hosts bypass the proxy. Only ``http://`` proxy URLs
    are supported; anything else is a ``ValueError``.
    """
    if scheme != "https" or host.lower().strip("[]") in _LOOPBACK:
        return None
    url = ""
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        url = env.get(name, "").strip()
        if url:
            break
    if not url:
        return None
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    if no_proxy and _no_proxy_matches(host, port, no_proxy):
        return None
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme != "http":
        raise ValueError(
            f"the proxy URL must be http://host:port (a {parts.scheme}:// proxy is not supported)"
        )
    if not parts.hostname:
        raise ValueError("the proxy URL has no host")
    try:
        proxy_port = parts.port or 80
    except ValueError:
        raise ValueError("the proxy URL has an invalid port") from None
    authorization = None
    if parts.username is not None:
        import binascii  # only with credentials in the proxy URL

        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = binascii.b2a_base64(credentials.encode(), newline=False).decode("ascii")
        authorization = f"Basic {token}"
    return Proxy(parts.hostname, proxy_port, authorization)


# --- the client configuration -------------------------------------------------------------


class MissingAPIKeyError(LibchattyError, ValueError):
    """The provider needs an API key and none was given or found in the environment.

    ``variables`` lists the environment variables that were checked, in order.
    """

    def __init__(self, provider: str | None, base_url: str, variables: tuple[str, ...]) -> None:
        where = f"provider {provider!r}" if provider else base_url
        names = " or ".join(variables)
        super().__init__(
            f"no API key for {where}: set {names} in the environment, or pass api_key=..."
        )
        self.variables = variables


class ClientConfig:
    """Everything one client needs; built once by :func:`make_config`. The endpoint's
    key stays out of ``repr``."""

    __slots__ = ("endpoint", "max_retries", "provider", "proxy", "ssl_context", "timeout")

    def __init__(
        self,
        endpoint: Endpoint,
        timeout: Timeout,
        max_retries: int,
        proxy: Proxy | None,
        ssl_context: ssl.SSLContext | None = None,
        provider: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_retries = max_retries
        self.proxy = proxy
        self.ssl_context = ssl_context
        self.provider = provider

    def __repr__(self) -> str:
        return (
            f"ClientConfig(endpoint={self.endpoint!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries!r}, proxy={self.proxy!r})"
        )


def make_config(
    provider: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    dialect: str | None = None,
    timeout: Timeout | float | None = None,
    max_retries: int = 2,
    ssl_context: ssl.SSLContext | None = None,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Resolve a provider name, explicit settings and the environment (``os.environ``
    unless ``env`` is given) into a :class:`ClientConfig`.

    Raises :class:`MissingAPIKeyError` when a key is needed and missing, ``ValueError``
    for an unknown provider or dialect, an invalid base URL or proxy, or a header value
    with control characters (the message never contains the value).
    """
    from libchatty.providers import resolve  # the provider table is only needed here

    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be a non-negative integer")
    environ: Mapping[str, str] = os.environ if env is None else env
    resolved = resolve(provider, base_url, api_key, dialect, environ)
    if resolved.api_key is None and resolved.key_required and resolved.key_env_checked:
        raise MissingAPIKeyError(resolved.provider, resolved.base_url, resolved.key_env_checked)
    endpoint = Endpoint(
        resolved.base_url,
        resolved.api_key,
        resolved.dialect,
        headers={**resolved.headers, **(headers or {})},
        include_usage=resolved.include_usage,
    )
    return ClientConfig(
        endpoint=endpoint,
        timeout=Timeout() if timeout is None else Timeout.coerce(timeout),
        max_retries=max_retries,
        proxy=proxy_from_env(endpoint.scheme, endpoint.host, endpoint.port, environ),
        ssl_context=ssl_context,
        provider=resolved.provider,
    )


# --- the request ------------------------------------------------------------------------------

class ChatOptions(TypedDict, total=False):
    """The keyword options of ``chat()``/``stream()``/``submit()`` (the
    :class:`ChatRequest` fields), typed so that a type checker catches a misspelt one:
    the methods take ``**options: Unpack[ChatOptions]``."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    tools: Sequence[Tool | Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    extra: Mapping[str, Any] | None


#: The keyword options ``chat()``/``stream()`` accept: the keys of :class:`ChatOptions`.
CHAT_OPTIONS: Final = frozenset(ChatOptions.__annotations__)


def build_request(
    messages: str | Sequence[Message | Mapping[str, Any]],
    model: str,
    stream: bool,
    options: Mapping[str, Any],
) -> ChatRequest:
    """The :class:`ChatRequest` for a ``chat()`` call. A plain string is one user message.
    An unknown option is a ``TypeError`` naming it; invalid values a ``ValueError``."""
    unknown = options.keys() - CHAT_OPTIONS
    if unknown:
        raise TypeError(
            f"unexpected option(s) {', '.join(sorted(unknown))}; "
            f"accepted: {', '.join(sorted(CHAT_OPTIONS))}"
        )
    if isinstance(messages, str):
        parsed: Sequence[Message] = (Message("user", messages),)
    else:
        parsed = tuple(as_message(m) for m in messages)
    return ChatRequest(model=model, messages=parsed, stream=stream, **options)
