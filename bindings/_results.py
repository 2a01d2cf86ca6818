"""What a finished call returns: the :class:`~libchatty.bindings._api.Completion` built
from the call's last :class:`~libchatty.call.Call` and the event that ended it, with the
response head's metadata (request id, headers, rate-limit state) and, when
``response_format`` was asked, the structured answer.

:class:`~libchatty.bindings._exchange.Exchange` hands its ``completion()`` and
``stopped()`` over to these functions once its loop is over; nothing here runs per read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from libchatty.events import Done, Error, Event
from libchatty.exceptions import ChatError, LocalProtocolError

from ._api import Completion

if TYPE_CHECKING:
    from datetime import datetime

    from libchatty.call import Call
    from libchatty.options import ResponseFormat
    from libchatty.ratelimit import RateLimit

__all__ = ["completion", "rate_limit", "stopped", "streamed"]


def streamed(call: Call | None) -> bool:
    """Whether the answer of ``call`` arrived as a stream (SSE or JSON lines): a
    streaming request the server answered with a plain JSON body was not streamed."""
    if call is None or not call.request.stream:
        return False
    content_type = call.content_type
    return content_type is None or not content_type.lower().startswith(b"application/json")


def completion(
    terminal: Done | Error | None,
    call: Call | None,
    response_format: ResponseFormat | None,
    now: Callable[[], datetime],
) -> Completion:
    """The :class:`Completion` of a call that ended with ``terminal``, a ``Done``; raises
    :class:`~libchatty.exceptions.ChatError` for an ``Error``,
    :class:`~libchatty.exceptions.LocalProtocolError` for a call that has not ended, and
    :class:`~libchatty.structured.StructuredOutputError` (keeping the text) when
    ``response_format`` is given and the answer is not what it describes. ``now`` is read
    only when the response reported rate limits."""
    if isinstance(terminal, Done):
        return _from_done(terminal, call, response_format, now)
    if terminal is None:
        raise LocalProtocolError("the call has not ended")
    raise ChatError(terminal)


def stopped(
    last: Event,
    text: str,
    call: Call | None,
    response_format: ResponseFormat | None,
    now: Callable[[], datetime],
) -> Completion:
    """The result when a callback returned STOP for event ``last``, having seen the
    answer text ``text``: the complete answer if ``last`` was ``Done`` (as
    :func:`completion`), else that text with ``finish_reason="stopped"`` and the response
    head's metadata."""
    if isinstance(last, Done):
        return _from_done(last, call, response_format, now)
    headers = call.response_headers if call is not None else ()
    return Completion(
        text=text,
        finish_reason="stopped",
        streamed=streamed(call),
        request_id=call.request_id if call is not None else None,
        headers=headers,
        rate_limit=rate_limit(headers, now),
    )


def rate_limit(
    headers: tuple[tuple[str, str], ...], now: Callable[[], datetime]
) -> RateLimit | None:
    """The rate-limit state ``headers`` report, read at ``now()`` (the time the response
    ended); None when they report none."""
    # Most servers send none: skip the parser (and its import) and the clock then.
    if not any("ratelimit" in name for name, _ in headers):
        return None
    from libchatty.ratelimit import parse_rate_limit

    return parse_rate_limit(headers, now())


def _from_done(
    done: Done,
    call: Call | None,
    response_format: ResponseFormat | None,
    now: Callable[[], datetime],
) -> Completion:
    headers = call.response_headers if call is not None else ()
    parsed = None
    if response_format is not None:
        from libchatty.structured import parse_structured  # only when asked

        parsed = parse_structured(done.text, response_format)
    return Completion.from_done(
        done,
        streamed(call),
        request_id=call.request_id if call is not None else None,
        headers=headers,
        rate_limit=rate_limit(headers, now),
        parsed=parsed,
    )
