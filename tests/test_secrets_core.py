"""No exception the core raises carries a secret, not even down its __context__ chain, and
a ChatError shows only the (already redacted) Error."""

from __future__ import annotations

import traceback

import pytest
from decoding import feed
from wire import sized_response

from libchatty import Call, ChatError, ChatRequest, Endpoint, Error, LocalProtocolError, Message
from libchatty.redact import MARKER, Redactor

KEY = "sk-test-Secret0123456789abcdef"


def chain(exc: BaseException | None) -> list[BaseException]:
    found: list[BaseException] = []
    while exc is not None and exc not in found:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


def test_a_key_h11_refuses_is_not_reachable_from_the_exception() -> None:
    endpoint = Endpoint("https://api.openai.com/v1", KEY)
    # A key the Endpoint might let through but h11 refuses (trailing space): set past
    # the constructor's checks to reach start()'s own guard.
    object.__setattr__(endpoint, "api_key", KEY + " ")
    call = Call(endpoint, ChatRequest("m", [Message("user", "hi")]))
    with pytest.raises(LocalProtocolError) as info:
        call.start()
    exc = info.value
    assert str(exc) == "the request has an invalid header or target"
    assert exc.__context__ is None and exc.__cause__ is None
    assert chain(exc) == [exc]
    text = "".join(traceback.format_exception(exc))
    assert not Redactor([KEY]).leaks(text)


def test_chat_error_shows_only_the_redacted_error() -> None:
    body = b'{"error": {"message": "Incorrect API key provided: ' + KEY.encode() + b'"}}'
    call = Call(Endpoint("https://api.openai.com/v1", KEY), ChatRequest("m", [Message("user", "")]))
    [error] = feed(call, [sized_response(body, status=401, reason="Unauthorized")])
    assert isinstance(error, Error)
    exc = ChatError(error)
    assert str(exc) == f"auth: Incorrect API key provided: {MARKER}"
    assert repr(exc) == (
        f"ChatError(kind='auth', status=401, message='Incorrect API key provided: {MARKER}')"
    )
    assert not Redactor([KEY]).leaks("".join(traceback.format_exception(exc)))


def test_chat_error_repr_leaves_the_partial_text_out() -> None:
    exc = ChatError(Error("incomplete", "cut", status=200, partial="long answer..."))
    assert repr(exc) == "ChatError(kind='incomplete', status=200, message='cut')"
    assert str(exc) == "incomplete: cut"
    assert exc.partial == "long answer..."
