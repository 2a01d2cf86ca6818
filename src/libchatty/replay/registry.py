"""The renderers by dialect name, each module imported on first use."""

from __future__ import annotations

import importlib
from typing import Final

from .base import Renderer

__all__ = ["RENDERER_NAMES", "get_renderer", "renderers"]

#: Every dialect name a renderer exists for (the same names as ``DIALECT_NAMES``); the
#: module of each is its name with ``_`` for ``-``.
RENDERER_NAMES: Final = (
    "openai-chat",
    "openai-responses",
    "anthropic",
    "gemini",
    "ollama",
    "cohere",
    "bedrock",
)

_loaded: dict[str, Renderer] = {}


def get_renderer(name: str) -> Renderer:
    """The renderer of dialect ``name``; ``ValueError`` naming the known ones otherwise."""
    if name in _loaded:
        return _loaded[name]
    if name not in RENDERER_NAMES:
        raise ValueError(f"unknown dialect {name!r}; known: {', '.join(RENDERER_NAMES)}")
    module = importlib.import_module(f"{__package__}.{name.replace('-', '_')}")
    renderer: Renderer = module.RENDERER
    _loaded[name] = renderer
    return renderer


def renderers() -> tuple[Renderer, ...]:
    """Every renderer, in ``RENDERER_NAMES`` order (the order requests are matched in)."""
    return tuple(get_renderer(name) for name in RENDERER_NAMES)
