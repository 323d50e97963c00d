"""The domain's refusals. Every message is the Chinese sentence the user reads."""

from __future__ import annotations


class RuleViolation(ValueError):
    """A request the rules refuse; ``str(e)`` is the Chinese message for the user."""


class NotFound(LookupError):
    """The thing asked for does not exist, or is not the asker's (the view answers 404)."""
