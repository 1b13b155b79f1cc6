"""The composition root: builds the engine, storage, providers and pipeline, and the bot."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord
import yarl
from discord.ext import commands
from google import genai
from sqlalchemy.dialects.postgresql import insert

from bot.admission import Admission, InFlight
from bot.config import Settings
from bot.eventloop import freeze_startup_heap
from bot.generation.base import ImageProvider, PromptOptimizer
from bot.generation.factory import build_providers, make_genai_client
from bot.health import OpsServer, database_answers
from bot.i18n import Catalog, CatalogTranslator, choose_language
from bot.metrics import BotMetrics
from bot.observe import AckTimer, finished, started
from bot.ratelimit import SharedRateLimit
from bot.services.accounts import get_member_with_notices, get_or_create_user
from bot.services.generations import sweep_stale
from bot.services.pipeline import GenerationPipeline
from bot.services.slots import GenerationSlots
from bot.storage.base import Storage, delete_quietly
from bot.storage.factory import open_storage
from bot.tree import CharTree
from bot.ui.components import CharacterButton, CharacterButtonHandler
from db.bot_models import BotState
from db.engine import (
    SessionFactory,
    make_engine,
    make_read_session_factory,
    make_session_factory,
)
from db.models import Character, User

log = logging.getLogger(__name__)

USER_ID_CACHE_SIZE = 100_000
# At shutdown, beyond the generations' own grace: the time a generating flow gets to post what
# it made (card, thread, welcome), or to tell the member their unit came back.
FLOW_FINISH_SECONDS = 10.0

EXTENSIONS = (
    "cogs.characters",
    "cogs.themes",
    "cogs.account",
    "cogs.gallery",
    "cogs.mod",
    "cogs.profile",
    "cogs.collections",
)


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic to the configured URLs (a proxy, or the local fake)."""
    discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


@dataclass(frozen=True)
class Caller:
    """The member behind an interaction: their user row, reply language, and whether a notice
    waited for them when the row was read (so a command without one needs no second query)."""

    user: User
    lang: str
    has_notices: bool


