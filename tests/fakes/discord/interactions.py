"""Interactions as the test sees them, and building slash-command option trees."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .state import FLAG_EPHEMERAL, FakeMember

if TYPE_CHECKING:
    from .server import FakeDiscord

# Interaction types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Callback types allowed for each interaction type.
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {4, 5, 9},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}
ACK_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0

# Option types.
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)


class FakeInteraction:
    """One interaction sent to the bot, with everything the bot answered."""

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any]) -> None:
        self._fake = fake
        self.payload = payload
        self.id: str = payload["id"]
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.channel_id: str = payload["channel_id"]
        self.guild_id: str | None = payload.get("guild_id")
        self.created_at = fake.clock.monotonic()
        self.callbacks: list[dict[str, Any]] = []  # accepted: {"type", "data", "delay"}
        self.rejected: list[dict[str, Any]] = []  # errors answered: {"status", "code", "route"}
        self.followup_ids: list[str] = []
        self.original_message_id: str | None = None
        self.ack_delay: float | None = None
        # delay to the first answer with content: a reply, an edit of the deferred original, a
        # followup, autocomplete choices or a modal (a bare defer is not an answer)
        self.answer_delay: float | None = None
        self.edits = 0  # edits of the original response through the webhook
        self._acked = asyncio.Event()
        self._changed = asyncio.Condition()

    # -- state ---------------------------------------------------------------------------
    @property
    def age(self) -> float:
        return self._fake.clock.monotonic() - self.created_at

    @property
    def is_acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def followups(self) -> list[dict[str, Any]]:
        """Followup messages (current state; deleted ones left out)."""
        msgs = (self._fake.messages.get(mid) for mid in self.followup_ids)
        return [m for m in msgs if m is not None]

    def original(self) -> dict[str, Any] | None:
        """The original response message as it is now, or None."""
        if self.original_message_id is None:
            return None
        return self._fake.messages.get(self.original_message_id)

    @property
    def ephemeral(self) -> bool:
        """Whether the reply (original response) is ephemeral."""
        original = self.original()
        if original is not None and self.response_type in (4, 5):
            return bool(original["flags"] & FLAG_EPHEMERAL)
        if self.callbacks:
            data = self.callbacks[0].get("data") or {}
            return bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        return False

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices answered (callback type 8), if any."""
        for cb in self.callbacks:
            if cb["type"] == 8:
                return list((cb.get("data") or {}).get("choices", []))
        return None

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (callback type 9), if any."""
        for cb in self.callbacks:
            if cb["type"] == 9:
                return cb.get("data")
        return None

    def messages(self) -> list[dict[str, Any]]:
        """Original response (when any) followed by the followups."""
        original = self.original()
        return ([original] if original else []) + self.followups

    # -- waiting -------------------------------------------------------------------------
    async def acknowledged(self, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the first accepted callback and return it (``type``, ``data``, ``delay``)."""
        await asyncio.wait_for(self._acked.wait(), timeout)
        return self.callbacks[0]

    async def wait_for(
        self, predicate: Callable[[FakeInteraction], bool], timeout: float = 10.0
    ) -> FakeInteraction:
        """Wait until ``predicate(self)`` holds; re-checked on every change to this interaction."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(_wait(), timeout)
        return self

    async def _notify(self) -> None:
        if self.answer_delay is None and (
            self.edits
            or self.followup_ids
            or (self.callbacks and self.callbacks[0]["type"] not in (5, 6))
        ):
            self.answer_delay = self.age
        async with self._changed:
            self._changed.notify_all()

    def _record_ack(
        self, cb_type: int, data: dict[str, Any] | None, delay: float | None = None
    ) -> None:
        """A callback was accepted ``delay`` after the interaction was sent (default: now)."""
        delay = self.age if delay is None else delay
        self.callbacks.append({"type": cb_type, "data": data, "delay": delay})
        if self.ack_delay is None:
            self.ack_delay = delay
        self._acked.set()

    def __repr__(self) -> str:
        return f"<FakeInteraction id={self.id} type={self.type} acks={len(self.callbacks)}>"


class OptionBuilder:
    """Builds a command's ``data.options`` tree and ``resolved`` from a registered schema."""

    def __init__(self, fake: FakeDiscord, guild_id: str | None) -> None:
        self._fake = fake
        self._guild_id = guild_id
        self.resolved: dict[str, dict[str, Any]] = {}

    def build(
        self,
        schema_options: list[dict[str, Any]],
        path: list[str],
        values: Mapping[str, Any],
        *,
        focused: str | None = None,
    ) -> list[dict[str, Any]]:
        """Walk ``path`` (subcommand group / subcommand) and type the leaf ``values``."""
        if path:
            head, rest = path[0], path[1:]
            sub = next(
                (
                    o
                    for o in schema_options
                    if o["name"] == head and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)
                ),
                None,
            )
            if sub is None:
                raise ValueError(f"no subcommand {head!r} in the registered command")
            inner = self.build(sub.get("options", []), rest, values, focused=focused)
            return [{"name": head, "type": sub["type"], "options": inner}]
        by_name = {o["name"]: o for o in schema_options}
        out: list[dict[str, Any]] = []
        for name, value in values.items():
            spec = by_name.get(name)
            if spec is None:
                raise ValueError(f"option {name!r} is not in the registered command")
            if name == focused:
                out.append(
                    {"name": name, "type": spec["type"], "value": str(value), "focused": True}
                )
                continue
            out.append({"name": name, "type": spec["type"], "value": self._value(spec, value)})
        missing = [
            o["name"]
            for o in schema_options
            if o.get("required") and o["name"] not in values and o["name"] != focused
        ]
        if missing and focused is None:
            raise ValueError(f"required options missing: {missing}")
        return out

    def _value(self, spec: dict[str, Any], value: Any) -> Any:
        kind = spec["type"]
        if kind == STRING:
            return str(value)
        if kind == INTEGER:
            return int(value)
        if kind == NUMBER:
            return float(value)
        if kind == BOOLEAN:
            return bool(value)
        if kind in (USER, MENTIONABLE) and isinstance(value, FakeMember):
            self._resolve_member(value)
            return value.id
        if kind == USER:
            user = self._fake.users.get(str(value))
            if user is None:
                raise ValueError(f"unknown user {value!r}")
            self.resolved.setdefault("users", {})[str(value)] = dict(user)
            return str(value)
        if kind == CHANNEL:
            channel = self._fake.channels.get(str(value))
            if channel is None:
                raise ValueError(f"unknown channel {value!r}")
            partial: dict[str, Any] = {
                k: channel[k]
                for k in ("id", "name", "type", "parent_id", "thread_metadata")
                if k in channel
            }
            if channel["type"] in (10, 11, 12):
                # a resolved thread is the whole thread object (owner, counts, …), as Discord
                # sends it: discord.py's AppCommandThread reads those fields
                partial = {k: v for k, v in channel.items() if k != "guild_id"}
            partial["permissions"] = str(self._fake.bot_permissions)
            self.resolved.setdefault("channels", {})[channel["id"]] = partial
            return channel["id"]
        if kind in (ROLE, MENTIONABLE):
            guild = self._fake.guilds.get(self._guild_id or "")
            role = guild.roles.get(str(value)) if guild else None
            if role is None:
                raise ValueError(f"unknown role {value!r}")
            self.resolved.setdefault("roles", {})[role["id"]] = dict(role)
            return role["id"]
        if kind == ATTACHMENT:
            attachment = self._fake.attachment(str(value))
            if attachment is None:
                raise ValueError(f"unknown attachment {value!r}")
            self.resolved.setdefault("attachments", {})[attachment["id"]] = dict(attachment)
            return attachment["id"]
        return value

    def _resolve_member(self, member: FakeMember) -> None:
        self.resolved.setdefault("users", {})[member.id] = dict(member.user)
        payload = member.payload(with_user=False, with_permissions=True)
        self.resolved.setdefault("members", {})[member.id] = payload


