"""The composition root: builds the engine, storage, providers and pipeline, and the bot."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands
from google import genai

from bot.config import Settings
from bot.i18n import Catalog, CatalogTranslator
from bot.interactions.admission import Admission, InFlight
from bot.interactions.deps import Deps
from bot.interactions.notices import deliver_notices
from bot.interactions.observe import AckTimer, finished, started
from bot.interactions.platform import PlatformModerators
from bot.interactions.tree import CharTree
from bot.interactions.users import UserIds
from bot.ops.eventloop import freeze_startup_heap
from bot.ops.health import OpsServer
from bot.ops.invite import invite_url, user_install_url
from bot.ops.metrics import BotMetrics
from bot.providers.base import ImageProvider, LikenessJudge, PromptOptimizer
from bot.providers.factory import (
    build_likeness_judge,
    build_providers,
    gemini_session,
    make_genai_client,
)
from bot.services import botstate
from bot.services.generation import GenerationPipeline
from bot.services.generation.records import sweep_stale
from bot.services.generation.slots import GenerationSlots, accepting_at_once
from bot.services.member_cache import MemberListener
from bot.services.member_data import sweep_leftovers
from bot.services.ratelimit import SharedRateLimit
from bot.storage.base import Storage
from bot.storage.factory import open_storage
from bot.workers import take_jobs
from db.engine import Database, make_engine

log = logging.getLogger(__name__)

# At shutdown, beyond the generations' own grace: the time a generating flow gets to post what
# it made (card, thread, welcome), or to tell the member their unit came back.
FLOW_FINISH_SECONDS = 10.0

EXTENSIONS = (
    "cogs.characters",
    "cogs.themes",
    "cogs.account",
    "cogs.gallery",
    "cogs.remix",
    "cogs.moderation",
    "cogs.collections",
    "cogs.help",
    "cogs.scenes",
    "cogs.conversation.listener",
)


def gateway_intents(settings: Settings) -> discord.Intents:
    """Guilds, guild and DM messages (not privileged: a message that mentions the bot, or is
    in a DM, carries its content); Message Content only when the operator enabled it."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = settings.message_content_intent
    return intents


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic to the configured URLs (a proxy, or the local fake)."""
    discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def build_deps(
    settings: Settings,
    db: Database,
    storage: Storage,
    optimizer: PromptOptimizer,
    images: ImageProvider,
    catalog: Catalog,
    rate_limit: SharedRateLimit | None = None,
    likeness: LikenessJudge | None = None,
) -> Deps:
    """Everything the features use, wired once."""
    metrics = BotMetrics()
    pipeline = GenerationPipeline(
        db,
        storage,
        optimizer,
        images,
        slots=GenerationSlots(max(1, settings.generation_concurrency)),
        text_model=settings.gemini_text_model,
        image_model=settings.gemini_image_model,
        rate_limit=rate_limit,
        metrics=metrics,
        settle_within=settings.stale_generation_minutes * 60.0,
        accepting_at_once=accepting_at_once(settings.database_pool_size),
        likeness=likeness,
        likeness_threshold=settings.consistency_threshold,
    )
    admission = Admission(settings.database_pool_size)
    metrics.track_database(lambda: db.outage.down, lambda: db.outage.seconds)
    metrics.track_queues(
        lambda: pipeline.slots.waiting,
        lambda: rate_limit.waiting if rate_limit else 0,
        lambda: admission.waiting,
    )
    return Deps(
        settings=settings,
        db=db,
        storage=storage,
        catalog=catalog,
        pipeline=pipeline,
        metrics=metrics,
        admission=admission,
        flows=InFlight(),
        users=UserIds(),
        platform_moderators=PlatformModerators(settings.platform_moderator_id_set),
    )


class CharBot(commands.AutoShardedBot):
    """The bot: sharded, no privileged intent unless configured, never pings anyone."""

    def __init__(
        self,
        deps: Deps,
        *,
        extensions: tuple[str, ...] = EXTENSIONS,
        database_url: str | None = None,
    ) -> None:
        settings = deps.settings
        metrics = deps.metrics
        ack_timer = AckTimer(metrics)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=gateway_intents(settings),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=CharTree,
            help_command=None,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_id_list,  # type: ignore[arg-type]  # None = all shards
            http_trace=ack_timer.trace,
        )
        self.deps = deps
        metrics.track_gateway(lambda: self.latencies)
        self.ops: OpsServer | None = None
        if settings.metrics_port is not None:
            self.ops = OpsServer(
                metrics,
                gateway_connected=self.gateway_connected,
                database_ok=deps.db.answers,
                outage=deps.db.outage,
                host=settings.metrics_host,
                port=settings.metrics_port,
            )
        self._extensions = extensions
        self._database_url = database_url
        self._background: set[asyncio.Task[Any]] = set()
        self._invite_logged = False

    # -- start-up ---------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        await self.tree.set_translator(CatalogTranslator(self.deps.catalog))
        await self._learn_platform_moderators()
        for extension in self._extensions:
            await self.load_extension(extension)
        await self.sync_commands()
        self._spawn(self._sweep_forever())
        # members are read from memory while this listens for their changes (see the module)
        self._spawn(MemberListener.on(self.deps.db.engine, self.deps.members).run())
        if self._database_url is not None:  # generations go through the queue in PostgreSQL
            self._spawn(take_jobs(self, self.deps, self._database_url))

    async def _learn_platform_moderators(self) -> None:
        """The application's owner and team moderate the platform (with the configured ids)."""
        try:
            info = await self.application_info()
        except discord.HTTPException as error:
            log.warning(
                "could not read the application info (%s); platform moderators are "
                "PLATFORM_MODERATOR_IDS only",
                error.status,
            )
            return
        self.deps.platform_moderators.learn(info)

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
        """Sync to the dev guild when set; globally only when the command set changed. The
        ids Discord gives the commands are kept for mentions (fetched when not syncing)."""
        command_ids = self.deps.command_ids
        if self.deps.settings.discord_dev_guild_id:
            guild = discord.Object(id=self.deps.settings.discord_dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            command_ids.learn(await self.tree.sync(guild=guild))
            log.info("commands synced to guild %s", guild.id)
            return
        payload = await self.command_payload()
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"command_hash:{self.application_id}"
        if await botstate.get_value(self.deps.db, key) == digest:
            log.info("command set unchanged; not syncing")
            await command_ids.ensure(self.tree, None)
            return
        command_ids.learn(await self.tree.sync())
        await botstate.set_value(self.deps.db, key, digest)
        log.info("commands synced globally (%d top-level)", len(payload))

    async def _sweep_forever(self) -> None:
        age = timedelta(minutes=self.deps.settings.stale_generation_minutes)
        while not self.is_closed():
            try:
                failed = await sweep_stale(self.deps.db, age)
                self.deps.metrics.refunded(sum(1 for f in failed if f.refunded), source="sweep")
                if failed:
                    log.warning("failed and refunded %d stale generations", len(failed))
            except Exception as error:  # an outage is logged once, by the database handle
                if not self.deps.db.outage.saw(error):
                    log.exception("stale generation sweep failed")
            try:
                done, failing = await sweep_leftovers(self.deps.db, self.deps.storage)
                if done or failing:
                    log.info("storage deletions: %d done, %d still failing", done, failing)
            except Exception as error:
                if not self.deps.db.outage.saw(error):
                    log.exception("storage deletion sweep failed")
            await asyncio.sleep(self.deps.settings.sweep_interval_seconds)

    async def on_ready(self) -> None:
        """In no server yet (a fresh install): say how to invite the bot, once. (A process
        serving only some shards cannot tell, so it says nothing.)"""
        if self.guilds or self.application_id is None or self._invite_logged:
            return
        if self.deps.settings.shard_id_list is not None:
            return
        self._invite_logged = True
        log.info(
            "The bot is in no server yet. Invite it with %s (or install it to your own account "
            "with %s)",
            invite_url(self.application_id),
            user_install_url(self.application_id),
        )

    def gateway_connected(self) -> bool:
        """Whether every shard of this process is connected and the bot is ready."""
        return (
            self.is_ready()
            and not self.is_closed()
            and all(not shard.is_closed() for shard in self.shards.values())
        )

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: messages are the conversation feature's (its own listener), so
        the default command processing, which would log every mention as an unknown command,
        is left out."""

    # -- per interaction ----------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Note when the interaction arrived (for its log line's duration)."""
        started(interaction)

    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: Any
    ) -> None:
        """A command returned without error: its interaction ends well; then the member sees
        the notices a DM could not deliver."""
        finished(interaction, "ok")
        try:
            await deliver_notices(interaction)
        except Exception:
            log.exception("delivering notices failed for user=%s", interaction.user.id)

    # -- shutdown ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Let running generations finish (or fail and refund them) and be posted, and
        acknowledged interactions get their answers, then disconnect."""
        grace = self.deps.settings.shutdown_grace_seconds
        await asyncio.gather(
            self.deps.pipeline.drain(grace),
            self.deps.admission.drain(grace),
            self.deps.flows.drain(grace + FLOW_FINISH_SECONDS),
        )
        for task in list(self._background):
            task.cancel()
        await super().close()


@contextlib.asynccontextmanager
async def open_deps(settings: Settings, database_url: str) -> AsyncIterator[Deps]:
    """Build every resource a bot or a worker needs and close them all on exit."""
    point_discord_at(settings)
    # every connection the pool may open is kept once opened: an overflow connection closed
    # when it came back was opened again at the next burst (a new PostgreSQL backend each time,
    # ~100 in 10 s at 200 interactions/s), costing both processes CPU right when they were busy
    engine = make_engine(
        database_url,
        pool_size=settings.database_pool_size + settings.database_max_overflow,
        max_overflow=0,
    )
    client: genai.Client | None = None
    session: aiohttp.ClientSession | None = None
    rate_limit = None
    if settings.gemini_requests_per_minute and not settings.offline_generation:
        rate_limit = SharedRateLimit(
            engine,
            budget=settings.gemini_requests_per_minute,
            window=settings.gemini_rate_window_seconds,
        )
    try:
        if not settings.offline_generation:
            session = gemini_session(settings)
            client = make_genai_client(settings, session)
        retry_gate = rate_limit.acquire if rate_limit is not None else None
        optimizer, images = build_providers(settings, client, retry_gate=retry_gate)
        likeness = build_likeness_judge(settings, client, retry_gate=retry_gate)
        async with open_storage(settings) as storage:
            yield build_deps(
                settings,
                Database.on(engine),
                storage,
                optimizer,
                images,
                Catalog.load(),
                rate_limit,
                likeness,
            )
    finally:
        if client is not None:
            await client.aio.aclose()
            client.close()
        if session is not None:
            await session.close()
        await engine.dispose()


@contextlib.asynccontextmanager
async def open_bot(settings: Settings, database_url: str) -> AsyncIterator[CharBot]:
    """The bot with every resource it needs, all closed on exit."""
    async with open_deps(settings, database_url) as deps:
        bot = CharBot(deps, database_url=database_url)
        async with bot:
            if bot.ops is not None:
                await bot.ops.start()
            try:
                yield bot
            finally:
                if bot.ops is not None:
                    await bot.ops.stop()


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
