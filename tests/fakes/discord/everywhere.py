"""The fake Discord, everywhere Discord lets an app be: interactions of a user-installed app
in a server the bot is not in, message and user context-menu commands, messages members post
(with attachments), age-restricted (nsfw) channels, and channel webhooks (create, list,
execute with ``thread_id``) with Discord's rules: Manage Webhooks needed, mentions checked.

Functions over a :class:`FakeDiscord` (kept apart from the core so other extensions merge).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .interactions import (
    APPLICATION_COMMAND,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeInteraction,
    find_component,
    modal_submit_components,
)
from .messages import DiscordHTTPError, UploadedFile
from .rest import body_dict, files_of, json_response
from .sending import ATTACHMENT_SIZE_LIMIT
from .state import (
    DEFAULT_MEMBER_PERMISSIONS,
    FakeMember,
    dm_channel_payload,
    text_channel_payload,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

MANAGE_WEBHOOKS = 1 << 29
USER_COMMAND, MESSAGE_COMMAND = 2, 3
GUILD_INSTALL, USER_INSTALL = "0", "1"


# -- channels and messages -------------------------------------------------------------------
def add_nsfw_channel(fake: FakeDiscord, guild_id: str, name: str) -> dict[str, Any]:
    """An age-restricted text channel (``nsfw``), announced to a connected bot."""
    guild = fake.guilds[guild_id]
    channel = text_channel_payload(fake.ids.next(), guild_id, name, len(guild.channel_ids))
    channel["nsfw"] = True
    fake.channels[channel["id"]] = channel
    guild.channel_ids.append(channel["id"])
    session = fake.gateway.session_for(guild_id)
    if session is not None and session.guilds_sent:
        fake._spawn(fake.dispatch(guild_id, "CHANNEL_CREATE", dict(channel)))
    return channel


def post_member_message(
    fake: FakeDiscord,
    member: FakeMember | dict[str, Any],
    channel_id: str,
    content: str = "",
    *,
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """A message a member (or a user, in a channel the bot cannot see) posted, with files."""
    author = member.user if isinstance(member, FakeMember) else dict(member)
    uploads = [
        UploadedFile(f"files[{i}]", name, kind, data) for i, (name, data, kind) in enumerate(files)
    ]
    payload: dict[str, Any] = {"content": content}
    if uploads:
        payload["attachments"] = [{"id": i, "filename": u.filename} for i, u in enumerate(uploads)]
    return fake.writer.create(channel_id, author, payload, uploads)


def dm_channel(fake: FakeDiscord, user: dict[str, Any]) -> dict[str, Any]:
    """The DM channel between the bot and ``user`` (made on first use, as POST
    /users/@me/channels makes it)."""
    channel_id = fake.dm_channels.get(user["id"])
    if channel_id is None:
        channel_id = fake.ids.next()
        fake.channels[channel_id] = dm_channel_payload(channel_id, user)
        fake.dm_channels[user["id"]] = channel_id
    return fake.channels[channel_id]


# -- interactions ----------------------------------------------------------------------------
def _payload_from(
    fake: FakeDiscord, itype: int, who: FakeMember, channel_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    return fake._interaction_payload(itype, who, channel_id, data, locale=None)


async def message_command(
    fake: FakeDiscord, who: FakeMember, message: dict[str, Any], name: str
) -> FakeInteraction:
    """Run the message context menu ``name`` on a stored message."""
    command = _registered(fake, name, MESSAGE_COMMAND)
    stored = fake.messages[str(message["id"])]
    data = {
        "id": command["id"],
        "name": command["name"],
        "type": MESSAGE_COMMAND,
        "target_id": stored["id"],
        "resolved": {"messages": {stored["id"]: dict(stored)}},
    }
    return await fake._send(
        _payload_from(fake, APPLICATION_COMMAND, who, stored["channel_id"], data)
    )


async def user_command(
    fake: FakeDiscord, who: FakeMember, channel_id: str, target: FakeMember, name: str
) -> FakeInteraction:
    """Run the user context menu ``name`` on a member."""
    command = _registered(fake, name, USER_COMMAND)
    data = {
        "id": command["id"],
        "name": command["name"],
        "type": USER_COMMAND,
        "target_id": target.id,
        "resolved": {
            "users": {target.id: dict(target.user)},
            "members": {target.id: target.payload(with_user=False, with_permissions=True)},
        },
    }
    return await fake._send(_payload_from(fake, APPLICATION_COMMAND, who, channel_id, data))


def _registered(fake: FakeDiscord, name: str, kind: int) -> dict[str, Any]:
    for command in fake.commands():
        if command["name"] == name and command.get("type", 1) == kind:
            return command
    raise ValueError(f"no registered command {name!r} of type {kind}")


class ElsewhereGuild:
    """A server the bot is not in, where a member uses the app they installed to their
    account: a guild id and a channel the bot never hears of (not in the fake's state, so any
    request of the bot's own about them fails as it would)."""

    def __init__(self, fake: FakeDiscord, name: str = "Elsewhere") -> None:
        self.fake = fake
        self.id = fake.ids.next()
        self.name = name
        self.channel = text_channel_payload(fake.ids.next(), self.id, "lounge", 0)

    def member(self, username: str) -> FakeMember:
        """A user (known to the fake) who is a member there."""
        user = self.fake.add_user(username)
        return FakeMember(self.id, user, [], DEFAULT_MEMBER_PERMISSIONS, "en-US", joined_at="")

    async def command(
        self,
        who: FakeMember,
        name: str,
        options: dict[str, Any] | None = None,
    ) -> FakeInteraction:
        """A slash command of the user-installed app in this server's channel."""
        data = self.fake._command_data(
            who, self.channel["id"], name, options, attachments=None, raw_options=None
        )
        return await self.fake._send(self._payload(APPLICATION_COMMAND, who, data))

    def post(self, who: FakeMember, content: str, files: list[tuple[str, bytes, str]]) -> dict:
        """A message a member posts there (the bot does not see it)."""
        return post_member_message(self.fake, who.user, self.channel["id"], content, files=files)

    async def message_command(
        self, who: FakeMember, message: dict[str, Any], name: str
    ) -> FakeInteraction:
        """A message context menu of the user-installed app on a message there."""
        command = _registered(self.fake, name, MESSAGE_COMMAND)
        data = {
            "id": command["id"],
            "name": command["name"],
            "type": MESSAGE_COMMAND,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: dict(message)}},
        }
        return await self.fake._send(self._payload(APPLICATION_COMMAND, who, data))

    async def click(
        self, who: FakeMember, message: dict[str, Any], custom_id: str
    ) -> FakeInteraction:
        """Press a button on one of the app's messages there."""
        stored = self.fake.messages[str(message["id"])]
        component = find_component(stored.get("components") or [], custom_id)
        if component is None:
            raise ValueError(f"no component {custom_id!r}")
        data = {"custom_id": custom_id, "component_type": component["type"]}
        payload = self._payload(MESSAGE_COMPONENT, who, data)
        payload["message"] = dict(stored)
        return await self.fake._send(payload)

    async def submit_modal(
        self,
        who: FakeMember,
        modal: dict[str, Any],
        values: dict[str, str],
        *,
        message: dict[str, Any] | None = None,
    ) -> FakeInteraction:
        """Submit a modal the app opened there (its layout mirrored)."""
        data = {
            "custom_id": modal["custom_id"],
            "components": modal_submit_components(modal, values),
        }
        payload = self._payload(MODAL_SUBMIT, who, data)
        if message is not None:
            payload["message"] = dict(self.fake.messages[str(message["id"])])
        return await self.fake._send(payload)

    def _payload(self, itype: int, who: FakeMember, data: dict[str, Any]) -> dict[str, Any]:
        fake = self.fake
        return {
            "id": fake.ids.next(),
            "application_id": fake.application_id,
            "type": itype,
            "data": data,
            "guild_id": self.id,
            "guild": {"id": self.id, "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel_id": self.channel["id"],
            "channel": {**self.channel, "permissions": str(DEFAULT_MEMBER_PERMISSIONS)},
            "member": who.payload(with_permissions=True),
            "locale": who.locale,
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            "version": 1,
            # a user install: what @everyone may do there, for the app's own messages
            "app_permissions": str(DEFAULT_MEMBER_PERMISSIONS),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {USER_INSTALL: who.id},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }


# -- channel webhooks ------------------------------------------------------------------------
class ChannelWebhooks:
    """``GET/POST /channels/{id}/webhooks`` and executing them (``POST /webhooks/{id}/{token}``
    shares its route with interaction followups, which hand over when the id is a webhook's).
    Stores ``fake.channel_webhooks`` and records every execution in ``fake.webhook_executions``
    (the request body, the thread, the message made)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/channels/{channel_id}/webhooks", self.list_webhooks),
            ("POST", "/channels/{channel_id}/webhooks", self.create_webhook),
        ]

    def _channel(self, request: web.Request) -> dict[str, Any]:
        channel = self.fake.channels.get(request.match_info["channel_id"])
        if channel is None:
            raise DiscordHTTPError(404, 10003, "Unknown Channel")
        if channel["type"] in (10, 11, 12) or not channel.get("guild_id"):
            raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
        if not self.fake.bot_permissions & MANAGE_WEBHOOKS:
            raise DiscordHTTPError(403, 50013, "Missing Permissions")
        return channel

    async def list_webhooks(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        hooks = [h for h in self.fake.channel_webhooks.values() if h["channel_id"] == channel["id"]]
        return json_response(hooks)

    async def create_webhook(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        body = body_dict(request)
        hook = {
            "id": self.fake.ids.next(),
            "type": 1,
            "guild_id": channel["guild_id"],
            "channel_id": channel["id"],
            "name": str(body.get("name") or ""),
            "avatar": None,
            "token": secrets.token_urlsafe(48),
            "application_id": self.fake.application_id,
            "user": dict(self.fake.bot_user),
        }
        self.fake.channel_webhooks[hook["id"]] = hook
        return json_response(hook)

    async def execute(self, request: web.Request, hook: dict[str, Any]) -> web.Response:
        fake = self.fake
        if request.match_info["token"] != hook["token"]:
            raise DiscordHTTPError(401, 50027, "Invalid Webhook Token")
        payload = body_dict(request)
        fake.check_message(payload, f"webhook {hook['id']} execute")
        channel_id = hook["channel_id"]
        thread_id = request.query.get("thread_id")
        if thread_id is not None:
            thread = fake.channels.get(thread_id)
            if thread is None or thread.get("parent_id") != hook["channel_id"]:
                raise DiscordHTTPError(400, 10003, "Unknown Channel")
            channel_id = thread_id
        author = {
            "id": hook["id"],
            "username": str(payload.get("username") or hook["name"]),
            "avatar": None,
            "discriminator": "0000",
            "global_name": None,
            "public_flags": 0,
            "flags": 0,
            "bot": True,
        }
        message = fake.writer.create(
            channel_id, author, payload, files_of(request), extra={"webhook_id": hook["id"]}
        )
        fake.webhook_executions.append(
            {"webhook": hook["id"], "thread_id": thread_id, "body": payload, "message": message}
        )
        await fake.emit_message("MESSAGE_CREATE", message)
        if request.query.get("wait") in ("true", "1", "True"):
            return json_response(message)
        return web.Response(status=204)
