"""Turns in a conversation: one edit at a time per conversation and member, the others waiting
in arrival order (told their position), so edits that build on each other do not race."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.services.generation.slots import GenerationSlots, PositionCallback


class ConversationTurns:
    """A first-come line per (conversation, member); a line is dropped once empty."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], GenerationSlots] = {}

    def waiting(self, conversation_id: str, user_id: str) -> int:
        """Edits of the member waiting in the conversation (the running one not counted)."""
        line = self._lines.get((conversation_id, user_id))
        return line.waiting if line is not None else 0

    @contextlib.asynccontextmanager
    async def turn(
        self, conversation_id: str, user_id: str, on_position: PositionCallback | None = None
    ) -> AsyncIterator[None]:
        """Hold the member's turn in the conversation for the block."""
        key = (conversation_id, user_id)
        line = self._lines.setdefault(key, GenerationSlots(1))
        try:
            async with line.acquire(on_position):
                yield
        finally:
            if line.idle and self._lines.get(key) is line:
                del self._lines[key]
