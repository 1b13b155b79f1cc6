"""Run the migrations from code, adopting a database the platform already created."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

log = logging.getLogger(__name__)

BASELINE_REVISION = "0001"
PLATFORM_TABLES = (
    "users",
    "user_profiles",
    "characters",
    "character_themes",
    "theme_variants",
    "generations",
    "character_collections",
    "character_collection_items",
)
_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    """An alembic configuration pointing at the packaged migrations and ``database_url``."""
    ini = _ROOT / "alembic.ini"
    config = Config(str(ini)) if ini.exists() else Config()
    config.set_main_option("script_location", str(_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


@dataclass(frozen=True)
class DatabaseState:
    """What the database holds before migrating."""

    has_alembic_version: bool
    platform_tables: frozenset[str]

    @property
    def is_platform_database(self) -> bool:
        """Built by the platform's DDL (all its tables), never migrated by the bot."""
        return not self.has_alembic_version and self.platform_tables == frozenset(PLATFORM_TABLES)

    @property
    def is_partial(self) -> bool:
        """Some platform tables but not all, and no migration history: unsafe to touch."""
        return not self.has_alembic_version and 0 < len(self.platform_tables) < len(PLATFORM_TABLES)


async def inspect_database(database_url: str) -> DatabaseState:
    """Look at which tables exist."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            )
            names = {row[0] for row in rows}
    finally:
        await engine.dispose()
    return DatabaseState(
        has_alembic_version="alembic_version" in names,
        platform_tables=frozenset(names & set(PLATFORM_TABLES)),
    )


class AdoptionError(RuntimeError):
    """The database holds part of the platform schema and no migration history."""


def upgrade(database_url: str) -> str:
    """Bring the database to the newest revision; returns what was done.

    A database created by the platform's DDL (all eight tables, no ``alembic_version``) is
    adopted: the baseline revision is stamped, not run, then later revisions apply.

    Raises:
        AdoptionError: only some platform tables exist and there is no migration history.
    """
    state = asyncio.run(inspect_database(database_url))
    config = alembic_config(database_url)
    action = "upgraded"
    if state.is_partial:
        missing = sorted(set(PLATFORM_TABLES) - state.platform_tables)
        msg = (
            "The database has some of the platform's tables but not all (missing: "
            + ", ".join(missing)
            + ") and no alembic_version table. Fix the schema by hand, then run "
            f"`alembic stamp {BASELINE_REVISION}` and `charbot migrate`."
        )
        raise AdoptionError(msg)
    if state.is_platform_database:
        log.info("adopting an existing platform database: stamping %s", BASELINE_REVISION)
        command.stamp(config, BASELINE_REVISION)
        action = "adopted"
    command.upgrade(config, "head")
    return action


def head_revision(database_url: str) -> str | None:
    """The newest revision of the packaged migrations."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""

    async def _read() -> str | None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                exists = await conn.scalar(text("SELECT to_regclass('public.alembic_version')"))
                if exists is None:
                    return None
                version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
                return None if version is None else str(version)
        finally:
            await engine.dispose()

    return asyncio.run(_read())
