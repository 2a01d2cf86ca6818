"""The states of a :class:`~libchatty.call.Call` and what moves it between them: one table.

A call's state is its :class:`Mode` alone. Inputs come from the caller (:data:`START`,
:data:`DATA`... one per door method) or from the call itself once a head or a terminal
event is read (:data:`SSE_HEAD`..., :data:`DONE`, :data:`FAULT`). :data:`TRANSITIONS`
maps ``mode -> {input: next mode}``; a caller input missing from a mode's row is
misuse (:func:`misuse` says what to call instead), an own input missing is a bug. The
raw door's :data:`DATA` carries the framed door's inputs within it: h11 and the body
reader find the head, the body and its end in the bytes, and the call gives itself
:data:`HEAD`, :data:`BODY` and :data:`END`.

========== ============================================================================
NEW        nothing sent: ``start()`` (raw door) or ``http_request()`` (framed door)
AWAIT_HEAD the request is out; the response head decides the body mode
SSE ...    reading a body: an event stream (SSE, NDJSON, AWS event stream), a whole JSON
           answer, an error body
DRAIN      ``Done`` was returned; the rest of the body is read for connection reuse
CLOSED     the terminal event was returned and the body is over: nothing more
========== ============================================================================
"""

from __future__ import annotations

import enum
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, TypeVar

__all__ = [
    "BODY",
    "CALLER_INPUTS",
    "DATA",
    "DONE",
    "END",
    "FAULT",
    "FRAMING_HEADS",
    "HEAD",
    "HTTP_REQUEST",
    "MEDIA_HEADS",
    "START",
    "STREAMING",
    "TRANSITIONS",
    "Input",
    "Mode",
    "misuse",
]


# Python 3.11+ makes its own enums (re, http, ssl...) with enum._simple_enum: the same
# Enum class, members and behaviour as a class statement gives, in half the instructions
# of the Enum metaclass (0.45 M instead of 0.85 M for Mode: 0.9 M of every import of
# libchatty, issue 14). So the two classes are written as plain ones and made Enums by
# the decorator; on 3.10, and to type checkers, they are the class statements they read as.
if TYPE_CHECKING:
    _EnumBase = Enum
    _C = TypeVar("_C")

    def _enum(cls: type[_C]) -> type[_C]: ...

elif hasattr(enum, "_simple_enum"):
    _EnumBase = object
    _enum = enum._simple_enum(Enum)
else:  # pragma: no cover - Python 3.10
    _EnumBase = Enum

    def _enum(cls: Any) -> Any:
        return cls


@_enum
class Mode(_EnumBase):
    """What the call is doing with the bytes it is fed."""

    NEW = "new"
    AWAIT_HEAD = "await_head"
    SSE = "sse"
    NDJSON = "ndjson"
    EVENTSTREAM = "eventstream"
    JSON_BODY = "json_body"
    ERROR_BODY = "error_body"
    DRAIN = "drain"
    CLOSED = "closed"

    # Identity hashing: Enum's own __hash__ is Python code, and a mode is looked up in
    # the table on every read. Members are singletons, so identity is equality.
    __hash__ = object.__hash__


@_enum
class Input(_EnumBase):
    """What happens to a call."""

    # the caller, one per door method
    START = "start()"
    HTTP_REQUEST = "http_request()"
    DATA = "receive_data()"
    HEAD = "receive_head()"
    BODY = "receive_body()"
    END = "receive_end()"
    # the call itself
    SSE_HEAD = "a 2xx head for an SSE body"
    NDJSON_HEAD = "a 2xx head for an NDJSON body"
    EVENTSTREAM_HEAD = "a 2xx head for an AWS event stream body"
    JSON_HEAD = "a 2xx head for a whole JSON body"
    ERROR_HEAD = "a non-2xx head"
    DONE = "the Done event"
    FAULT = "an Error event"

    __hash__ = object.__hash__


