"""Who moderates the whole platform: the ids in PLATFORM_MODERATOR_IDS, and the application's
owner or team members, read from the application info when the bot starts."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord

log = logging.getLogger(__name__)


class PlatformModerators:
    """The Discord ids of platform moderators. Server moderators act in their own server only;
    these may also act everywhere (``scope:platform``)."""

    def __init__(self, configured: Iterable[int] = ()) -> None:
        self._configured = frozenset(configured)
        self._application: frozenset[int] = frozenset()

    def learn(self, info: discord.AppInfo) -> None:
        """Take the application's owner and team members from its application info."""
        ids = {info.owner.id}
        if info.team is not None:
            ids.update(member.id for member in info.team.members)
            if info.team.owner_id is not None:
                ids.add(info.team.owner_id)
        self._application = frozenset(ids)
        log.info("platform moderators: %d", len(self._application | self._configured))

    def __contains__(self, discord_id: object) -> bool:
        return discord_id in self._configured or discord_id in self._application
