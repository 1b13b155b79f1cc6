"""Run the migrations from code, adopting a database the platform already created."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

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


# pg_advisory_lock key held while migrating ("charbot" in ASCII): every process that migrates
# the same database waits for the one before it, then finds the schema already at head.
MIGRATION_LOCK_KEY = 0x63686172626F74


def _state(connection: Connection) -> DatabaseState:
    """Which tables exist, read on ``connection``."""
    rows = connection.execute(
        text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    )
    names = {row[0] for row in rows}
    return DatabaseState(
        has_alembic_version="alembic_version" in names,
        platform_tables=frozenset(names & set(PLATFORM_TABLES)),
    )


def _revision(connection: Connection) -> str | None:
    """The revision ``connection``'s database is at, or None when it was never migrated."""
    if connection.scalar(text("SELECT to_regclass('public.alembic_version')")) is None:
        return None
    version = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return None if version is None else str(version)


class AdoptionError(RuntimeError):
    """The database holds part of the platform schema and no migration history."""


@dataclass(frozen=True)
class Migration:
    """What one ``migrate`` call did: ``adopted`` or ``upgraded``, and the revisions around it
    (read while holding the migration lock, so a process that waited sees the schema the one
    before it left)."""

    action: str
    before: str | None
    after: str | None


def _migrate_locked(connection: Connection, database_url: str) -> Migration:
    """Adopt or upgrade, on ``connection``, which holds the migration lock."""
    state = _state(connection)
    before = _revision(connection)
    connection.commit()  # alembic runs its own transaction on this connection
    if state.is_partial:
        missing = sorted(set(PLATFORM_TABLES) - state.platform_tables)
        msg = (
            "The database has some of the platform's tables but not all (missing: "
            + ", ".join(missing)
            + ") and no alembic_version table. Fix the schema by hand, then run "
            f"`alembic stamp {BASELINE_REVISION}` and `charbot migrate`."
        )
        raise AdoptionError(msg)
    config = alembic_config(database_url)
    config.attributes["connection"] = connection
    action = "upgraded"
    if state.is_platform_database:
        log.info("adopting an existing platform database: stamping %s", BASELINE_REVISION)
        command.stamp(config, BASELINE_REVISION)
        action = "adopted"
    command.upgrade(config, "head")
    after = _revision(connection)
    connection.commit()
    return Migration(action=action, before=before, after=after)


async def _migrate(database_url: str) -> Migration:
    # NullPool: the connection really closes at the end, so a failed migration (which skips
    # the unlock) still releases the lock, with the session that held it.
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            lock = {"key": MIGRATION_LOCK_KEY}
            if not await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), lock):
                log.info("another process is migrating this database: waiting for it to finish")
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), lock)
            await conn.commit()
            done = await conn.run_sync(_migrate_locked, database_url)
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
            await conn.commit()
            return done
    finally:
        await engine.dispose()


def migrate(database_url: str) -> Migration:
    """Bring the database to the newest revision, one process at a time.

    The work runs on one connection that holds a PostgreSQL advisory lock
    (``MIGRATION_LOCK_KEY``) throughout, so several processes starting at once (a fleet of
    shards, ``charbot run --migrate`` beside ``charbot migrate``) migrate the schema once: the
    first does it, the others wait for it and then find nothing left to do.

    A database created by the platform's DDL (all eight tables, no ``alembic_version``) is
    adopted: the baseline revision is stamped, not run, then later revisions apply.

    Raises:
        AdoptionError: only some platform tables exist and there is no migration history.
    """
    return asyncio.run(_migrate(database_url))


def upgrade(database_url: str) -> str:
    """``migrate``, returning only what was done: ``adopted`` or ``upgraded``."""
    return migrate(database_url).action


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
                return await conn.run_sync(_revision)
        finally:
            await engine.dispose()

    return asyncio.run(_read())
