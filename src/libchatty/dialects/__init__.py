"""The wire formats libchatty speaks, by name.

``get_dialect("anthropic")`` returns the shared instance of that dialect. Modules are
imported on first use, so a program that talks to one provider loads one dialect.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .base import Dialect

__all__ = ["DIALECT_NAMES", "PROMPT_DIALECT_NAMES", "Dialect", "get_dialect"]

_MODULES: Final = {
    "openai-chat": "openai_chat",
    "openai-responses": "openai_responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
    "cohere": "cohere",
    "bedrock": "bedrock",
}

#: Every conversation dialect name ``Endpoint(dialect=...)`` accepts.
DIALECT_NAMES: Final = tuple(_MODULES)

# Dialects that take one prompt, not a conversation (no turns, no tools): chosen by name,
# but not in DIALECT_NAMES, the dialects every user function runs on unchanged.
_PROMPT_MODULES: Final = {"ollama-generate": "ollama_generate"}
#: The prompt dialect names ``Endpoint(dialect=...)`` accepts as well.
PROMPT_DIALECT_NAMES: Final = tuple(_PROMPT_MODULES)

_loaded: dict[str, Dialect] = {}


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name``; ``ValueError`` naming the known ones otherwise."""
    dialect = _loaded.get(name)
    if dialect is None:
        module_name = _MODULES.get(name) or _PROMPT_MODULES.get(name)
        if module_name is None:
            known = ", ".join(DIALECT_NAMES + PROMPT_DIALECT_NAMES)
            raise ValueError(f"unknown dialect {name!r}; known: {known}")
        module = importlib.import_module(f"{__name__}.{module_name}")
        dialect = _loaded[name] = module.DIALECT
    return dialect


def __getattr__(name: str) -> Any:
    # Dialect is loaded with the first dialect: the names above are all that choosing a
    # provider (libchatty.providers) needs.
    if name == "Dialect":
        from .base import Dialect

        return Dialect
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
