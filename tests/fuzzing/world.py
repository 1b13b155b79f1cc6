"""The world the fuzz test runs in: one fake Discord with two guilds, one bot (offline image
generator, files on disk) and one database for the whole run, on an event loop of its own
thread, so hypothesis can drive it from a plain (synchronous) test.

Members: ``alice`` and ``carol`` act (plain members of guild A, moderators of guild B);
``victor`` never acts: his rows are what forged ids point at.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import CharBot, open_bot
from bot.config import Settings
from db.engine import make_engine
from tests.e2e import LOG_SECRETS, VIOLATIONS
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction, FakeMember
from tests.fakes.discord.interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    find_command,
    modal_submit_components,
)
from tests.fakes.discord.state import (
    DEFAULT_MEMBER_PERMISSIONS,
    FLAG_EPHEMERAL,
    MANAGE_MESSAGES,
    dm_channel_payload,
)
from tests.fuzzing import seed
from tests.fuzzing.rows import Snapshot, snapshot
from tests.fuzzing.surface import (
    MESSAGE_COMMAND,
    USER_COMMAND,
    Surface,
    dynamic_items,
    modal_classes,
    registered_commands,
)
from tests.fuzzing.values import Upload

T = TypeVar("T")
MANAGE_GUILD = 1 << 5
ACK_WAIT = 3.5  # a little past Discord's 3 s: a late answer is then seen as late, not missing
ANSWER_WAIT = 0.5  # a little for the answer itself; the round waits for the rest
IDLE_WAIT = 60.0
CONCURRENCY = 10


@dataclass
class Actor:
    """A member who sends interactions: the same Discord user in both guilds."""

    name: str
    in_a: FakeMember
    in_b: FakeMember
    user_id: str = ""  # the users row, once made

    @property
    def discord_id(self) -> str:
        return self.in_a.id


@dataclass
class Plan:
    """One interaction to send, fully drawn: nothing is random once it exists."""

    kind: str  # "command" | "autocomplete" | "component" | "modal" | "menu"
    actor: str
    where: str  # "A" | "B" | "dm"
    name: str = ""  # command name, DynamicItem or modal class
    options: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    focused: str | None = None
    custom_id: str = ""
    values: list[str] = field(default_factory=list)
    select_options: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    target: str = ""  # a context menu's target (user or message id)
    locale: str | None = None
    ephemeral_message: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # what resolving needs

    def describe(self) -> str:
        parts = [f"{self.kind} {self.name!r} by {self.actor} in {self.where}"]
        if self.custom_id:
            parts.append(f"custom_id={self.custom_id!r}")
        if self.options:
            parts.append(f"options={_short(self.options)}")
        if self.uploads:
            up = {k: (u.filename, len(u.data), u.claimed_size) for k, u in self.uploads.items()}
            parts.append(f"uploads={up}")
        if self.focused:
            parts.append(f"focused={self.focused!r}")
        if self.values:
            parts.append(f"values={_short(self.values)}")
        if self.fields:
            parts.append(f"fields={_short(self.fields)}")
        if self.target:
            parts.append(f"target={self.target}")
        if self.locale:
            parts.append(f"locale={self.locale}")
        return " ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 400 else text[:400] + "…"


@dataclass
class Outcome:
    """A plan as it went: the interaction (None when it was not sent) and what came back."""

    plan: Plan
    ix: FakeInteraction | None
    skipped: str = ""


class World:
    """The running world; every coroutine runs on its own loop thread (:meth:`call`)."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-world")
        self.fake: FakeDiscord
        self.bot: CharBot
        self.engine: AsyncEngine
        self.guilds: dict[str, FakeGuild] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # "A", "B", "showcase A", "dm alice" …
        self.actors: dict[str, Actor] = {}
        self.victim: Actor
        self.surface = Surface()
        self._bot_cm: Any = None
        self._bot_task: asyncio.Task[None] | None = None
        self.modals_opened: dict[str, int] = {}  # modal custom_id prefix → times opened
        self.modal_classes_opened: set[str] = set()  # shown to a member (fields fuzzed or not)
        self.open_modals: dict[str, dict[str, Any]] = {}  # custom_id → the modal payload
        self._claimed: set[str] = set()
        self.modal_classes_submitted: set[str] = set()
        self.crawled: set[str] = set()  # component shapes pressed by the crawl

    # -- the loop thread ---------------------------------------------------------------------
    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 600.0) -> T:
        """Run ``coro`` on the world's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @contextlib.contextmanager
    def running(self) -> Iterator[World]:
        self._thread.start()
        try:
            self.call(self._start(), timeout=120)
            yield self
        finally:
            try:
                self.call(self._stop(), timeout=120)
                self.call(_cancel_the_rest(), timeout=30)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(30)
                self.loop.close()

    # -- start and stop ----------------------------------------------------------------------
    def settings(self) -> Settings:
        values: dict[str, Any] = {
            "discord_token": self.fake.token,
            "discord_api_base_url": self.fake.api_base,
            "discord_gateway_url": self.fake.gateway_url,
            "database_url": self.database_url,
            "data_dir": self.data_dir,
            "gemini_api_key": None,  # the offline generator: cheap generations
            "s3_bucket": None,  # files under data_dir
            "shutdown_grace_seconds": 5.0,
            "quota_free": 1_000_000,
            "generation_concurrency": 4,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def _start(self) -> None:
        fake = self.fake = FakeDiscord(require_silent_mentions=True)
        await fake.start()
        a = self.guilds["A"] = fake.add_guild("Camelot")
        b = self.guilds["B"] = fake.add_guild("Avalon", locale="ja")
        for key, guild in (("A", a), ("B", b)):
            self.channels[key] = fake.add_text_channel(guild.id, "general")
            self.channels[f"showcase {key}"] = fake.add_text_channel(guild.id, "showcase")
            fake.add_role(guild.id, "artists")
        moderator = DEFAULT_MEMBER_PERMISSIONS | MANAGE_MESSAGES | MANAGE_GUILD
        for name, locale in (("alice", "en-US"), ("carol", "zh-CN"), ("victor", "ko")):
            in_a = fake.add_member(a.id, name, locale=locale)
            in_b = fake._add_member(
                b,
                in_a.user,
                roles=[],
                perms=moderator if name != "victor" else DEFAULT_MEMBER_PERMISSIONS,
                locale=locale,
            )
            actor = Actor(name, in_a, in_b)
            dm_id = fake.ids.next()
            fake.channels[dm_id] = dm_channel_payload(dm_id, in_a.user)
            fake.dm_channels[in_a.id] = dm_id
            self.channels[f"dm {name}"] = fake.channels[dm_id]
            if name == "victor":
                self.victim = actor
            else:
                self.actors[name] = actor
        settings = self.settings()
        LOG_SECRETS.update(settings.secrets())
        self._bot_cm = open_bot(settings, self.database_url)
        bot = await self._bot_cm.__aenter__()
        await bot.login(settings.require_token())
        self._bot_task = asyncio.create_task(bot.connect())
        await fake.wait_for_ready(timeout=30)
        self.bot = bot
        self.engine = make_engine(self.database_url, pool_size=2, max_overflow=2)
        payloads = fake.commands() or fake.commands(a.id)
        self.surface = Surface(registered_commands(payloads), dynamic_items(bot), modal_classes())
        await seed.populate(self)

    async def _stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.wait_idle(IDLE_WAIT)
        if getattr(self, "bot", None) is not None:
            await self.bot.close()
        if self._bot_task is not None:
            self._bot_task.cancel()
            await asyncio.gather(self._bot_task, return_exceptions=True)
        if self._bot_cm is not None:
            await self._bot_cm.__aexit__(None, None, None)
        if getattr(self, "engine", None) is not None:
            await self.engine.dispose()
        VIOLATIONS.extend(self.fake.take_violations())
        await self.fake.stop()

    # -- members and places ------------------------------------------------------------------
    def everyone(self) -> list[Actor]:
        return [*self.actors.values(), self.victim]

    def member(self, actor: str, where: str) -> FakeMember:
        who = self.actors.get(actor) or self.victim
        return who.in_b if where == "B" else who.in_a

    def channel_for(self, actor: str, where: str) -> dict[str, Any]:
        return self.channels[f"dm {actor}" if where == "dm" else where]

    # -- sending -----------------------------------------------------------------------------
    async def run_batch(self, plans: list[Plan]) -> list[Outcome]:
        """Send every plan (a few at a time), wait until each is answered and the bot idles."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(plan: Plan) -> list[Outcome]:
            async with gate:
                first = await self._run(plan)
                answer = self._modal_answer(first)
                return [first] if answer is None else [first, await self._run(answer)]

        done = await asyncio.gather(*(one(p) for p in plans))
        outcomes = [o for pair in done for o in pair]
        await self.wait_idle(IDLE_WAIT)
        self._collect_modals(outcomes)
        return outcomes

    def _modal_answer(self, outcome: Outcome) -> Plan | None:
        """The submission of the modal the interaction opened, with the values drawn for it
        (by the same member: a modal of another's is submitted in that member's rounds)."""
        from tests.fuzzing.plans import fill_modal  # plans build on this module

        ix, drawn = outcome.ix, outcome.plan.extra.get("fields")
        if ix is None or ix.modal is None or not drawn:
            return None
        custom_id = str(ix.modal.get("custom_id"))
        self.open_modals[custom_id] = ix.modal
        return Plan(
            kind="modal",
            actor=outcome.plan.actor,
            where=outcome.plan.where,
            name=custom_id.split(":", 1)[0],
            custom_id=custom_id,
            fields=fill_modal(ix.modal, drawn),
            locale=outcome.plan.locale,
        )

    async def _run(self, plan: Plan) -> Outcome:
        if plan.kind == "modal":
            for _ in range(20):  # discord.py keeps the modal once its response call returned
                if self._modal_open(plan.custom_id):
                    break
                await asyncio.sleep(0.05)
            if plan.custom_id in self._claimed or not self._modal_open(plan.custom_id):
                return Outcome(plan, None, skipped="modal no longer open")
            self._claimed.add(plan.custom_id)
            modal = self.bot._connection._view_store._modals[plan.custom_id]
            self.modal_classes_submitted.add(type(modal).__name__)
        try:
            ix = await self._send(plan)
        except ValueError as exc:  # the fake refused to build it (e.g. a vanished message)
            return Outcome(plan, None, skipped=str(exc))
        with contextlib.suppress(TimeoutError):
            await ix.acknowledged(ACK_WAIT)
        if ix.callbacks and ix.answer_delay is None:
            with contextlib.suppress(TimeoutError):
                await ix.wait_for(lambda i: i.answer_delay is not None, ANSWER_WAIT)
        return Outcome(plan, ix)

    async def _send(self, plan: Plan) -> FakeInteraction:
        fake = self.fake
        member = self.member(plan.actor, plan.where)
        who: Any = member.user if plan.where == "dm" else member
        channel = self.channel_for(plan.actor, plan.where)
        if plan.kind in ("command", "autocomplete"):
            values = dict(plan.options)
            for opt, upload in plan.uploads.items():
                attachment = fake.writer.store_attachment(
                    channel["id"],
                    upload.filename,
                    upload.content_type,
                    upload.data,
                    ephemeral=True,
                )
                if upload.claimed_size is not None:
                    attachment["size"] = upload.claimed_size
                values[opt] = attachment["id"]
            data = fake._command_data(
                who,
                channel["id"],
                plan.name,
                values,
                attachments=None,
                raw_options=None,
                focused=plan.focused,
            )
            itype = AUTOCOMPLETE if plan.kind == "autocomplete" else APPLICATION_COMMAND
            payload = fake._interaction_payload(itype, who, channel["id"], data, locale=plan.locale)
            return await fake._send(payload)
        if plan.kind == "menu":
            return await fake._send(self._menu_payload(plan, who, channel))
        if plan.kind == "component":
            message = self._component_message(plan, channel)
            data: dict[str, Any] = {
                "custom_id": plan.custom_id,
                "component_type": message["components"][0]["components"][0]["type"],
            }
            if data["component_type"] != 2:
                data["values"] = list(plan.values)
            payload = fake._interaction_payload(
                MESSAGE_COMPONENT, who, channel["id"], data, locale=plan.locale, message=message
            )
            return await fake._send(payload)
        if plan.kind == "modal":
            modal = self.open_modals.get(plan.custom_id)
            data = {
                "custom_id": plan.custom_id,
                "components": modal_submit_components(modal, plan.fields),
            }
            payload = fake._interaction_payload(
                MODAL_SUBMIT, who, channel["id"], data, locale=plan.locale
            )
            return await fake._send(payload)
        raise AssertionError(plan.kind)

    def _menu_payload(self, plan: Plan, who: Any, channel: dict[str, Any]) -> dict[str, Any]:
        fake = self.fake
        spec = next(c for c in self.surface.commands if c.name == plan.name and c.kind > 1)
        guild_id = channel.get("guild_id")
        registered = (fake.commands(guild_id) if guild_id else []) + fake.commands()
        cmd = find_command(registered, plan.name, spec.kind)
        if cmd is None:
            raise ValueError(f"context menu {plan.name!r} is not registered")
        resolved: dict[str, Any] = {}
        if spec.kind == USER_COMMAND:
            user = fake.users.get(plan.target)
            if user is None:
                raise ValueError("unknown user")
            resolved["users"] = {plan.target: dict(user)}
            guild = fake.guilds.get(guild_id or "")
            target_member = guild.members.get(plan.target) if guild else None
            if target_member is not None:
                resolved["members"] = {
                    plan.target: target_member.payload(with_user=False, with_permissions=True)
                }
        elif spec.kind == MESSAGE_COMMAND:
            message = fake.messages.get(plan.target)
            if message is None:
                raise ValueError("unknown message")
            resolved["messages"] = {plan.target: dict(message)}
        data = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": spec.kind,
            "target_id": plan.target,
            "resolved": resolved,
        }
        return fake._interaction_payload(
            APPLICATION_COMMAND, who, channel["id"], data, locale=plan.locale
        )

    def _component_message(self, plan: Plan, channel: dict[str, Any]) -> dict[str, Any]:
        """A message of the bot's carrying the component (as Discord would send it)."""
        fake = self.fake
        if plan.select_options or plan.values:
            options = plan.select_options or plan.values or ["x"]
            component: dict[str, Any] = {
                "type": 3,
                "custom_id": plan.custom_id,
                "options": [{"label": v[:100] or "-", "value": v[:100] or "-"} for v in options],
                "min_values": 1,
                "max_values": 1,
            }
        else:
            component = {"type": 2, "style": 2, "label": "▶", "custom_id": plan.custom_id}
        message = fake.new_message(channel["id"], fake.bot_user)
        message["components"] = [{"type": 1, "components": [component]}]
        message["embeds"] = [{"type": "rich", "title": "card"}]
        message["flags"] = FLAG_EPHEMERAL if plan.ephemeral_message else 0
        fake.add_message(message)
        return message

    # -- modals ------------------------------------------------------------------------------
    def _modal_open(self, custom_id: str) -> bool:
        return custom_id in self.bot._connection._view_store._modals

    def _collect_modals(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            ix = outcome.ix
            if ix is None or ix.modal is None:
                continue
            modal = ix.modal
            cid = str(modal.get("custom_id"))
            prefix = cid.split(":", 1)[0]
            self.modals_opened[prefix] = self.modals_opened.get(prefix, 0) + 1
            self.open_modals[cid] = modal
            stored = self.bot._connection._view_store._modals.get(cid)
            if stored is not None:
                self.modal_classes_opened.add(type(stored).__name__)
        for cid in list(self.open_modals):
            if not self._modal_open(cid):
                del self.open_modals[cid]
        self._claimed.clear()

    # -- quiet -------------------------------------------------------------------------------
    def busy(self) -> bool:
        deps = self.bot.deps
        return bool(
            len(deps.flows)
            or deps.pipeline.in_flight
            or deps.admission.working
            or deps.admission.waiting
        )

    async def wait_idle(self, timeout: float) -> None:
        """Until no generation, flow or admitted interaction is running (and then a beat)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.busy():
                await asyncio.sleep(0.05)
                if not self.busy():
                    return
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot did not become idle")

    # -- rows --------------------------------------------------------------------------------
    async def snapshot(self) -> Snapshot:
        return await snapshot(self.engine)


async def _cancel_the_rest() -> None:
    """Cancel what the bot left running (views' timeouts, discord.py's own waits)."""
    current = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not current]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
