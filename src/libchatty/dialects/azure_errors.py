"""Azure OpenAI's error bodies: the content filter, told apart from other bad requests.

Azure answers a prompt its content filter blocks with HTTP 400 and
``{"error": {"message", "type": null, "param": "prompt", "code": "content_filter",
"status": 400, "innererror": {"code": "ResponsibleAIPolicyViolation",
"content_filter_result": {"hate": {"filtered": true, "severity": "high"}, ...,
"jailbreak": {"filtered": true, "detected": true}}}}}`` (Azure OpenAI reference,
"Content filtering": the error for a filtered prompt). :func:`decode_error` -- the
dialects' error-body hook, with :func:`~libchatty.httperrors.error_from_response`'s
signature -- reads it as that function does, then, for ``code: "content_filter"``,
sets ``provider_type`` to ``"content_filter"`` and starts the message with what was
filtered (``"content filtered (ResponsibleAIPolicyViolation: hate high, jailbreak): "``),
so the kind of failure is plain without reading Azure's prose. Not retryable: the same
prompt is filtered again. Any other body is left as the shared reading made it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from ..events import Error
from .error_bodies import refined_errors

if TYPE_CHECKING:
    from ..httperrors import Headers

__all__ = ["CONTENT_FILTER", "decode_error"]

#: ``Error.provider_type`` of a request Azure's content filter refused.
CONTENT_FILTER: Final = "content_filter"
# Categories named in the message at most: the message is for humans.
_MAX_CATEGORIES: Final = 16
_MAX_WORD: Final = 64


def _word(value: Any) -> str | None:
    return value[:_MAX_WORD] if type(value) is str and value else None


def _filtered(result: Any) -> list[str]:
    """``"hate high"``, ``"jailbreak"``... for each category whose ``filtered`` is true."""
    if type(result) is not dict:
        return []
    out: list[str] = []
    for name, verdict in list(result.items())[:_MAX_CATEGORIES]:
        if type(verdict) is dict and verdict.get("filtered") is True:
            severity = _word(verdict.get("severity"))
            out.append(f"{name[:_MAX_WORD]} {severity}" if severity else name[:_MAX_WORD])
    return out


def _refine_error(error: Error, parsed: dict[str, Any], headers: Headers) -> Error:
    """A content-filter refusal named (see the module); any other body as it was read."""
    inner = parsed.get("error")
    if type(inner) is not dict or inner.get("code") != CONTENT_FILTER:
        return error
    details = inner.get("innererror")
    said: list[str] = []
    if type(details) is dict:
        code = _word(details.get("code"))
        categories = _filtered(details.get("content_filter_result"))
        if code:
            said.append(code + (": " if categories else ""))
        said.append(", ".join(categories))
    head = "".join(said)
    message = (
        f"content filtered ({head}): {error.message}"
        if head
        else (f"content filtered: {error.message}")
    )
    return replace(error, message=message, provider_type=CONTENT_FILTER, retryable=False)


#: The ``Error`` for a non-2xx response from an OpenAI-style server (see the module).
decode_error: Final = refined_errors(_refine_error)