START: Final = Input.START
HTTP_REQUEST: Final = Input.HTTP_REQUEST
DATA: Final = Input.DATA
HEAD: Final = Input.HEAD
BODY: Final = Input.BODY
END: Final = Input.END
DONE: Final = Input.DONE
FAULT: Final = Input.FAULT

#: The inputs a caller makes; the rest the call makes itself.
CALLER_INPUTS: Final = (START, HTTP_REQUEST, DATA, HEAD, BODY, END)

#: The modes that read an event stream through a dialect's stream decoder.
STREAMING: Final = frozenset({Mode.SSE, Mode.NDJSON, Mode.EVENTSTREAM})

_BODY_MODES: Final = (*STREAMING, Mode.JSON_BODY, Mode.ERROR_BODY)

_HEADS: Final = {
    Input.SSE_HEAD: Mode.SSE,
    Input.NDJSON_HEAD: Mode.NDJSON,
    Input.EVENTSTREAM_HEAD: Mode.EVENTSTREAM,
    Input.JSON_HEAD: Mode.JSON_BODY,
    Input.ERROR_HEAD: Mode.ERROR_BODY,
}

TRANSITIONS: Final[dict[Mode, dict[Input, Mode]]] = {
    Mode.NEW: {START: Mode.AWAIT_HEAD, HTTP_REQUEST: Mode.AWAIT_HEAD},
    Mode.AWAIT_HEAD: {
        DATA: Mode.AWAIT_HEAD,
        HEAD: Mode.AWAIT_HEAD,  # the head's own input (below) follows, or a 1xx
        **_HEADS,
        FAULT: Mode.CLOSED,  # no usable head: the connection failed, a head too large
    },
    **{
        mode: {
            DATA: mode,
            BODY: mode,
            END: Mode.CLOSED,
            FAULT: Mode.CLOSED,
            **({} if mode is Mode.ERROR_BODY else {DONE: Mode.DRAIN}),
        }
        for mode in _BODY_MODES
    },
    Mode.DRAIN: {DATA: Mode.DRAIN, BODY: Mode.DRAIN, END: Mode.CLOSED},
    Mode.CLOSED: {},
}

#: The head input for each body media type (the call's own choice for others).
MEDIA_HEADS: Final = {
    "text/event-stream": Input.SSE_HEAD,
    "application/x-ndjson": Input.NDJSON_HEAD,
    "application/ndjson": Input.NDJSON_HEAD,
    "application/jsonl": Input.NDJSON_HEAD,
    "application/vnd.amazon.eventstream": Input.EVENTSTREAM_HEAD,
    "application/json": Input.JSON_HEAD,
}

#: The head input for an unlabelled stream, by the dialect's ``framing``.
FRAMING_HEADS: Final = {
    "sse": Input.SSE_HEAD,
    "ndjson": Input.NDJSON_HEAD,
    "eventstream": Input.EVENTSTREAM_HEAD,
}

_RAW_INPUTS: Final = frozenset({START, DATA})


def misuse(what: Input, mode: Mode, door: str | None) -> str:
    """Why the caller may not do ``what`` now, and what to call instead (``door``:
    ``"raw"``, ``"framed"`` or None before either was used)."""
    name = f"Call.{what.value}"
    if door is not None and (what in _RAW_INPUTS) != (door == "raw"):
        if door == "raw":
            return (
                f"{name} on a call started with Call.start(): this call uses the raw "
                "door; feed it the bytes read with Call.receive_data()"
            )
        return (
            f"{name} on a call started with Call.http_request(): this call uses the "
            "framed door; feed it with Call.receive_head(), Call.receive_body() and "
            "Call.receive_end()"
        )
    if mode is Mode.NEW:
        first = "Call.start()" if what in _RAW_INPUTS else "Call.http_request()"
        return f"{name} before {first}"
    if what is START or what is HTTP_REQUEST:
        return f"{name} was already called"
    if mode is Mode.CLOSED:
        return f"{name} after the response ended"
    if what is HEAD:
        return (
            f"{name} was already called: feed the body with Call.receive_body(), then "
            "call Call.receive_end()"
        )
    return f"{name} before Call.receive_head()"
