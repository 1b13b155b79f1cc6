"""The dependencies object: everything the features use, built once by the composition root
(``bot.app``) and handed to every cog; buttons and modals reach it through the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.i18n import Catalog
from bot.interactions.admission import Admission, InFlight
from bot.interactions.command_ids import CommandIds
from bot.interactions.delivery import Buttons
from bot.interactions.platform import PlatformModerators
from bot.interactions.users import UserIds
from bot.ops.metrics import BotMetrics
from bot.services.generation import GenerationPipeline
from bot.services.member_cache import MemberCache
from bot.storage.base import Storage
from db.engine import Database


@dataclass
class Provided:
    """What features hand to the rest of the bot when they are set up (also where no cog runs:
    ``charbot worker`` calls their ``provide``)."""

    card_buttons: Buttons | None = None
    """The buttons under a character's card (``cogs.characters``): a worker posts a remade
    portrait's card with them."""


@dataclass(frozen=True)
class Deps:
    """What a feature may use. The database is only ever handed on to a use case
    (``bot.services``), which opens its own short unit of work on it."""

    settings: Settings
    db: Database
    storage: Storage
    catalog: Catalog
    pipeline: GenerationPipeline
    metrics: BotMetrics
    admission: Admission
    """Deferred interactions doing their work at once: as many as pooled connections."""
    flows: InFlight
    """Generating flows that shutdown lets post what they made."""
    users: UserIds
    """Members' user ids seen by this process (ids never change)."""
    command_ids: CommandIds = field(default_factory=CommandIds)
    """The slash commands' ids, for mentions (learned at sync, or fetched once)."""
    platform_moderators: PlatformModerators = field(default_factory=PlatformModerators)
    """Who may moderate the whole platform (configured ids; owner and team learned at start)."""
    members: MemberCache = field(default_factory=MemberCache)
    """Members as last read, used while the bot listens for their changes (unused, so every
    interaction reads its member, until a listener runs: ``bot.app``)."""
    provided: Provided = field(default_factory=Provided)
    """What the features handed in when they were set up."""


def deps_of(client: Any) -> Deps:
    """The dependencies of the bot an interaction arrived on (``interaction.client``)."""
    deps = getattr(client, "deps", None)
    if not isinstance(deps, Deps):  # pragma: no cover - every CharBot carries them
        msg = "this client carries no dependencies"
        raise TypeError(msg)
    return deps
