"""The I/O the request loop asks a runner for, and what a runner answers with.

The loop (:class:`~libchatty.bindings._exchange.Exchange`) yields these operations and is
sent their results; a backend performs the I/O ones (and :class:`Authenticate`, off the
event loop), the runner handles :class:`Deliver` and :class:`Relay` itself (a relay's
reads are the backend's). A transport failure comes back as :class:`IOFailure`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

from libchatty.events import Event

if TYPE_CHECKING:
    from libchatty.callhead import HTTPRequest

    from ._credentials import CredentialSource

__all__ = [
    "COMPILE_AFTER",
    "READ_SIZE",
    "Authenticate",
    "Conn",
    "Connect",
    "ConnectFailure",
    "Deliver",
    "IOFailure",
    "Op",
    "Probe",
    "Receive",
    "Relay",
    "Runtime",
    "Send",
    "SendRequest",
    "Sleep",
    "StartTLS",
]

#: Bytes asked for per read: a whole SSE burst in one call, small enough to stay in cache.
READ_SIZE: Final = 64 * 1024


class Conn(Protocol):
    """A connection as the loop sees it: opaque, except that it can be dropped at once,
    synchronously, from any state (so a ``finally`` can always close it)."""

    def abort(self) -> None: ...


if TYPE_CHECKING:
    from typing_extensions import dataclass_transform  # typing's from Python 3.11
else:

    def dataclass_transform(**_: bool) -> Callable[[type], type]:
        return lambda cls: cls


@dataclass_transform(eq_default=False)  # an operation equals only itself
class _Fields(type):
    """The metaclass of the operations: a class's annotated fields become its
    ``__slots__`` and an ``__init__`` taking them in order -- what
    ``@dataclass(slots=True)`` would build, without its import time (milliseconds for
    these ten, paid by every ``import libchatty.bindings.blocking``)."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]
    ) -> _Fields:
        fields = tuple(namespace.get("__annotations__", ()))
        namespace["__slots__"] = fields
        if fields:
            namespace["__init__"] = _init_until_compiled
        return super().__new__(mcs, name, bases, namespace)


#: Constructions of an operation before its ``__init__`` is compiled: about where
#: setting the fields here (6k instructions more a construction than the compiled
#: ``__init__``) has cost what compiling does (0.2 M instructions an operation). A
#: completion builds a ``Send``, a ``Probe`` and a few ``Receive`` and ``Deliver``: a
#: program making a few completions compiles none of them, a long stream its
#: ``Receive`` and ``Deliver``.
COMPILE_AFTER: Final = 32

# How many times each operation not yet compiled has been constructed.
_constructions: dict[type, int] = {}