def find_command(
    commands: list[dict[str, Any]], name: str, cmd_type: int = 1
) -> dict[str, Any] | None:
    return next((c for c in commands if c["name"] == name and c.get("type", 1) == cmd_type), None)


def modal_submit_components(
    modal: dict[str, Any] | None, values: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Mirror the layout of the modal the bot sent (action rows or labels) with the values."""
    if modal is None:
        return [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for top in modal.get("components", []):
        if top.get("type") == 1:
            inner = []
            for comp in top.get("components", []):
                cid = comp.get("custom_id")
                if comp.get("type") == 4 and cid is not None:
                    inner.append({"type": 4, "custom_id": cid, "value": values.get(cid, "")})
                    seen.add(cid)
            out.append({"type": 1, "components": inner})
        elif top.get("type") == 18:
            comp = top.get("component") or {}
            cid = comp.get("custom_id")
            if comp.get("type") == 4 and cid is not None:
                seen.add(cid)
                out.append(
                    {
                        "type": 18,
                        "id": top.get("id", 0),
                        "component": {"type": 4, "custom_id": cid, "value": values.get(cid, "")},
                    }
                )
    unknown = set(values) - seen
    if unknown:
        raise ValueError(f"fields not in the modal: {sorted(unknown)}")
    return out


def find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    """Depth-first search for a component by custom_id (rows, containers, sections, labels)."""
    for comp in components:
        if comp.get("custom_id") == custom_id:
            return comp
        for key in ("components", "accessory", "component"):
            child = comp.get(key)
            children = child if isinstance(child, list) else [child] if child else []
            found = find_component(children, custom_id)
            if found is not None:
                return found
    return None
