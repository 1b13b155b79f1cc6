"""Where a generation's result goes when the process that accepted it cannot post it: the
interaction's token while it is valid, else the channel (or thread) it was asked in."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

TOKEN_LIFETIME = timedelta(minutes=15)
"""How long Discord accepts an interaction's token for followups and edits."""
TOKEN_MARGIN = timedelta(seconds=45)
"""A token this close to its end is not used (the post could arrive after it)."""


@dataclass(frozen=True)
class ReplyTarget:
    """The interaction a generation answers, and the place it was asked in."""

    application_id: int | None = None
    token: str | None = None
    """None for a message in a conversation (the result goes to its channel)."""
    token_expires_at: float = 0.0
    """Epoch seconds."""
    channel_id: int | None = None
    guild_id: int | None = None
    lang: str = "en"
    accepted_by: str = ""
    """The process that accepted it (its worker waits for the flow that posts it there)."""

    def token_alive(self, now: float | None = None) -> bool:
        """Whether the token still takes a followup or an edit."""
        if not self.token or self.application_id is None:
            return False
        now = now if now is not None else time.time()
        return now < self.token_expires_at - TOKEN_MARGIN.total_seconds()

    def to_json(self) -> dict[str, Any]:
        """The form kept in ``generation_jobs.reply``."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplyTarget | None:
        """Read back; None when nothing was kept (a generation asked for outside Discord)."""
        if not data:
            return None
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def reply_target_of(progress: object) -> ReplyTarget | None:
    """The reply target a progress callback carries (the Discord side's reporter), if any."""
    target = getattr(progress, "reply_target", None)
    return target if isinstance(target, ReplyTarget) else None
