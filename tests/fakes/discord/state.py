"""Data held by the fake Discord: ids, a controllable clock, guilds, members, payload builders.

Everything is kept as dicts shaped like the JSON Discord returns, so REST handlers can return
them as they are and tests can assert on the same shapes the bot sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
ADD_REACTIONS = 1 << 6
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ADMINISTRATOR = 1 << 3
VIEW_AUDIT_LOG = 1 << 7

# Audit log action types (https://discord.com/developers/docs/resources/audit-log).
AUDIT_BOT_ADD = 28

DEFAULT_MEMBER_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = (
    DEFAULT_MEMBER_PERMISSIONS | MANAGE_MESSAGES | MANAGE_THREADS | CREATE_PRIVATE_THREADS
)
ALL_PERMISSIONS = (1 << 51) - 1

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
SETTABLE_MESSAGE_FLAGS = (
    FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2
)

# Gateway intents used to decide which events a connection receives.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12


class FakeClock:
    """Monotonic time plus an offset that tests can push forward (`advance`)."""

    def __init__(self) -> None:
        self._offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def utcnow(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def iso(self) -> str:
        return self.utcnow().isoformat()


class Snowflakes:
    """Increasing snowflakes; the timestamp part moves 1 ms per id so shards spread evenly."""

    def __init__(self) -> None:
        self._ms = int(time.time() * 1000) - DISCORD_EPOCH_MS

    def next(self, *, shard: tuple[int, int] | None = None) -> str:
        """Next id; with ``shard=(shard_id, shard_count)`` one that lands on that shard."""
        self._ms += 1
        if shard is not None:
            shard_id, shard_count = shard
            while self._ms % shard_count != shard_id:
                self._ms += 1
        return str(self._ms << 22)


def shard_of(guild_id: str | int | None, shard_count: int) -> int:
    """Discord's shard formula; DMs (no guild) go to shard 0."""
    if guild_id is None:
        return 0
    return (int(guild_id) >> 22) % shard_count


def user_payload(user_id: str, username: str, *, bot: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user_id,
        "username": username,
        "global_name": None if bot else username,
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


@dataclass
class FakeMember:
    """A guild member. ``permissions`` is what interactions report as the member's permissions."""

    guild_id: str
    user: dict[str, Any]
    roles: list[str] = field(default_factory=list)
    permissions: int = DEFAULT_MEMBER_PERMISSIONS
    locale: str = "en-US"
    nick: str | None = None
    joined_at: str = ""

    @property
    def id(self) -> str:
        return str(self.user["id"])

    def payload(self, *, with_user: bool = True, with_permissions: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": list(self.roles),
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = dict(self.user)
        if with_permissions:
            data["permissions"] = str(self.permissions)
        return data


@dataclass
class FakeGuild:
    id: str
    name: str
    owner_id: str
    locale: str = "en-US"
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    channel_ids: list[str] = field(default_factory=list)
    members: dict[str, FakeMember] = field(default_factory=dict)
    system_channel_id: str | None = None
    audit_log: list[dict[str, Any]] = field(default_factory=list)
    """Audit log entries in Discord's REST shape, oldest first."""

    def payload(self) -> dict[str, Any]:
        """The REST shape of a guild (GET /guilds/{id})."""
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": self.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": self.system_channel_id,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }


def role_payload(role_id: str, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel_payload(
    channel_id: str, guild_id: str, name: str, position: int
) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def thread_payload(
    thread_id: str,
    guild_id: str,
    parent_id: str,
    owner_id: str,
    name: str,
    thread_type: int,
    *,
    created: str,
    auto_archive_duration: int = 1440,
) -> dict[str, Any]:
    return {
        "id": thread_id,
        "type": thread_type,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": created,
            "locked": False,
            "invitable": thread_type == 12,
            "create_timestamp": created,
        },
    }


def dm_channel_payload(channel_id: str, recipient: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": 1,
        "last_message_id": None,
        "recipients": [dict(recipient)],
        "flags": 0,
    }


def new_message(
    message_id: str, channel_id: str, author: dict[str, Any], timestamp: str
) -> dict[str, Any]:
    """An empty message in Discord's REST shape; callers fill content, embeds, etc."""
    return {
        "id": message_id,
        "channel_id": channel_id,
        "type": 0,
        "author": dict(author),
        "content": "",
        "timestamp": timestamp,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "flags": 0,
    }
