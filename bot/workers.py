"""Generation workers, wired: the one inside ``charbot run`` (unless GENERATION_CONCURRENCY is
0) and ``charbot worker``, a process with no gateway connection that takes generation jobs from
the same PostgreSQL queue and posts their results through Discord's REST API."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import Coroutine
from typing import Any

import discord
from sqlalchemy.engine import make_url

from bot.interactions.delivery import ResultPoster
from bot.interactions.deps import Deps
from bot.ops.health import OpsServer
from bot.services.jobs.queue import JobQueue
from bot.services.jobs.remake import remake
from bot.services.jobs.store import TakenUp, queue_stats
from bot.services.jobs.worker import GenerationWorker

log = logging.getLogger(__name__)

PROCESS_ID = uuid.uuid4().hex
"""This process, as the jobs it accepts record it."""
QUEUE_READ_SECONDS = 15.0
FEATURES_POSTED = ("cogs.characters",)
"""The features whose ``provide(deps)`` a ``charbot worker`` (which loads no cog) calls, by
name as the bot loads its extensions: what it posts needs theirs (a card's buttons)."""


def worker_name() -> str:
    """The worker's name in logs and metrics: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def queue_dsn(database_url: str) -> str:
    """The database URL as asyncpg's own connect takes it (the queue's connection)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def build_worker(client: discord.Client, deps: Deps, database_url: str) -> GenerationWorker:
    """The worker of this process, posting through ``client``."""
    pipeline = deps.pipeline
    settings = deps.settings

    async def make_again(found: TakenUp) -> object:
        return await remake(pipeline, found)

    worker = GenerationWorker(
        deps.db,
        pipeline.runner,
        pipeline.queue.waiters,
        dsn=queue_dsn(database_url),
        name=worker_name(),
        process_id=PROCESS_ID,
        remake=make_again,
        deliver=ResultPoster(
            client, deps.db, deps.storage, deps.catalog, buttons=deps.provided.card_buttons
        ),
        concurrency=max(1, settings.generation_concurrency),
        heartbeat_seconds=settings.job_heartbeat_seconds,
        max_attempts=settings.generation_max_attempts,
        metrics=deps.metrics,
    )
    pipeline.worker = worker
    return worker


def take_jobs(client: discord.Client, deps: Deps, database_url: str) -> Coroutine[Any, Any, None]:
    """Generations go through the PostgreSQL queue; this process's worker takes them up
    (unless GENERATION_CONCURRENCY is 0: ``charbot worker`` processes do). Returns the
    queue's watcher, to run in the background."""
    pipeline = deps.pipeline
    has_worker = deps.settings.generation_concurrency > 0
    pipeline.runner.queue = JobQueue(
        deps.db,
        process_id=PROCESS_ID,
        has_worker=has_worker,
        worker_busy=lambda: pipeline.worker is not None and pipeline.worker.busy,
    )
    if has_worker:
        build_worker(client, deps, database_url).start(pipeline.runner.queue)
    return watch_queue(deps)


async def watch_queue(deps: Deps) -> None:
    """Read the queue's depth, running jobs and oldest wait into the metrics, now and then."""
    while True:
        try:
            stats = await queue_stats(deps.db)
            deps.metrics.job_queue_read(stats.depth, stats.running, stats.oldest_seconds)
        except Exception as error:  # an outage is logged once, by the database handle
            if not deps.db.outage.saw(error):
                log.exception("reading the generation queue failed")
        await asyncio.sleep(QUEUE_READ_SECONDS)


async def run_worker(deps: Deps, database_url: str) -> int:
    """``charbot worker``: take generation jobs until SIGINT/SIGTERM, then finish or give back
    the running ones within the grace period."""
    settings = deps.settings
    client = discord.Client(intents=discord.Intents(guilds=True))  # REST only: no gateway
    await client.login(settings.require_token())
    deps.pipeline.runner.queue = JobQueue(deps.db, process_id=PROCESS_ID, has_worker=True)
    for feature in FEATURES_POSTED:
        importlib.import_module(feature).provide(deps)
    worker = build_worker(client, deps, database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    ops = None
    if settings.metrics_port is not None:  # /metrics and /healthz (no gateway to be down)
        ops = OpsServer(
            deps.metrics,
            gateway_connected=lambda: True,
            database_ok=deps.db.answers,
            outage=deps.db.outage,
            host=settings.metrics_host,
            port=settings.metrics_port,
        )
        await ops.start()
    watching = asyncio.create_task(watch_queue(deps))
    worker.start()
    log.info("worker %s taking generation jobs (%d at a time)", worker.name, worker.concurrency)
    try:
        await stop.wait()
    finally:
        log.info("worker %s stopping", worker.name)
        await worker.drain(settings.shutdown_grace_seconds)
        watching.cancel()
        if ops is not None:
            await ops.stop()
        await client.close()
    log.info("worker %s took %d jobs", worker.name, worker.taken)
    return 0
