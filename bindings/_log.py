"""The ``libchatty`` logger, without importing :mod:`logging` for programs that never do.

The bindings write DEBUG records about requests, retries, fallbacks, timeouts and pooled
connections (nothing per read or per delta). A library must not configure logging, and
an application that never imported :mod:`logging` cannot have configured it: no handler,
no level, so a DEBUG record would be dropped (the last-resort handler shows WARNING and
above only). So :func:`debug` looks for ``logging`` in ``sys.modules`` and, when it is not
there, does nothing -- which is exactly what logging would have done, minus the several
milliseconds its import costs every ``import libchatty.bindings.blocking`` and every CLI
run. Once the application imports logging (before or after libchatty), records flow as
usual, to the ``libchatty`` logger.

What a record may say is decided here too: :func:`request_line` is how a request is
shown, without the secrets some providers put in its query.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["LOGGER_NAME", "debug", "debug_enabled", "request_line"]

LOGGER_NAME = "libchatty"
_DEBUG = 10  # logging.DEBUG, without the import

_logger: logging.Logger | None = None


def _get() -> logging.Logger | None:
    """The ``libchatty`` logger if the program has imported logging, else None."""
    global _logger
    if _logger is None:
        logging = sys.modules.get("logging")
        if logging is None:
            return None
        _logger = logging.getLogger(LOGGER_NAME)
    return _logger


def debug_enabled() -> bool:
    """Whether a DEBUG record would be handled: worth building an expensive message."""
    logger = _get()
    return logger is not None and logger.isEnabledFor(_DEBUG)


def debug(message: str, *args: Any) -> None:
    """``logging.getLogger("libchatty").debug(message, *args)`` when logging is loaded."""
    logger = _get()
    if logger is not None and logger.isEnabledFor(_DEBUG):
        logger.debug(message, *args, stacklevel=2)  # the record names the caller's line


def request_line(request: bytes) -> str:
    """``METHOD /path?name=…`` from a request's bytes: query values (Gemini's ``key=``)
    never reach a log."""
    line = request[: request.find(b"\r\n")].decode("latin-1")
    method, _, rest = line.partition(" ")
    target = rest.rpartition(" ")[0] or rest
    path, sep, query = target.partition("?")
    if sep:
        names = (part.partition("=")[0] for part in query.split("&"))
        path += "?" + "&".join(f"{name}=…" for name in names)
    return f"{method} {path}"
