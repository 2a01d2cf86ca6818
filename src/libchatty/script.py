"""Old home of :class:`~libchatty.replay.script.Script`, kept so existing imports work.

Nothing in the library imports this module (no client dialect loads the replay side);
new code imports ``from libchatty.replay import Script, split_tokens``.
"""

from .replay.script import Script, split_tokens

__all__ = ["Script", "split_tokens"]
