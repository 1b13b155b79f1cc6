"""REST routes under /api/v10 (login, gateway, commands, channels, messages, threads, guilds)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .messages import DiscordHTTPError, UploadedFile, invalid_form
from .state import (
    ADMINISTRATOR,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    VIEW_AUDIT_LOG,
    dm_channel_payload,
    thread_payload,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

API_PREFIX = "/api/v10"
THREAD_TYPES = (10, 11, 12)
NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/")


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the /api/v10 prefix
    body: Any
    query: dict[str, str]
    route: str  # the route template, e.g. "/channels/{channel_id}/messages"
    files: list[UploadedFile] = field(default_factory=list)
    status: int | None = None
    received_at: float | None = None  # the fake clock once its body had arrived


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response whose content-type is exactly ``application/json`` (discord.py checks)."""
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def no_content() -> web.Response:
    return web.Response(status=204)


BODY_KEY = web.RequestKey("fake_body", object)
ARRIVED_KEY = web.RequestKey("fake_arrived", float)  # the fake clock when the request came in
FILES_KEY = web.RequestKey("fake_files", list)


def body_dict(request: web.Request) -> dict[str, Any]:
    body = request.get(BODY_KEY)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid_form(["body must be a JSON object"])
    return body


def files_of(request: web.Request) -> list[UploadedFile]:
    return list(request.get(FILES_KEY, []))


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """Parse a JSON or multipart (payload_json + files[n]) body."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        files: list[UploadedFile] = []
        body: Any = None
        for name, value in form.items():
            if name == "payload_json":
                raw = value.file.read() if isinstance(value, web.FileField) else value
                body = json.loads(raw)
            elif isinstance(value, web.FileField):
                data = value.file.read()
                files.append(UploadedFile(name, value.filename, value.content_type or "", data))
        return body, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError as exc:
        raise DiscordHTTPError(400, 50109, "The request body contains invalid JSON.") from exc


class Rest:
    """Route handlers; state lives on the FakeDiscord."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[tuple[str, str, Any]]:
        r = [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id}", self.get_user),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("PATCH", "/channels/{channel_id}", self.edit_channel),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_msg),
            ("POST", "/channels/{channel_id}/threads", self.create_thread),
            ("PUT", "/channels/{channel_id}/thread-members/{user_id}", self.ok_no_content),
            ("DELETE", "/channels/{channel_id}/thread-members/{user_id}", self.ok_no_content),
            ("POST", "/channels/{channel_id}/typing", self.ok_no_content),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("GET", "/guilds/{guild_id}/audit-logs", self.get_audit_log),
        ]
        for base in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            r += [
                ("GET", f"{base}/commands", self.get_commands),
                ("PUT", f"{base}/commands", self.put_commands),
                ("POST", f"{base}/commands", self.post_command),
                ("GET", f"{base}/commands/{{command_id}}", self.get_command),
                ("DELETE", f"{base}/commands/{{command_id}}", self.delete_command),
            ]
        return r

    # -- helpers ---------------------------------------------------------------------------
    def _channel(self, request: web.Request) -> dict[str, Any]:
        channel = self.fake.channels.get(request.match_info["channel_id"])
        if channel is None:
            raise DiscordHTTPError(404, 10003, "Unknown Channel")
        return channel

    def _message(self, request: web.Request) -> dict[str, Any]:
        channel = self._channel(request)
        message = self.fake.messages.get(request.match_info["message_id"])
        if (
            message is None
            or message["channel_id"] != channel["id"]
            or message["flags"] & FLAG_EPHEMERAL
        ):
            raise DiscordHTTPError(404, 10008, "Unknown Message")
        return message

    def _guild(self, request: web.Request) -> Any:
        guild = self.fake.guilds.get(request.match_info["guild_id"])
        if guild is None:
            raise DiscordHTTPError(404, 10004, "Unknown Guild")
        return guild

    def _check_thread_name(self, name: Any) -> str:
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            problem = f"thread name must be 1-100 characters (got {len(str(name or ''))})"
            self.fake.violations.append(problem)
            raise invalid_form([problem])
        return name

    async def ok_no_content(self, request: web.Request) -> web.Response:
        self._channel(request)
        return no_content()

    # -- login and gateway -----------------------------------------------------------------
    async def get_me(self, request: web.Request) -> web.Response:
        return json_response({**self.fake.bot_user, "verified": True, "mfa_enabled": False})

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.fake.users.get(request.match_info["user_id"])
        if user is None:
            raise DiscordHTTPError(404, 10013, "Unknown User")
        return json_response(user)

    async def get_application(self, request: web.Request) -> web.Response:
        fake = self.fake
        return json_response(
            {
                "id": fake.application_id,
                "name": fake.bot_user["username"],
                "icon": None,
                "description": "fake application",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": dict(fake.owner_user),
                "team": None,
                "bot": dict(fake.bot_user),
                "rpc_origins": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "tags": [],
                "approximate_guild_count": len(fake.guilds),
            }
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.fake.gateway_url,
                "shards": self.fake.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": 1,
                },
            }
        )

    # -- application commands ----------------------------------------------------------------
    def _command_scope(self, request: web.Request) -> dict[str, dict[str, Any]]:
        if request.match_info["app_id"] != self.fake.application_id:
            raise DiscordHTTPError(403, 20012, "You are not authorized to perform this action")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return self.fake.global_commands
        self._guild(request)
        return self.fake.guild_commands.setdefault(guild_id, {})

    def _stored_command(
        self, cmd: dict[str, Any], guild_id: str | None, existing: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        fake = self.fake
        problems = fake.checks.command(cmd)
        fake.record(problems, f"command {cmd.get('name')!r}")
        if problems and fake.reject_invalid:
            raise invalid_form(problems)
        cmd_type = int(cmd.get("type", 1))
        old = next(
            (
                c
                for c in existing.values()
                if c["name"] == cmd.get("name") and c["type"] == cmd_type
            ),
            None,
        )
        stored = {
            "id": old["id"] if old else fake.ids.next(),
            "application_id": fake.application_id,
            "version": fake.ids.next(),
            "type": cmd_type,
            "name": cmd.get("name"),
            "description": cmd.get("description", ""),
            "options": cmd.get("options") or [],
            "default_member_permissions": cmd.get("default_member_permissions"),
            "dm_permission": cmd.get("dm_permission", True),
            "nsfw": bool(cmd.get("nsfw", False)),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
            "name_localizations": cmd.get("name_localizations"),
            "description_localizations": cmd.get("description_localizations"),
        }
        if guild_id is not None:
            stored["guild_id"] = guild_id
        return stored

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(list(self._command_scope(request).values()))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request.get(BODY_KEY)
        if not isinstance(body, list):
            raise invalid_form(["bulk overwrite body must be a list of commands"])
        keys = [(c.get("name"), int(c.get("type", 1))) for c in body if isinstance(c, dict)]
        if len(keys) != len(set(keys)):
            self.fake.violations.append("commands: duplicate command names in bulk overwrite")
            raise invalid_form(["duplicate command names"])
        guild_id = request.match_info.get("guild_id")
        stored = [self._stored_command(c, guild_id, scope) for c in body]
        scope.clear()
        scope.update({c["id"]: c for c in stored})
        self.fake.command_puts[guild_id or "global"] += 1
        return json_response(stored)

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        stored = self._stored_command(body_dict(request), request.match_info.get("guild_id"), scope)
        created = stored["id"] not in scope
        scope[stored["id"]] = stored
        return json_response(stored, status=201 if created else 200)

    async def get_command(self, request: web.Request) -> web.Response:
        cmd = self._command_scope(request).get(request.match_info["command_id"])
        if cmd is None:
            raise DiscordHTTPError(404, 10063, "Unknown application command")
        return json_response(cmd)

    async def delete_command(self, request: web.Request) -> web.Response:
        if self._command_scope(request).pop(request.match_info["command_id"], None) is None:
            raise DiscordHTTPError(404, 10063, "Unknown application command")
        return no_content()

    # -- channels and messages ---------------------------------------------------------------
    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel(request))

    async def edit_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        body = body_dict(request)
        if "name" in body:
            channel["name"] = self._check_thread_name(body["name"])
        meta = channel.get("thread_metadata")
        if meta is not None:
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body:
                    meta[key] = body[key]
        event = "THREAD_UPDATE" if channel["type"] in THREAD_TYPES else "CHANNEL_UPDATE"
        await self.fake.dispatch(channel.get("guild_id"), event, dict(channel))
        return json_response(channel)

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        limit = int(request.query.get("limit", "50"))
        messages = list(reversed(self.fake.channel_messages(channel["id"])))
        if "before" in request.query:
            messages = [m for m in messages if int(m["id"]) < int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if int(m["id"]) > int(request.query["after"])]
        return json_response(messages[:limit])

    async def create_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = self._channel(request)
        payload = body_dict(request)
        fake.check_message(payload, f"POST /channels/{channel['id']}/messages")
        message = fake.writer.create(channel["id"], fake.bot_user, payload, files_of(request))
        await fake.emit_message("MESSAGE_CREATE", message)
        return json_response(message)

    async def get_message(self, request: web.Request) -> web.Response:
        return json_response(self._message(request))

    async def edit_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        message = self._message(request)
        if message["author"]["id"] != fake.bot_user["id"]:
            raise DiscordHTTPError(403, 50005, "Cannot edit a message authored by another user")
        payload = body_dict(request)
        fake.check_message(payload, f"PATCH message {message['id']}")
        fake.writer.edit(message, payload, files_of(request))
        await fake.emit_message("MESSAGE_UPDATE", message)
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self._message(request)
        await self.fake.delete_message(message)
        return no_content()

    # -- threads and DMs ---------------------------------------------------------------------
    async def thread_from_msg(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = self._channel(request)
        if channel["type"] not in (0, 5):
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        message = self._message(request)
        if message.get("thread"):
            raise DiscordHTTPError(400, 160004, "A thread has already been created for this msg")
        body = body_dict(request)
        name = self._check_thread_name(body.get("name"))
        thread = fake.new_thread(
            channel,
            name,
            thread_id=message["id"],
            thread_type=11,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        message["thread"] = thread
        message["flags"] |= FLAG_HAS_THREAD
        await fake.dispatch(channel["guild_id"], "THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread, status=201)

    async def create_thread(self, request: web.Request) -> web.Response:
        fake = self.fake
        channel = self._channel(request)
        if channel["type"] not in (0, 5):
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        body = body_dict(request)
        name = self._check_thread_name(body.get("name"))
        thread_type = int(body.get("type") or 12)
        if thread_type not in THREAD_TYPES:
            raise invalid_form([f"invalid thread type {thread_type}"])
        thread = fake.new_thread(
            channel,
            name,
            thread_id=None,
            thread_type=thread_type,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        await fake.dispatch(channel["guild_id"], "THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread, status=201)

    async def create_dm(self, request: web.Request) -> web.Response:
        fake = self.fake
        recipient_id = str(body_dict(request).get("recipient_id"))
        user = fake.users.get(recipient_id)
        if user is None:
            raise DiscordHTTPError(400, 50007, "Cannot send messages to this user")
        channel_id = fake.dm_channels.get(recipient_id)
        if channel_id is None:
            channel_id = fake.ids.next()
            fake.channels[channel_id] = dm_channel_payload(channel_id, user)
            fake.dm_channels[recipient_id] = channel_id
        return json_response(fake.channels[channel_id])

    # -- guilds ------------------------------------------------------------------------------
    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        data = guild.payload()
        if request.query.get("with_counts") in ("true", "1"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return json_response(data)

    async def get_roles(self, request: web.Request) -> web.Response:
        return json_response(list(self._guild(request).roles.values()))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        channels = [self.fake.channels[c] for c in guild.channel_ids]
        return json_response([c for c in channels if c["type"] not in THREAD_TYPES])

    async def get_member(self, request: web.Request) -> web.Response:
        member = self._guild(request).members.get(request.match_info["user_id"])
        if member is None:
            raise DiscordHTTPError(404, 10007, "Unknown Member")
        return json_response(member.payload())

    async def get_audit_log(self, request: web.Request) -> web.Response:
        """The guild's audit log, newest first, filtered as Discord filters it; the bot needs
        View Audit Log (else 403 Missing Permissions)."""
        guild = self._guild(request)
        bot = guild.members[self.fake.bot_user["id"]]
        if not bot.permissions & (VIEW_AUDIT_LOG | ADMINISTRATOR):
            raise DiscordHTTPError(403, 50013, "Missing Permissions")
        query = request.query
        entries = list(reversed(guild.audit_log))
        for key in ("action_type", "user_id", "target_id"):
            if key in query:
                entries = [e for e in entries if str(e[key]) == query[key]]
        if "before" in query:
            entries = [e for e in entries if int(e["id"]) < int(query["before"])]
        if "after" in query:
            entries = [e for e in entries if int(e["id"]) > int(query["after"])]
        entries = entries[: int(query.get("limit", "50"))]
        user_ids = {e["user_id"] for e in entries} | {e["target_id"] for e in entries}
        users = [
            {**self.fake.users[u], "primary_guild": None}
            for u in sorted(user_ids - {None})
            if u in self.fake.users
        ]
        return json_response(
            {
                "audit_log_entries": entries,
                "users": users,
                "integrations": [],
                "webhooks": [],
                "guild_scheduled_events": [],
                "threads": [],
                "application_commands": [],
                "auto_moderation_rules": [],
            }
        )


def thread_for(
    fake: FakeDiscord,
    parent: dict[str, Any],
    name: str,
    thread_id: str,
    thread_type: int,
    auto_archive_duration: int,
) -> dict[str, Any]:
    return thread_payload(
        thread_id,
        parent["guild_id"],
        parent["id"],
        fake.bot_user["id"],
        name,
        thread_type,
        created=fake.clock.iso(),
        auto_archive_duration=auto_archive_duration,
    )
