"""What each interaction did: one structured log line and the interaction counter when it ends,
and the acknowledgement latency, measured where the first response leaves the process.

An interaction ends in exactly one of three places: a command completed (discord.py's
``app_command_completion`` event), an action wrapped in ``replies.reporting`` returned, or
``replies.report_error`` answered an error (refused for domain errors, error otherwise).
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands

from bot.errors import (
    DatabaseUnavailableError,
    GenerationError,
    GenerationSavedError,
    StorageError,
)
from bot.interactions.deps import Deps

if TYPE_CHECKING:
    from bot.ops.metrics import BotMetrics

log = logging.getLogger("bot.interactions")

_CALLBACK_PATH = re.compile(r"/interactions/(\d+)/[^/]+/callback$")
_VOLATILE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d{3,}"
)
_STARTED = "observe_started"
_DONE = "observe_done"
MAX_PENDING_ACKS = 10_000


def started(interaction: discord.Interaction[Any]) -> None:
    """Note when the bot received the interaction (from the ``interaction`` event)."""
    interaction.extras.setdefault(_STARTED, time.perf_counter())


def describe(interaction: discord.Interaction[Any]) -> tuple[str, str | None]:
    """The command's qualified name, or the component/modal custom_id (with ids as ``*`` for
    the metric label) — and the full custom_id for the log."""
    if interaction.command is not None:
        return interaction.command.qualified_name, None
    data: Any = interaction.data or {}
    custom_id = data.get("custom_id") if isinstance(data, dict) else None
    if isinstance(custom_id, str):
        return _VOLATILE.sub("*", custom_id), custom_id
    return interaction.type.name, None


def outcome_of(error: BaseException, *, expected: bool) -> str:
    """``refused`` for what the member is told is not allowed or not possible (quota, owner,
    input, permissions); ``error`` for failures: the provider or storage, or anything
    unexpected (``expected`` is False)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if not expected or isinstance(
        error, GenerationError | StorageError | DatabaseUnavailableError | GenerationSavedError
    ):
        return "error"
    return "refused"


def finished(interaction: discord.Interaction[Any], outcome: str) -> None:
    """Count the interaction and log its one line (the first call wins; later ones are
    ignored, so overlapping hooks cannot count an interaction twice)."""
    if interaction.extras.get(_DONE) or interaction.type is discord.InteractionType.autocomplete:
        return
    interaction.extras[_DONE] = outcome
    began = interaction.extras.get(_STARTED)
    if isinstance(began, float):
        duration = time.perf_counter() - began
    else:
        duration = (datetime.now(UTC) - interaction.created_at).total_seconds()
    duration_ms = max(0, round(duration * 1000))
    label, custom_id = describe(interaction)
    deps = getattr(interaction.client, "deps", None)
    if isinstance(deps, Deps):  # a bot built without its dependencies counts nothing
        deps.metrics.interactions.labels(label, outcome).inc()
    log.info(
        "interaction %s user=%s guild=%s outcome=%s duration_ms=%d",
        custom_id or label,
        interaction.user.id,
        interaction.guild_id,
        outcome,
        duration_ms,
        extra={
            "event": "interaction",
            "interaction_id": interaction.id,
            "command": label if custom_id is None else None,
            "custom_id": custom_id,
            "user_id": interaction.user.id,
            "guild_id": interaction.guild_id,
            "outcome": outcome,
            "duration_ms": duration_ms,
        },
    )


class AckTimer:
    """An aiohttp trace that observes, for each interaction callback the bot sends, the time
    since the interaction was created (its snowflake), once per interaction."""

    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics
        self._seen: OrderedDict[int, None] = OrderedDict()
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._on_end)

    async def _on_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        match = _CALLBACK_PATH.search(params.url.path)
        if match is None or params.response.status >= 400:
            return
        interaction_id = int(match.group(1))
        if interaction_id in self._seen:
            return
        self._seen[interaction_id] = None
        while len(self._seen) > MAX_PENDING_ACKS:
            self._seen.popitem(last=False)
        created = discord.utils.snowflake_time(interaction_id)
        latency = (datetime.now(UTC) - created).total_seconds()
        self._metrics.ack_latency.observe(max(0.0, latency))
