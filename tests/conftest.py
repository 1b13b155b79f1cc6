"""Shared fixtures: one real PostgreSQL database per test run, built by the migrations.

TEST_DATABASE_URL names a server to use (CI points it at the machine's PostgreSQL); a scratch
database is created on it for the run and dropped afterwards. Without it, an embedded
PostgreSQL is started under ``.pytest_cache``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.ops.logs import SecretFilter
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
UNLINKED_TABLES = ("storage_deletions", "account_carryover", "pgqueuer", "pgqueuer_log")
"""Bot tables with no key to the ones above (so a cascade does not empty them)."""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A DATA_DIR the embedded server's own user can reach: when run as root, the server runs
    as an unprivileged user, and pytest's tmp_path lies under a root-only folder."""
    base = ROOT / ".pytest_cache"
    base.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="embedded-", dir=base))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server (any database on it) that tests may create databases on."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        if configured.startswith(("postgresql://", "postgres://")):
            configured = "postgresql+asyncpg://" + configured.split("://", 1)[1]
        yield configured
        return
    from db.embedded import POSTGRES_MAJOR, data_folder, embedded_postgres, folder_major

    scratch = ROOT / ".pytest_cache" / "embedded-pg"
    if folder_major(data_folder(scratch)) not in (None, POSTGRES_MAJOR):
        shutil.rmtree(data_folder(scratch))  # the suite's own scratch server, of another major
    with embedded_postgres(scratch, database="postgres") as url:
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
        await conn.execute(text(f"TRUNCATE {', '.join(ALL_TABLES + UNLINKED_TABLES)} CASCADE"))


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


# -- the whole suite's logs are scanned for secrets ----------------------------------------

INTERACTION_TOKEN_PREFIX = "aW50ZXJhY3Rpb24"  # base64 of "interaction", how tokens begin


class _SuiteSecretFilter(SecretFilter):
    """The production filter, kept up to date with the secrets of every bot the suite starts."""

    def __init__(self) -> None:
        super().__init__(())
        self._known = 0

    def filter(self, record: logging.LogRecord) -> bool:
        from tests.e2e import LOG_SECRETS

        if len(LOG_SECRETS) != self._known:
            self._known = len(LOG_SECRETS)
            self._secrets = sorted({s for s in LOG_SECRETS if len(s) >= 4}, key=len, reverse=True)
        return super().filter(record)


class _SuiteLogScan(logging.Handler):
    """Formats every record as the bot's own handler would (secret filter included) and keeps
    the lines that still hold a secret or an interaction token."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(_SuiteSecretFilter())
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines = 0
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        from tests.e2e import LOG_SECRETS

        line = self.format(record)
        self.lines += 1
        if INTERACTION_TOKEN_PREFIX in line or any(s in line for s in LOG_SECRETS if len(s) >= 8):
            self.leaks.append(line[:300])


LOG_SCAN = _SuiteLogScan()


@pytest.fixture(scope="session", autouse=True)
def scan_logs_for_secrets() -> Iterator[None]:
    """Every log record of the run passes the production secret filter and is scanned."""
    root = logging.getLogger()
    previous = root.level
    root.addHandler(LOG_SCAN)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(LOG_SCAN)
    root.setLevel(previous)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a log line kept a token or key."""
    if LOG_SCAN.leaks:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many requests of the end-to-end suite broke Discord's OpenAPI spec or limits,
    and what the log scan found."""
    from tests.e2e import LOG_SECRETS, VIOLATIONS
    from tests.openapi_spec import locate

    terminalreporter.write_line(
        f"Secret scan of the suite's logs: {LOG_SCAN.lines} lines, {len(LOG_SECRETS)} secrets, "
        f"{len(LOG_SCAN.leaks)} leaks"
    )
    for leak in LOG_SCAN.leaks[:10]:
        terminalreporter.write_line(f"  LEAK {leak}")

    spec = locate()
    checked = spec.source
    if spec.path:
        checked = f"validated against Discord's OpenAPI spec, {spec.source}"
    terminalreporter.write_line(
        f"Discord request violations in the end-to-end suite: {len(VIOLATIONS)} ({checked})"
    )
    for violation in VIOLATIONS[:20]:
        terminalreporter.write_line(f"  {violation}")

    _report_reruns(terminalreporter)


def _report_reruns(terminalreporter: pytest.TerminalReporter) -> None:
    """A test that failed and passed on its second try (``make test`` gives each one more,
    pytest-rerunfailures) is not hidden: its first failure's end is printed, to be mended."""
    reruns = terminalreporter.stats.get("rerun", [])
    if reruns:
        terminalreporter.write_line(
            f"Tests that failed once and were run again: {len(reruns)}", yellow=True
        )
    for report in reruns:
        lines = str(getattr(report, "longreprtext", "") or "").strip().splitlines()
        terminalreporter.write_line(f"  RERUN {report.nodeid}")
        for line in lines[-12:]:
            terminalreporter.write_line(f"    {line[:300]}")
