"""``ChatRequest.tool_choice``: the neutral form, and each provider's own objects read into it.

The neutral form is ``"auto"``, ``"none"``, ``"required"`` or the name of the one tool the
model must call; :func:`normalize_tool_choice` also takes the objects OpenAI, Anthropic and
Gemini document, and refuses, naming the field, whatever it would lose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["CHOICE_FIELD", "TOOL_MODES", "normalize_tool_choice", "shown"]

# The neutral modes; any other string names the one tool the model must call.
TOOL_MODES: Final = frozenset({"auto", "none", "required"})
# A tool_choice object's "type" -> its neutral mode: OpenAI chat/Responses and Anthropic
# forms. "function"/"tool" name a tool, read separately.
_CHOICE_TYPES: Final = {"auto": "auto", "none": "none", "any": "required"}
_GEMINI_MODES: Final = {"AUTO": "auto", "NONE": "none", "ANY": "required"}
_SHOWN: Final = 64  # characters of a caller's value quoted in a message, at most

CHOICE_FIELD: Final = "ChatRequest.tool_choice"


def shown(value: object) -> str:
    """``value`` as an error message quotes it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _tool_name(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{CHOICE_FIELD}: the tool name must be a non-empty string")
    return value


def _only_keys(choice: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in choice:
        if key not in allowed:
            raise ValueError(
                f"{CHOICE_FIELD}: key {shown(key)} is not supported "
                "(send provider-specific fields through ChatRequest.extra)"
            )


def _gemini_choice(config: object) -> str:
    """Gemini's ``{"functionCallingConfig": {"mode", "allowedFunctionNames"}}``."""
    if not isinstance(config, Mapping):
        raise ValueError(f"{CHOICE_FIELD}: functionCallingConfig must be an object")
    _only_keys(config, frozenset({"mode", "allowedFunctionNames"}))
    raw_mode = config.get("mode", "AUTO")
    mode = _GEMINI_MODES.get(raw_mode) if isinstance(raw_mode, str) else None
    names = config.get("allowedFunctionNames") or []
    if mode is None:
        raise ValueError(f"{CHOICE_FIELD}: functionCallingConfig.mode must be AUTO, NONE or ANY")
    if not names:
        return mode
    if mode != "required" or not isinstance(names, list) or len(names) != 1:
        raise ValueError(
            f"{CHOICE_FIELD}: allowedFunctionNames is supported only as one name with mode ANY"
        )
    return _tool_name(names[0])


def normalize_tool_choice(choice: object) -> str:
    """``choice`` in the neutral form: ``"auto"``, ``"none"``, ``"required"`` or a tool
    name. Accepts that form and each provider's own objects:

    * OpenAI chat: ``{"type": "function", "function": {"name": "f"}}``;
    * OpenAI Responses: ``{"type": "function", "name": "f"}``;
    * Anthropic: ``{"type": "tool", "name": "f"}``, ``{"type": "any"}`` (= required),
      ``{"type": "auto"}``, ``{"type": "none"}``;
    * Gemini: ``{"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}``
      (one name at most), or mode ``AUTO``/``NONE``.

    Anything else (another key such as Anthropic's ``disable_parallel_tool_use``, OpenAI's
    ``allowed_tools``, a custom tool) is a ``ValueError`` naming the field: it would be
    lost or rendered as an invalid request.
    """
    if isinstance(choice, str):
        return _tool_name(choice)
    if not isinstance(choice, Mapping):
        raise ValueError(
            f"{CHOICE_FIELD} must be 'auto', 'none', 'required', a tool name or a provider's "
            f"tool_choice object, not {type(choice).__name__}"
        )
    if "functionCallingConfig" in choice:
        _only_keys(choice, frozenset({"functionCallingConfig"}))
        return _gemini_choice(choice["functionCallingConfig"])
    kind = choice.get("type")
    if not isinstance(kind, str):
        raise ValueError(f"{CHOICE_FIELD}: a tool_choice object needs a string 'type'")
    if kind in _CHOICE_TYPES:
        _only_keys(choice, frozenset({"type"}))
        return _CHOICE_TYPES[kind]
    if kind == "tool" or (kind == "function" and "function" not in choice):
        _only_keys(choice, frozenset({"type", "name"}))
        return _tool_name(choice.get("name"))
    if kind == "function":
        _only_keys(choice, frozenset({"type", "function"}))
        function = choice["function"]
        if not isinstance(function, Mapping):
            raise ValueError(f"{CHOICE_FIELD}: 'function' must be an object with a 'name'")
        _only_keys(function, frozenset({"name"}))
        return _tool_name(function.get("name"))
    raise ValueError(f"{CHOICE_FIELD}: type {shown(kind)} is not supported")