def _init_until_compiled(self: Any, *args: Any, **kwargs: Any) -> None:
    """An operation's ``__init__`` until it has been constructed :data:`COMPILE_AFTER`
    times: sets the fields from the arguments, one each in order, itself; then compiles
    its ``__init__`` -- the one a person would write, as fast (a ``Receive`` or a
    ``Deliver`` may be made per read) -- into its class, and runs it. Other arguments go
    to the compiled one at once, so a wrong call raises its own ``TypeError``."""
    cls = type(self)
    fields: tuple[str, ...] = cls.__slots__
    built = _constructions.get(cls, 0)
    if built < COMPILE_AFTER and not kwargs and len(args) == len(fields):
        _constructions[cls] = built + 1
        for field, value in zip(fields, args, strict=False):  # (lengths checked: faster)
            setattr(self, field, value)
        return
    _constructions.pop(cls, None)
    stores = "".join(f"\n    self.{field} = {field}" for field in fields)
    made: dict[str, Any] = {}
    exec(f"def __init__(self, {', '.join(fields)}):{stores}", {}, made)
    init = cls.__init__ = made["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init(self, *args, **kwargs)


class _Op(metaclass=_Fields):
    """Base of the operations: internal messages, each its fields and a ``repr``."""

    __slots__ = ()  # each operation's are its fields (see _Fields)

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


class Connect(_Op):
    """Open a TCP connection to ``host:port`` -> a :class:`Conn`."""

    host: str
    port: int
    timeout: float | None


class StartTLS(_Op):
    """Wrap ``conn`` in TLS (verified, SNI ``server_hostname``) -> the new :class:`Conn`."""

    conn: Conn
    server_hostname: str
    timeout: float | None


class Send(_Op):
    """Write all of ``data`` -> None."""

    conn: Conn
    data: bytes
    timeout: float | None


class Receive(_Op):
    """Read up to :data:`READ_SIZE` bytes -> ``bytes`` (``b""``: the peer closed). On a
    framed response (see :class:`SendRequest`): the next piece of its decoded body
    (``b""``: its end), or None when the peer ended it before its framing said (closed
    mid-chunk, reset the HTTP/2 stream)."""

    conn: Conn
    timeout: float | None


class SendRequest(_Op):
    """For a stack that frames HTTP itself (httpx, aiohttp): send ``request`` and wait
    for the response head -> a :class:`~libchatty.bindings._framed.Response`, the
    :class:`Conn` that :class:`Receive` then reads. ``connect``: seconds to get a
    connection; ``read``: seconds allowed for each read, the head's and (for a stack
    that fixes it per response) the body's. Raises :class:`ConnectFailure` when no
    connection could be made."""

    request: HTTPRequest
    connect: float | None
    read: float | None


class Sleep(_Op):
    """Wait ``seconds`` (backoff before a retry) -> None."""

    seconds: float


class Probe(_Op):
    """Look, without waiting, whether anything is waiting on the idle ``conn`` -> bool.

    True when bytes or an end of stream (or an error) are already there: on a pooled
    connection between responses nothing may be, so such a connection is closed rather
    than handing a stale answer (a server's extra response, the rest of a body longer
    than its ``Content-Length``, an unsolicited ``408``) to the next call. A backend
    that cannot tell answers False only when the transport cannot hold such bytes.
    """

    conn: Conn


class Deliver(_Op):
    """Hand ``events`` to the caller, in order (handled by the runner, not the backend)."""

    events: list[Event]


class Relay(_Op):
    """Relay the body of a streamed answer: perform ``read`` (always this same
    :class:`Receive`), feed the bytes to ``feed`` and deliver what it returns, for as
    long as that ends with a ``Delta`` -> the first events that do not (a terminal
    event, or none: not delivered), or the answer of a read that brought no bytes
    (``b""``, None; not fed). A read's failure is thrown into the loop as a
    :class:`Receive`'s is. Asked for right after a :class:`Deliver` of streamed output
    (every read of a relay follows a delivery). Handled by the runner: the per-read
    path of a streamed answer, without a round trip through the loop per read."""

    read: Receive
    feed: Callable[[bytes], list[Event]]


class Authenticate(_Op):
    """Refresh ``source``'s credentials (blocking I/O: an async backend runs it on a
    worker thread) -> the :class:`~libchatty.endpoint.Endpoint` to send to. Raises
    :class:`~libchatty.bindings._credentials.CredentialsError`."""

    source: CredentialSource


Op = (
    Connect | StartTLS | Send | Receive | Sleep | Probe | Deliver | Relay | Authenticate
    | SendRequest
)


class IOFailure(Exception):
    """What a backend raises for any transport failure: ``kind`` is ``"timeout"`` or
    ``"connection"``; ``message`` says what happened (never a secret); ``retryable``
    whether trying again could help (False for a failed certificate check)."""

    def __init__(self, kind: str, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable


class ConnectFailure(IOFailure):
    """An :class:`IOFailure` before the request left: no connection was made, so the
    request was not sent."""

    @classmethod
    def of(cls, failure: IOFailure) -> ConnectFailure:
        return cls(failure.kind, failure.message, failure.retryable)


class Runtime:
    """What the loop may not take from the environment itself: a monotonic ``clock``
    (seconds; trio's under ``autojump_clock`` in tests), a ``random`` draw in [0, 1) for
    jitter, and the ``wall_clock`` (Unix seconds) for HTTP-date ``Retry-After``."""

    __slots__ = ("clock", "random", "wall_clock")

    def __init__(
        self,
        clock: Callable[[], float],
        random: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.clock = clock
        self.random = random
        self.wall_clock = wall_clock
