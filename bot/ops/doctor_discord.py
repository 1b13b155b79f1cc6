"""``charbot doctor``'s Discord check: the token, the application (for the invite link) and
the bot's permissions in the channels servers configured (the showcase channel).

Everything goes through Discord's REST API with the bot token, at DISCORD_API_BASE_URL; the
bot's permissions in a channel are computed as Discord does: the @everyone role, the bot's
roles, then the channel's overwrites (@everyone, roles, member).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.config import ConfigError, Settings
from bot.ops.doctor_checks import Check
from bot.ops.invite import POSTING, permission_names
from bot.services.guild_settings import ConfiguredChannel

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
ALL_PERMISSIONS = (1 << 53) - 1
MEMBER_OVERWRITE = 1

CHANNEL_FIX = (
    "In each channel named, give the bot's role the missing permissions (Edit Channel -> "
    "Permissions), or pick another channel with /mod setup showcase_channel: in that server."
)


@dataclass(frozen=True)
class DiscordReport:
    """The check, and the application id the invite link needs (None when unknown)."""

    check: Check
    application_id: str | None


class _Rest:
    """GET requests with the bot token; a 429 is waited out (briefly) and retried."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self._http = http
        self._base = base.rstrip("/")
        self._headers = {"Authorization": f"Bot {token}"}

    async def get(self, path: str) -> tuple[int, Any]:
        for _ in range(3):
            async with self._http.get(self._base + path, headers=self._headers) as resp:
                raw = await resp.read()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:  # a proxy's HTML error page, say
                    body = None
                if resp.status != 429:
                    return resp.status, body
                wait = float((body or {}).get("retry_after", 1)) if isinstance(body, dict) else 1
            await asyncio.sleep(min(max(wait, 0.05), 10.0))
        return 429, None


def application_id_from_token(token: str) -> str | None:
    """The bot's user id (its application's id) from the token's first part, when readable."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if decoded.isdigit() else None


def channel_permissions(
    guild: dict[str, Any], member: dict[str, Any], channel: dict[str, Any], user_id: str
) -> int:
    """The member's permissions in the channel, computed as Discord does."""
    if str(guild.get("owner_id")) == user_id:
        return ALL_PERMISSIONS
    guild_id = str(guild["id"])
    roles = {str(r["id"]): int(r.get("permissions") or 0) for r in guild.get("roles") or []}
    member_roles = {str(r) for r in member.get("roles") or []}
    permissions = roles.get(guild_id, 0)
    for role_id in member_roles:
        permissions |= roles.get(role_id, 0)
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS
    overwrites = {str(o["id"]): o for o in channel.get("permission_overwrites") or []}

    def apply(current: int, allow: int, deny: int) -> int:
        return (current & ~deny) | allow

    everyone = overwrites.get(guild_id)
    if everyone is not None:
        permissions = apply(permissions, int(everyone["allow"]), int(everyone["deny"]))
    allow = deny = 0
    for role_id in member_roles:
        overwrite = overwrites.get(role_id)
        if overwrite is not None and int(overwrite.get("type", 0)) != MEMBER_OVERWRITE:
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
    permissions = apply(permissions, allow, deny)
    own = overwrites.get(user_id)
    if own is not None and int(own.get("type", MEMBER_OVERWRITE)) == MEMBER_OVERWRITE:
        permissions = apply(permissions, int(own["allow"]), int(own["deny"]))
    if not permissions & VIEW_CHANNEL:
        return 0  # a channel the member cannot see grants nothing
    return permissions


class _Gone:
    """The bot is no longer in the configured server: nothing to fix there."""


GONE = _Gone()


async def _channel_problem(
    rest: _Rest, bot_id: str, where: ConfiguredChannel
) -> str | _Gone | None:
    status, member = await rest.get(f"/guilds/{where.guild_id}/members/{bot_id}")
    if status in (403, 404):
        return GONE
    status, guild = await rest.get(f"/guilds/{where.guild_id}")
    if status in (403, 404):
        return GONE
    if status != 200 or not isinstance(member, dict) or not isinstance(guild, dict):
        return f"server {where.guild_id}: Discord answered HTTP {status}"
    server = f"server {guild.get('name', '?')!r} ({where.guild_id})"
    status, channel = await rest.get(f"/channels/{where.channel_id}")
    label = f"{where.purpose} channel {where.channel_id} in {server}"
    if status == 404:
        return f"{label} no longer exists"
    if status == 403:
        return f"{label}: the bot cannot see it (missing View Channel)"
    if status != 200 or not isinstance(channel, dict):
        return f"{label}: Discord answered HTTP {status}"
    label = f"{where.purpose} channel #{channel.get('name', where.channel_id)} in {server}"
    missing = POSTING.value & ~channel_permissions(guild, member, channel, bot_id)
    if missing:
        return f"{label}: the bot lacks {', '.join(permission_names(missing))}"
    return None


async def check_discord(
    settings: Settings, channels: Sequence[ConfiguredChannel] | None, *, limited: bool = False
) -> DiscordReport:
    """The token is accepted; the bot can post in every configured channel (``channels``:
    None when the database could not be read; ``limited`` when more are configured)."""
    try:
        token = settings.require_token()
    except ConfigError as exc:
        return DiscordReport(Check("discord", False, "DISCORD_TOKEN is not set", str(exc)), None)
    base = settings.discord_api_base_url
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            rest = _Rest(http, base, token)
            status, me = await rest.get("/users/@me")
            if status == 401:
                check = Check(
                    "discord",
                    False,
                    "Discord rejected the token (401)",
                    "Reset the bot token in the developer portal and update DISCORD_TOKEN.",
                )
                return DiscordReport(check, None)
            if status >= 400 or not isinstance(me, dict):
                return DiscordReport(
                    Check("discord", False, f"Discord answered HTTP {status}", ""), None
                )
            bot_id = str(me.get("id", ""))
            status, app = await rest.get("/oauth2/applications/@me")
            app_id = str(app["id"]) if status == 200 and isinstance(app, dict) else bot_id
            found = [await _channel_problem(rest, bot_id, c) for c in channels or ()]
    except (aiohttp.ClientError, TimeoutError) as exc:
        check = Check(
            "discord",
            False,
            f"cannot reach {base}: {type(exc).__name__}",
            "Check DISCORD_API_BASE_URL and the network (or the REST proxy).",
        )
        return DiscordReport(check, application_id_from_token(token))
    return DiscordReport(_report(str(me.get("username", "?")), found, channels, limited), app_id)


def _report(
    username: str,
    found: list[str | _Gone | None],
    channels: Sequence[ConfiguredChannel] | None,
    limited: bool,
) -> Check:
    problems = tuple(p for p in found if isinstance(p, str))
    gone = sum(1 for p in found if isinstance(p, _Gone))
    fine = sum(1 for p in found if p is None)
    notes = []
    if channels is None:
        notes.append("channel permissions not checked: the database could not be read")
    if gone:
        notes.append(f"{gone} configured server(s) no longer have the bot; their settings stay")
    if limited:
        notes.append(f"only the {len(found)} most recently configured channels were checked")
    detail = f"logged in as {username}"
    if fine:
        detail += f"; can post in {fine} configured channel(s)"
    if problems:
        return Check(
            "discord",
            False,
            f"{detail}; {len(problems)} configured channel(s) cannot be posted in",
            CHANNEL_FIX,
            note="; ".join(notes),
            more=problems,
        )
    return Check("discord", True, detail, note="; ".join(notes))
