"""FakeDiscord: an aiohttp server that real discord.py connects to, plus the test-side API.

Point discord.py at it with ``discord.http.Route.BASE = fake.api_base`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from .everywhere import ChannelWebhooks
from .gateway import Gateway, GatewaySession
from .interactions import FakeInteraction
from .messages import DiscordHTTPError, MessageWriter, invalid_form
from .rest import (
    API_PREFIX,
    ARRIVED_KEY,
    BODY_KEY,
    FILES_KEY,
    NO_AUTH_PREFIXES,
    RecordedRequest,
    Rest,
    json_response,
    read_body,
    thread_for,
)
from .sending import ATTACHMENT_SIZE_LIMIT, InteractionSender
from .state import (
    ALL_PERMISSIONS,
    AUDIT_BOT_ADD,
    BOT_PERMISSIONS,
    DEFAULT_MEMBER_PERMISSIONS,
    FLAG_EPHEMERAL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    SEND_MESSAGES,
    FakeClock,
    FakeGuild,
    FakeMember,
    Snowflakes,
    new_message,
    role_payload,
    shard_of,
    text_channel_payload,
    user_payload,
)
from .validation import Checks, default_spec
from .webhooks import Webhooks

_log = logging.getLogger(__name__)
_AUTO: Any = object()


class FakeDiscord(InteractionSender):
    """A local Discord: REST under /api/v10, a gateway at /gateway, attachments at /attachments."""

    def __init__(
        self,
        openapi_spec: Path | None = _AUTO,
        *,
        shard_count: int = 1,
        token: str | None = None,
        reject_invalid: bool = True,
        heartbeat_interval_ms: int = 41250,
        require_silent_mentions: bool = False,
    ) -> None:
        self.shard_count = shard_count
        # When set, every message with content must carry allowed_mentions that ping nobody.
        self.require_silent_mentions = require_silent_mentions
        self.reject_invalid = reject_invalid
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.clock = FakeClock()
        self.ids = Snowflakes()
        spec = default_spec() if openapi_spec is _AUTO else openapi_spec
        self.checks = Checks(spec)
        self.application_id = self.ids.next()
        self.token = token or f"{self.application_id}.fake.{secrets.token_urlsafe(24)}"
        self.bot_user = user_payload(self.application_id, "charbot", bot=True)
        self.owner_user = user_payload(self.ids.next(), "app-owner")
        self.users: dict[str, dict[str, Any]] = {
            u["id"]: u for u in (self.bot_user, self.owner_user)
        }
        self.bot_permissions = BOT_PERMISSIONS
        # the upload limit interactions announce and uploads are held to (tests may lower it)
        self.attachment_size_limit = ATTACHMENT_SIZE_LIMIT
        self.guilds: dict[str, FakeGuild] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.messages: dict[str, dict[str, Any]] = {}
        self._channel_message_ids: dict[str, list[str]] = {}
        self.blobs: dict[str, tuple[bytes, str, dict[str, Any]]] = {}
        self.global_commands: dict[str, dict[str, Any]] = {}
        self.guild_commands: dict[str, dict[str, dict[str, Any]]] = {}
        self.command_puts: Counter[str] = Counter()
        # channel webhooks (everywhere.py): by id, and every execution
        self.channel_webhooks: dict[str, dict[str, Any]] = {}
        self.webhook_executions: list[dict[str, Any]] = []
        self.interactions: dict[str, FakeInteraction] = {}
        self.interactions_by_token: dict[str, FakeInteraction] = {}
        self.violations: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.identifies: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self._rate_limits: list[dict[str, Any]] = []
        self.writer = MessageWriter(self)
        self.gateway = Gateway(self)
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        routes = Rest(self).routes() + Webhooks(self).routes() + ChannelWebhooks(self).routes()
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self.gateway.close_all()
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- HTTP plumbing ---------------------------------------------------------------------
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # when the request reached the fake, before its own checks (an acknowledgement counts
        # from here, as Discord counts the receipt)
        request[ARRIVED_KEY] = self.clock.monotonic()
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        resource = request.match_info.route.resource
        template = resource.canonical[len(API_PREFIX) :] if resource else path
        record = RecordedRequest(request.method, path, None, dict(request.query), template)
        self.requests.append(record)
        try:
            record.body, record.files = await read_body(request)
            record.received_at = self.clock.monotonic()
            request[BODY_KEY], request[FILES_KEY] = record.body, record.files
            if not path.startswith(NO_AUTH_PREFIXES) and (
                request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                self.violations.append(f"{request.method} {path}: missing or wrong bot token")
                raise DiscordHTTPError(401, 0, "401: Unauthorized")
            limited = self._take_rate_limit(request.method, path, template)
            if limited is not None:
                record.status = 429
                return limited
            self.violations.extend(
                self.checks.openapi(request.method, path, record.body, record.query)
            )
            response = await handler(request)
        except DiscordHTTPError as error:
            response = json_response(error.body(), status=error.status)
        record.status = response.status
        await self.notify()
        return response

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unknown_routes.append((request.method, request.path))
        self.violations.append(f"unknown route {request.method} {request.path}")
        return json_response({"code": 0, "message": "404: Not Found"}, status=404)

    async def _cdn(self, request: web.Request) -> web.Response:
        blob = self.blobs.get(request.match_info["attachment_id"])
        if blob is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=blob[0], headers={"Content-Type": blob[1]})

    def _take_rate_limit(self, method: str, path: str, template: str) -> web.Response | None:
        for rule in self._rate_limits:
            if rule["method"] in (method, "*") and rule["path"] in (path, template):
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self._rate_limits.remove(rule)
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": rule["retry_after"],
                    "global": rule["is_global"],
                    "code": 0,
                }
                headers = {
                    "Via": "1.1 google",
                    "Retry-After": str(max(1, round(rule["retry_after"]))),
                    "X-RateLimit-Scope": "global" if rule["is_global"] else "user",
                }
                if rule["is_global"]:
                    headers["X-RateLimit-Global"] = "true"
                return json_response(body, status=429, headers=headers)
        return None

    def record(self, problems: Iterable[str], where: str) -> None:
        self.violations.extend(f"{where}: {p}" for p in problems)

    def check_message(self, payload: dict[str, Any], where: str) -> None:
        """Message limits; problems are recorded and (when reject_invalid) answered with 50035."""
        problems = self.checks.message(payload)
        if self.require_silent_mentions:
            problems += self.checks.silent_mentions(payload)
        self.record(problems, where)
        if problems and self.reject_invalid:
            raise invalid_form(problems)

    # -- events ----------------------------------------------------------------------------
    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def dispatch(self, guild_id: str | None, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to the session serving the guild's shard, if it wants it."""
        session = self.gateway.session_for(guild_id)
        if session is None:
            return
        needed = {
            "MESSAGE": INTENT_GUILD_MESSAGES if guild_id else INTENT_DIRECT_MESSAGES,
            "THREAD": INTENT_GUILDS,
            "CHANNEL": INTENT_GUILDS,
            "GUILD": INTENT_GUILDS,
        }.get(event.split("_", maxsplit=1)[0], 0)
        if needed and not session.intents & needed:
            return
        await session.dispatch(event, data)

    async def emit_message(self, event: str, message: dict[str, Any]) -> None:
        channel = self.channels.get(message["channel_id"], {})
        guild_id = channel.get("guild_id")
        data = dict(message)
        if guild_id:
            data["guild_id"] = guild_id
            member = self.guilds[guild_id].members.get(message["author"]["id"])
            if member is not None:
                data["member"] = member.payload(with_user=False)
        await self.dispatch(guild_id, event, data)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- stored data -----------------------------------------------------------------------
    def new_message(self, channel_id: str, author: dict[str, Any]) -> dict[str, Any]:
        return new_message(self.ids.next(), channel_id, author, self.clock.iso())

    def add_message(self, message: dict[str, Any]) -> None:
        self.messages[message["id"]] = message
        if message["flags"] & FLAG_EPHEMERAL:
            return
        channel_id = message["channel_id"]
        self._channel_message_ids.setdefault(channel_id, []).append(message["id"])
        channel = self.channels.get(channel_id)
        if channel is not None:
            channel["last_message_id"] = message["id"]
            if "message_count" in channel:
                channel["message_count"] += 1
                channel["total_message_sent"] += 1

    async def delete_message(self, message: dict[str, Any]) -> None:
        self.messages.pop(message["id"], None)
        ids = self._channel_message_ids.get(message["channel_id"], [])
        if message["id"] in ids:
            ids.remove(message["id"])
            guild_id = self.channels.get(message["channel_id"], {}).get("guild_id")
            data = {"id": message["id"], "channel_id": message["channel_id"]}
            if guild_id:
                data["guild_id"] = guild_id
            await self.dispatch(guild_id, "MESSAGE_DELETE", data)

    def new_thread(
        self,
        parent: dict[str, Any],
        name: str,
        *,
        thread_id: str | None,
        thread_type: int,
        auto_archive_duration: int,
    ) -> dict[str, Any]:
        thread = thread_for(
            self, parent, name, thread_id or self.ids.next(), thread_type, auto_archive_duration
        )
        self.channels[thread["id"]] = thread
        self.guilds[parent["guild_id"]].channel_ids.append(thread["id"])
        return thread

    def attachment(self, attachment_id: str) -> dict[str, Any] | None:
        blob = self.blobs.get(attachment_id)
        return blob[2] if blob else None

    # -- test-side setup -------------------------------------------------------------------
    def add_user(self, username: str) -> dict[str, Any]:
        user = user_payload(self.ids.next(), username)
        self.users[user["id"]] = user
        return user

    def add_guild(
        self,
        name: str = "Test Guild",
        owner_id: str | None = None,
        *,
        shard_id: int | None = None,
        locale: str = "en-US",
        system_channel: str | None = None,
        read_only_system_channel: bool = False,
        bot_permissions: int = BOT_PERMISSIONS,
        invited_by: str | None = None,
    ) -> FakeGuild:
        """A guild the bot is in (its id lands on ``shard_id`` when given).

        ``system_channel`` names a text channel made with the guild and set as the channel
        Discord posts system messages in (``read_only_system_channel``: its overwrite denies
        @everyone Send Messages, the bot included); ``bot_permissions`` is what the invite
        granted the bot's role; ``invited_by`` (default: the owner) is who the audit log says
        added the bot. Added while the bot is connected, the guild arrives as a join: a GUILD_CREATE
        without ``unavailable``, as Discord sends when the bot is added to a server.
        """
        shard = None if shard_id is None else (shard_id, self.shard_count)
        guild_id = self.ids.next(shard=shard)
        if owner_id is None:
            owner_id = self.add_user(f"{name.lower().replace(' ', '-')}-owner")["id"]
        guild = FakeGuild(guild_id, name, owner_id, locale=locale)
        guild.roles[guild_id] = role_payload(guild_id, "@everyone", DEFAULT_MEMBER_PERMISSIONS, 0)
        self.guilds[guild_id] = guild
        bot_role = self.add_role(guild_id, "charbot", bot_permissions)
        bot_role["managed"] = True
        bot_role["tags"] = {"bot_id": self.bot_user["id"]}
        self._add_member(guild, self.bot_user, roles=[bot_role["id"]], perms=bot_permissions)
        self._add_member(guild, self.users[owner_id], roles=[], perms=ALL_PERMISSIONS)
        guild.audit_log.append(
            {
                "id": self.ids.next(),
                "action_type": AUDIT_BOT_ADD,
                "user_id": invited_by or owner_id,
                "target_id": self.bot_user["id"],
                "changes": [],
            }
        )
        if system_channel is not None:
            channel = self._new_text_channel(guild, system_channel)
            if read_only_system_channel:
                channel["permission_overwrites"] = [
                    {"id": guild_id, "type": 0, "allow": "0", "deny": str(SEND_MESSAGES)}
                ]
            guild.system_channel_id = channel["id"]
        session = self.gateway.session_for(guild_id)
        if session is not None and session.guilds_sent:
            joined = self.gateway.guild_create(guild_id, session, joined=True)
            self._spawn(session.dispatch("GUILD_CREATE", joined))
        return guild

    def _add_member(
        self,
        guild: FakeGuild,
        user: dict[str, Any],
        *,
        roles: list[str],
        perms: int,
        locale: str = "en-US",
    ) -> FakeMember:
        member = FakeMember(guild.id, user, roles, perms, locale, joined_at=self.clock.iso())
        guild.members[member.id] = member
        return member

    def add_role(self, guild_id: str, name: str, permissions: int = 0) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        role = role_payload(self.ids.next(), name, permissions, len(guild.roles))
        guild.roles[role["id"]] = role
        return role

    def add_member(
        self,
        guild_id: str,
        username: str,
        *,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        roles: Iterable[str | Mapping[str, Any]] = (),
        locale: str = "en-US",
    ) -> FakeMember:
        """A member; interactions report ``permissions`` OR the permissions of ``roles``."""
        guild = self.guilds[guild_id]
        role_ids = [r if isinstance(r, str) else str(r["id"]) for r in roles]
        for rid in role_ids:
            permissions |= int(guild.roles[rid]["permissions"])
        return self._add_member(
            guild, self.add_user(username), roles=role_ids, perms=permissions, locale=locale
        )

    def _new_text_channel(self, guild: FakeGuild, name: str) -> dict[str, Any]:
        channel = text_channel_payload(self.ids.next(), guild.id, name, len(guild.channel_ids))
        self.channels[channel["id"]] = channel
        guild.channel_ids.append(channel["id"])
        return channel

    def add_text_channel(self, guild_id: str, name: str) -> dict[str, Any]:
        channel = self._new_text_channel(self.guilds[guild_id], name)
        session = self.gateway.session_for(guild_id)
        if session is not None and session.guilds_sent:
            self._spawn(self.dispatch(guild_id, "CHANNEL_CREATE", dict(channel)))
        return channel

    def advance_time(self, seconds: float) -> None:
        """Move the fake clock forward (interaction deadlines, token expiry, timestamps)."""
        self.clock.advance(seconds)

    def inject_rate_limit(
        self,
        method: str,
        path: str,
        *,
        retry_after: float = 0.05,
        count: int = 1,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` matching requests with 429. ``path`` is a concrete path
        ("/channels/1/messages") or a route template ("/channels/{channel_id}/messages")."""
        self._rate_limits.append(
            {
                "method": method.upper(),
                "path": path,
                "retry_after": retry_after,
                "count": count,
                "is_global": is_global,
            }
        )

    async def drop_connection(self, shard_id: int, code: int = 4000) -> None:
        """Close a shard's websocket; discord.py reconnects and RESUMEs."""
        await self.gateway.drop(shard_id, code)

    # -- test-side queries -----------------------------------------------------------------
    def take_violations(self) -> list[str]:
        """Return the violations recorded so far and clear the list."""
        found, self.violations[:] = list(self.violations), []
        return found

    def message(self, message_id: str) -> dict[str, Any] | None:
        return self.messages.get(str(message_id))

    def channel_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Non-ephemeral messages of a channel, oldest first."""
        ids = self._channel_message_ids.get(str(channel_id), [])
        return [self.messages[i] for i in ids if i in self.messages]

    @property
    def threads(self) -> dict[str, dict[str, Any]]:
        return {cid: c for cid, c in self.channels.items() if c["type"] in (10, 11, 12)}

    def commands(self, guild_id: str | None = None) -> list[dict[str, Any]]:
        scope = self.global_commands if guild_id is None else self.guild_commands.get(guild_id, {})
        return list(scope.values())

    def command_put_count(self, guild_id: str | None = None) -> int:
        return self.command_puts[guild_id or "global"]

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        channel_id = self.dm_channels.get(str(user_id))
        return self.channel_messages(channel_id) if channel_id else []

    def attachment_bytes(self, url_or_id: str) -> bytes:
        key = str(url_or_id)
        if "/" in key:
            key = key.split("?", maxsplit=1)[0].rstrip("/").split("/")[-2]
        return self.blobs[key][0]

    def sessions(self) -> list[GatewaySession]:
        return list(self.gateway.sessions.values())

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; re-checked after every REST call and gateway change."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(_wait(), timeout)

    async def wait_for_ready(self, shard_count: int | None = None, timeout: float = 10.0) -> None:
        """Wait until ``shard_count`` (default: all) shards identified and got their guilds."""
        wanted = self.shard_count if shard_count is None else shard_count

        def ready() -> bool:
            shards = {s.shard_id for s in self.gateway.live_sessions() if s.guilds_sent}
            return len(shards) >= wanted

        await self.wait_until(ready, timeout)


def shard_for_guild(guild_id: str, shard_count: int) -> int:
    """Which shard a guild belongs to ((id >> 22) % shard_count)."""
    return shard_of(guild_id, shard_count)
