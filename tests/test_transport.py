"""bindings/_transport.py: the one place where a backend's exceptions become IOFailure."""

from __future__ import annotations

import ssl

import pytest
from libchatty.bindings._ops import IOFailure
from libchatty.bindings._transport import ExceptionTable, describe, map_exceptions


class Broken(Exception):
    """Stands for trio.BrokenResourceError: wraps the real error as its cause."""


TABLE: ExceptionTable = {TimeoutError: "timeout", Broken: "connection", OSError: "connection"}


def failure(exc: BaseException) -> IOFailure:
    with pytest.raises(IOFailure) as info, map_exceptions(TABLE, "reading"):
        raise exc
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return info.value


def test_a_timeout_says_what_timed_out() -> None:
    got = failure(TimeoutError("boom"))
    assert (got.kind, got.message, got.retryable) == ("timeout", "reading timed out", True)


def test_the_first_matching_entry_wins() -> None:
    # TimeoutError is an OSError too: the table's order decides.
    got = failure(ConnectionResetError(104, "Connection reset by peer"))
    assert (got.kind, got.message, got.retryable) == (
        "connection", "reading failed: Connection reset by peer", True)


def test_a_wrapped_error_is_described_by_its_cause() -> None:
    wrapper = Broken("socket broke")
    wrapper.__cause__ = ConnectionRefusedError(111, "Connection refused")
    got = failure(wrapper)
    assert (got.kind, got.message) == ("connection", "reading failed: Connection refused")


def test_a_wrapper_without_a_cause_is_described_by_its_text() -> None:
    assert failure(Broken("socket broke")).message == "reading failed: socket broke"
    assert failure(Broken()).message == "reading failed: Broken"


def test_a_failed_certificate_check_is_never_retryable() -> None:
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    got = failure(cert)
    assert (got.kind, got.message, got.retryable) == (
        "connection",
        "reading failed: TLS certificate verification failed: self-signed certificate",
        False,
    )
    wrapper = Broken("handshake")
    wrapper.__cause__ = cert
    assert failure(wrapper).retryable is False


def test_what_the_table_does_not_name_goes_through() -> None:
    class Cancelled(BaseException):
        pass

    with pytest.raises(Cancelled), map_exceptions(TABLE, "reading"):
        raise Cancelled
    with pytest.raises(KeyError), map_exceptions(TABLE, "reading"):
        raise KeyError("a bug of ours")
    with pytest.raises(KeyError), map_exceptions(TABLE, "reading"):  # whatever its cause
        raise KeyError("a bug of ours") from OSError(5, "I/O error")


def test_an_io_failure_goes_through_unchanged() -> None:
    original = IOFailure("connection", "the proxy closed the connection", retryable=False)
    with pytest.raises(IOFailure) as info, map_exceptions(TABLE, "reading"):
        raise original
    assert info.value is original


def test_nothing_raised_is_nothing_mapped() -> None:
    with map_exceptions(TABLE, "reading"):
        value = 1
    assert value == 1


def test_describe() -> None:
    assert describe(OSError(61, "Connection refused")) == "Connection refused"
    assert describe(OSError("no errno")) == "no errno"
    assert describe(ValueError()) == "ValueError"
