"""Test-side sending of interactions: slash commands, autocomplete, clicks, modal submits."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from .interactions import (
    APPLICATION_COMMAND,
    ATTACHMENT,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    FakeInteraction,
    OptionBuilder,
    find_command,
    find_component,
    modal_submit_components,
)
from .state import FakeMember

if TYPE_CHECKING:
    from .gateway import Gateway
    from .messages import MessageWriter
    from .server import FakeDiscord
    from .state import FakeGuild, Snowflakes

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class InteractionSender:
    """Mixin of FakeDiscord: builds INTERACTION_CREATE payloads and dispatches them."""

    if TYPE_CHECKING:  # provided by FakeDiscord
        application_id: str
        bot_user: dict[str, Any]
        bot_permissions: int
        channels: dict[str, dict[str, Any]]
        guilds: dict[str, FakeGuild]
        messages: dict[str, dict[str, Any]]
        interactions: dict[str, FakeInteraction]
        interactions_by_token: dict[str, FakeInteraction]
        gateway: Gateway
        ids: Snowflakes
        writer: MessageWriter

        def commands(self, guild_id: str | None = None) -> list[dict[str, Any]]: ...

    def _interaction_payload(
        self,
        itype: int,
        who: FakeMember | Mapping[str, Any],
        channel_id: str,
        data: dict[str, Any],
        *,
        locale: str | None,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        channel = self.channels.get(str(channel_id))
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}")
        guild_id = channel.get("guild_id")
        payload: dict[str, Any] = {
            "id": self.ids.next(),
            "application_id": self.application_id,
            "type": itype,
            "data": data,
            "channel_id": channel["id"],
            "channel": {**channel, "permissions": str(self.bot_permissions)},
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            "version": 1,
            "app_permissions": str(self.bot_permissions),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": int(
                getattr(self, "attachment_size_limit", ATTACHMENT_SIZE_LIMIT)
            ),
        }
        if guild_id:
            if not isinstance(who, FakeMember) or who.guild_id != guild_id:
                raise ValueError("a guild interaction needs a FakeMember of that guild")
            guild = self.guilds[guild_id]
            payload.update(
                guild_id=guild_id,
                guild_locale=guild.locale,
                guild={"id": guild_id, "locale": guild.locale, "features": []},
                member=who.payload(with_permissions=True),
                locale=locale or who.locale,
                authorizing_integration_owners={"0": guild_id},
                context=0,
            )
        else:
            user = who.user if isinstance(who, FakeMember) else dict(who)
            payload.update(
                user=user,
                locale=locale or (who.locale if isinstance(who, FakeMember) else "en-US"),
                authorizing_integration_owners={"0": self.bot_user["id"]},
                context=1,
            )
        if message is not None:
            payload["message"] = dict(message)
        return payload

    async def _send(self, payload: dict[str, Any]) -> FakeInteraction:
        session = self.gateway.session_for(payload.get("guild_id"))
        if session is None:
            raise RuntimeError(
                f"no connected gateway session serves guild {payload.get('guild_id')}"
            )
        ix = FakeInteraction(cast("FakeDiscord", self), payload)
        self.interactions[ix.id] = ix
        self.interactions_by_token[ix.token] = ix
        await session.dispatch("INTERACTION_CREATE", payload)
        return ix

    def _command_data(
        self,
        who: FakeMember | Mapping[str, Any],
        channel_id: str,
        name: str,
        options: Mapping[str, Any] | None,
        *,
        attachments: Mapping[str, tuple[str, bytes, str]] | None,
        raw_options: list[dict[str, Any]] | None,
        focused: str | None = None,
    ) -> dict[str, Any]:
        channel = self.channels.get(str(channel_id))
        guild_id = channel.get("guild_id") if channel else None
        top, *path = name.split()
        registered = self.commands(guild_id) if guild_id else []
        cmd = find_command(registered, top) or find_command(self.commands(), top)
        if cmd is None:
            raise ValueError(f"command {top!r} is not registered")
        values = dict(options or {})
        for opt_name, (filename, blob, content_type) in (attachments or {}).items():
            att = self.writer.store_attachment(
                str(channel_id), filename, content_type, blob, ephemeral=True
            )
            values[opt_name] = att["id"]
        builder = OptionBuilder(cast("FakeDiscord", self), guild_id)
        if raw_options is not None:
            opts = raw_options
            for att_id in (v for k, v in values.items() if k in (attachments or {})):
                builder._value({"type": ATTACHMENT}, att_id)
        else:
            opts = builder.build(cmd.get("options", []), path, values, focused=focused)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": cmd["type"]}
        if opts:
            data["options"] = opts
        if builder.resolved:
            data["resolved"] = builder.resolved
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        return data

    async def send_command(
        self,
        member: FakeMember | Mapping[str, Any],
        channel_id: str,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        attachments: Mapping[str, tuple[str, bytes, str]] | None = None,
        raw_options: list[dict[str, Any]] | None = None,
        locale: str | None = None,
    ) -> FakeInteraction:
        """Invoke a registered slash command ("group sub" names walk subcommands)."""
        data = self._command_data(
            member, channel_id, name, options, attachments=attachments, raw_options=raw_options
        )
        payload = self._interaction_payload(
            APPLICATION_COMMAND, member, channel_id, data, locale=locale
        )
        return await self._send(payload)

    async def autocomplete(
        self,
        member: FakeMember | Mapping[str, Any],
        channel_id: str,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        locale: str | None = None,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Send an autocomplete interaction and return the choices the bot answered."""
        data = self._command_data(
            member, channel_id, name, options, attachments=None, raw_options=None, focused=focused
        )
        payload = self._interaction_payload(AUTOCOMPLETE, member, channel_id, data, locale=locale)
        ix = await self._send(payload)
        await ix.acknowledged(timeout)
        return ix.choices or []

    async def click(
        self,
        member: FakeMember | Mapping[str, Any],
        message: Mapping[str, Any] | str,
        custom_id: str,
        *,
        values: list[str] | None = None,
        locale: str | None = None,
    ) -> FakeInteraction:
        """Press a button (or pick ``values`` in a select) on a stored message."""
        stored = self.messages.get(message if isinstance(message, str) else str(message["id"]))
        if stored is None:
            raise ValueError("unknown message")
        component = find_component(stored.get("components") or [], custom_id)
        if component is None:
            raise ValueError(f"no component {custom_id!r} on message {stored['id']}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = list(values or [])
        payload = self._interaction_payload(
            MESSAGE_COMPONENT, member, stored["channel_id"], data, locale=locale, message=stored
        )
        return await self._send(payload)

    async def submit_modal(
        self,
        member: FakeMember | Mapping[str, Any],
        channel_id: str,
        custom_id: str,
        values: Mapping[str, str],
        *,
        message: Mapping[str, Any] | None = None,
        locale: str | None = None,
    ) -> FakeInteraction:
        """Submit the modal the bot last opened with ``custom_id`` (layout mirrored)."""
        modal = next(
            (
                ix.modal
                for ix in reversed(list(self.interactions.values()))
                if ix.modal is not None and ix.modal.get("custom_id") == custom_id
            ),
            None,
        )
        data = {"custom_id": custom_id, "components": modal_submit_components(modal, values)}
        stored = self.messages.get(str(message["id"])) if message is not None else None
        payload = self._interaction_payload(
            MODAL_SUBMIT, member, channel_id, data, locale=locale, message=stored
        )
        return await self._send(payload)
