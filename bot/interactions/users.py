"""The process's cache of members' user ids (a Discord id maps to one user row until the member
deletes their account: the process that erases it forgets the id; another process learns the
new row at the member's next command, as every command reads it)."""

from __future__ import annotations

USER_ID_CACHE_SIZE = 100_000


class UserIds:
    """Bounded: cleared when full, so a long-running process never grows without end."""

    def __init__(self, size: int = USER_ID_CACHE_SIZE) -> None:
        self._size = size
        self._ids: dict[int, str] = {}

    def get(self, discord_id: int) -> str | None:
        """The user id of a member seen before by this process."""
        return self._ids.get(discord_id)

    def remember(self, discord_id: int, user_id: str) -> None:
        """Cache a member's user id."""
        if len(self._ids) >= self._size:
            self._ids.clear()
        self._ids[discord_id] = user_id

    def forget(self, discord_id: int) -> None:
        """Drop a member's id (their account was deleted)."""
        self._ids.pop(discord_id, None)
