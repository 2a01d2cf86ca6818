"""Error response bodies a provider names its own way, read after the shared reading.

:func:`refined_errors` makes a dialect's ``decode_error`` hook from a refiner: the shared
reading of status, body and ``Retry-After`` (:func:`~libchatty.httperrors.error_from_response`),
then what this provider says its own way (Azure's content filter, Bedrock's
``x-amzn-ErrorType``); the OpenAI dialects' hook is :func:`~.plumbing.openai_error`.
Everything here that reads a body is imported with the first error response: a streamed
answer loads neither ``httperrors`` nor a provider's refiner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..events import Error
from .plumbing import object_or_empty

if TYPE_CHECKING:
    from ..httperrors import Headers

__all__ = ["ErrorRefiner", "refined_errors"]

#: What a dialect adds to the shared reading of an error response: ``(error, body as a
#: JSON object -- ``{}`` when it is not one --, headers) -> error``.
ErrorRefiner = Callable[[Error, dict[str, Any], "Headers"], Error]


def refined_errors(refine: ErrorRefiner) -> Callable[..., Error]:
    """A dialect's ``decode_error`` hook: the shared reading of status, body and
    ``Retry-After`` (:func:`~libchatty.httperrors.error_from_response`), then
    ``refine`` for what this provider says its own way."""

    def decode_error(
        status: int, reason: str, headers: Headers, body: bytes, partial: str = ""
    ) -> Error:
        # Imported here: only an error response needs it (a module less at start-up).
        from ..httperrors import error_from_response

        error = error_from_response(status, reason, headers, body, partial)
        return refine(error, object_or_empty(body), headers)

    return decode_error

