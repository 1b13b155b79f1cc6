"""Shared fixtures: one real PostgreSQL database per test run, built by the migrations.

TEST_DATABASE_URL names a server to use (CI points it at the machine's PostgreSQL); a scratch
database is created on it for the run and dropped afterwards. Without it, an embedded
PostgreSQL is started under ``.pytest_cache``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import SessionFactory, make_engine, make_session_factory
from db.migrate import upgrade
from tests.dbutil import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ALL_TABLES = (
    "character_collection_items",
    "character_collections",
    "theme_variants",
    "character_themes",
    "generations",
    "characters",
    "user_profiles",
    "users",
)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server (any database on it) that tests may create databases on."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        if configured.startswith(("postgresql://", "postgres://")):
            configured = "postgresql+asyncpg://" + configured.split("://", 1)[1]
        yield configured
        return
    from db.embedded import embedded_postgres

    with embedded_postgres(ROOT / ".pytest_cache" / "embedded-pg", database="postgres") as url:
        yield url


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A scratch database migrated to head once for the whole run."""
    url = await create_database(server_url)
    await asyncio.to_thread(upgrade, url)
    yield url
    await drop_database(server_url, url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The engine of the run's database."""
    eng = make_engine(database_url, pool_size=20, max_overflow=60)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        sess = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield sess
        finally:
            await sess.close()
            await trans.rollback()


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table (for tests that commit through several connections)."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(ALL_TABLES)} CASCADE"))


@pytest.fixture
async def session_factory(engine: AsyncEngine) -> AsyncIterator[SessionFactory]:
    """A real session factory whose commits are visible to other connections; the tables are
    emptied after the test."""
    yield make_session_factory(engine)
    await truncate_all(engine)


@contextlib.asynccontextmanager
async def fresh_factory(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on another database, disposed at the end."""
    eng = make_engine(url)
    try:
        yield make_session_factory(eng)
    finally:
        await eng.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many requests of the end-to-end suite broke Discord's OpenAPI spec or limits."""
    from tests.e2e import VIOLATIONS
    from tests.fakes.discord.openapi import find_spec

    checked = "validated against Discord's OpenAPI spec" if find_spec() else "spec absent"
    terminalreporter.write_line(
        f"Discord request violations in the end-to-end suite: {len(VIOLATIONS)} ({checked})"
    )
    for violation in VIOLATIONS[:20]:
        terminalreporter.write_line(f"  {violation}")