class CharBot(commands.AutoShardedBot):
    """The bot: sharded, no privileged intents, never pings anyone."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        reads: SessionFactory,
        storage: Storage,
        optimizer: PromptOptimizer,
        images: ImageProvider,
        catalog: Catalog,
        extensions: tuple[str, ...] = EXTENSIONS,
        rate_limit: SharedRateLimit | None = None,
    ) -> None:
        metrics = BotMetrics()
        ack_timer = AckTimer(metrics)
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=CharTree,
            help_command=None,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_id_list,  # type: ignore[arg-type]  # None = all shards
            http_trace=ack_timer.trace,
        )
        self.metrics = metrics
        self.settings = settings
        self.sessions = sessions  # transactions: ``sessions.begin()``
        self.reads = reads  # reads: one round trip per statement, no transaction (same pool)
        # deferred interactions doing their work at once: as many as pooled connections
        self.admission = Admission(settings.database_pool_size)
        self.flows = InFlight()
        self.storage = storage
        self.catalog = catalog
        self.pipeline = GenerationPipeline(
            sessions,
            storage,
            optimizer,
            images,
            slots=GenerationSlots(settings.generation_concurrency),
            text_model=settings.gemini_text_model,
            image_model=settings.gemini_image_model,
            rate_limit=rate_limit,
            metrics=metrics,
        )
        metrics.track_queues(
            lambda: self.pipeline.slots.waiting,
            lambda: rate_limit.waiting if rate_limit else 0,
            lambda: self.admission.waiting,
        )
        metrics.track_gateway(lambda: self.latencies)
        self.ops: OpsServer | None = None
        if settings.metrics_port is not None:
            self.ops = OpsServer(
                metrics,
                gateway_connected=self.gateway_connected,
                database_ok=lambda: database_answers(sessions),
                host=settings.metrics_host,
                port=settings.metrics_port,
            )
        self._extensions = extensions
        self._user_ids: dict[int, str] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.synced_commands: list[dict[str, Any]] | None = None

    # -- start-up ---------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        await self.tree.set_translator(CatalogTranslator(self.catalog))
        for extension in self._extensions:
            await self.load_extension(extension)
        self.add_dynamic_items(CharacterButton)
        await self.sync_commands()
        self._spawn(self._sweep_forever())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def command_payload(self) -> list[dict[str, Any]]:
        """The command set as Discord receives it, translations included."""
        translator = self.tree.translator
        payload = []
        for command in self.tree.get_commands():
            if translator is not None:
                payload.append(await command.get_translated_payload(self.tree, translator))
            else:
                payload.append(command.to_dict(self.tree))
        return payload

    async def sync_commands(self) -> None:
        """Sync to the dev guild when set; globally only when the command set changed."""
        if self.settings.discord_dev_guild_id:
            guild = discord.Object(id=self.settings.discord_dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            log.info("commands synced to guild %s", guild.id)
            return
        payload = await self.command_payload()
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"command_hash:{self.application_id}"
        async with self.sessions.begin() as session:
            current = await session.get(BotState, key)
            if current is not None and current.value == digest:
                log.info("command set unchanged; not syncing")
                return
        await self.tree.sync()
        async with self.sessions.begin() as session:
            stmt = insert(BotState).values(key=key, value=digest)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[BotState.key],
                    set_={"value": digest, "updated_at": stmt.excluded.updated_at},
                )
            )
        log.info("commands synced globally (%d top-level)", len(payload))

    async def _sweep_forever(self) -> None:
        age = timedelta(minutes=self.settings.stale_generation_minutes)
        while not self.is_closed():
            try:
                failed = await sweep_stale(self.sessions, age)
                self.metrics.refunded(sum(1 for f in failed if f.refunded), source="sweep")
                if failed:
                    log.warning("failed and refunded %d stale generations", len(failed))
            except Exception:
                log.exception("stale generation sweep failed")
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    def gateway_connected(self) -> bool:
        """Whether every shard of this process is connected and the bot is ready."""
        return (
            self.is_ready()
            and not self.is_closed()
            and all(not shard.is_closed() for shard in self.shards.values())
        )

    # -- per interaction ----------------------------------------------------------------------

    def known_user_id(self, discord_id: int) -> str | None:
        """The user id of a member seen before by this process (ids never change)."""
        return self._user_ids.get(discord_id)

    def remember_user_id(self, discord_id: int, user_id: str) -> None:
        """Cache a member's user id (bounded; cleared when full)."""
        if len(self._user_ids) >= USER_ID_CACHE_SIZE:
            self._user_ids.clear()
        self._user_ids[discord_id] = user_id

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Note when the interaction arrived (for its log line's duration)."""
        started(interaction)

    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: Any
    ) -> None:
        """A command returned without error: its interaction ends well."""
        finished(interaction, "ok")

    async def caller(self, interaction: discord.Interaction[Any]) -> Caller:
        """The member's user row (created on first use) and reply language, once per interaction."""
        cached = interaction.extras.get("caller")
        if isinstance(cached, Caller):
            return cached
        member = interaction.user
        async with self.reads() as session:
            found = await get_member_with_notices(session, member.id)
        if found is None:  # first use: create the row
            async with self.sessions.begin() as session:
                user = await get_or_create_user(
                    session,
                    member.id,
                    username_hint=member.name,
                    display_name=member.display_name,
                    avatar_url=member.display_avatar.url if member.avatar else None,
                    daily_quota=self.settings.quota_for_tier("FREE"),
                    language=choose_language(None, interaction.locale),
                )
            waiting = False
        else:
            user, waiting = found
        caller = Caller(
            user=user,
            lang=choose_language(user.preferred_language, interaction.locale),
            has_notices=waiting,
        )
        self.remember_user_id(member.id, user.id)
        interaction.extras["caller"] = caller
        interaction.extras["lang"] = caller.lang
        return caller

    def character_buttons(self) -> CharacterButtonHandler:
        """The cog that handles character buttons."""
        cog = self.get_cog("Characters")
        if cog is None:  # pragma: no cover - loaded in setup_hook
            msg = "the characters cog is not loaded"
            raise RuntimeError(msg)
        return cog  # type: ignore[return-value]

    # -- hooks the cogs share --------------------------------------------------------------

    async def delete_objects(self, keys: list[str] | tuple[str, ...]) -> None:
        """Delete stored images after their rows are gone (failures are logged, not raised)."""
        await delete_quietly(self.storage, keys)

    async def after_publish_change(
        self, interaction: discord.Interaction[Any], character: Character
    ) -> None:
        """Keep the guild's showcase channel in step with a character's public flag."""
        from bot.showcase import sync_showcase

        lang = choose_language(None, interaction.guild_locale)
        await sync_showcase(self, interaction.guild_id, character, lang)

    async def export_character(
        self, interaction: discord.Interaction[Any], character_id: str
    ) -> None:
        """Send a character as JSON and as a PNG Character Card V2."""
        from bot.export import send_export

        await send_export(self, interaction, character_id)

    # -- shutdown ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Let running generations finish (or fail and refund them) and be posted, and
        acknowledged interactions get their answers, then disconnect."""
        grace = self.settings.shutdown_grace_seconds
        await asyncio.gather(
            self.pipeline.drain(grace),
            self.admission.drain(grace),
            self.flows.drain(grace + FLOW_FINISH_SECONDS),
        )
        for task in list(self._background):
            task.cancel()
        await super().close()


@contextlib.asynccontextmanager
async def open_bot(settings: Settings, database_url: str) -> AsyncIterator[CharBot]:
    """Build every resource the bot needs and close them all on exit."""
    point_discord_at(settings)
    engine = make_engine(
        database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    client: genai.Client | None = None
    rate_limit = None
    if settings.gemini_requests_per_minute and not settings.offline_generation:
        rate_limit = SharedRateLimit(
            engine,
            budget=settings.gemini_requests_per_minute,
            window=settings.gemini_rate_window_seconds,
        )
    try:
        if not settings.offline_generation:
            client = make_genai_client(settings)
        optimizer, images = build_providers(
            settings, client, retry_gate=rate_limit.acquire if rate_limit is not None else None
        )
        async with open_storage(settings) as storage:
            bot = CharBot(
                settings=settings,
                sessions=make_session_factory(engine),
                reads=make_read_session_factory(engine),
                storage=storage,
                optimizer=optimizer,
                images=images,
                catalog=Catalog.load(),
                rate_limit=rate_limit,
            )
            async with bot:
                if bot.ops is not None:
                    await bot.ops.start()
                try:
                    yield bot
                finally:
                    if bot.ops is not None:
                        await bot.ops.stop()
    finally:
        if client is not None:
            await client.aio.aclose()
            client.close()
        await engine.dispose()


async def run_bot(settings: Settings, database_url: str) -> int:
    """Run until SIGINT/SIGTERM; every resource is closed on the way out."""
    async with open_bot(settings, database_url) as bot:
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, lambda: stopping.append(loop.create_task(bot.close())))
        freeze_startup_heap()
        try:
            await bot.start(settings.require_token())
        finally:
            for task in stopping:
                await task
    return 0
