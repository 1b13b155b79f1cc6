"""`charbot migrate` run by several processes at once migrates the schema once."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from db.migrate import MIGRATION_LOCK_KEY, head_revision
from tests.dbutil import catalog, create_database, drop_database, plain

ROOT = Path(__file__).resolve().parent.parent
DUPLICATE = re.compile(r"already exists|Duplicate|UniqueViolation|Traceback", re.IGNORECASE)


def start_migrate(database_url: str, cwd: Path) -> subprocess.Popen[str]:
    """``python -m bot migrate`` with only DATABASE_URL configured, started, not awaited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GEMINI_", "S3_"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


async def _versions(url: str) -> list[str]:
    conn = await asyncpg.connect(plain(url))
    try:
        return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await conn.close()


async def _assert_migrated_once(
    url: str, reference_url: str, results: list[tuple[int, str, str]]
) -> None:
    """Both exited 0 without a duplicate-object error; one migrated, the other found it done;
    alembic_version holds one row at head; the schema is the one a single migration builds."""
    head = head_revision(url)
    for code, out, err in results:
        assert code == 0, out + err
        assert not DUPLICATE.search(out + err), out + err
    outputs = sorted(out.strip() for _, out, _ in results)
    assert outputs[0] == f"Already up to date at {head} (the configured database).", outputs
    assert outputs[1] == f"Migrated the configured database from empty to {head}.", outputs
    assert await _versions(url) == [head]
    assert await catalog(url) == await catalog(reference_url)


async def test_two_migrate_processes_started_at_once_migrate_once(
    server_url, database_url, tmp_path
):
    """Two `charbot migrate` started together on a fresh database both succeed, and the
    schema is migrated once."""
    url = await create_database(server_url, prefix="charbot_lock")
    try:
        processes = [start_migrate(url, tmp_path) for _ in range(2)]
        results = await asyncio.gather(*(asyncio.to_thread(finish, p) for p in processes))
        await _assert_migrated_once(url, database_url, list(results))
    finally:
        await drop_database(server_url, url)


async def _waiting_for_the_lock(conn: asyncpg.Connection, database: str) -> int:
    """How many sessions wait for the migration lock in ``database``."""
    return await conn.fetchval(
        """
        SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = $1
          AND ((l.classid::bigint << 32) | l.objid::bigint) = $2
        """,
        database,
        MIGRATION_LOCK_KEY,
    )


async def test_processes_arriving_during_a_migration_wait_for_it(
    server_url, database_url, tmp_path
):
    """While the lock is held (as by a process in the middle of migrating), both processes wait
    for it; released, they take turns: the first migrates, the second finds nothing to do."""
    url = await create_database(server_url, prefix="charbot_lock")
    name = urlsplit(url).path.lstrip("/")
    holder = await asyncpg.connect(plain(url))
    processes: list[subprocess.Popen[str]] = []
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        processes = [start_migrate(url, tmp_path) for _ in range(2)]
        deadline = time.monotonic() + 90
        while await _waiting_for_the_lock(holder, name) < 2:
            exited = [p.poll() for p in processes if p.poll() is not None]
            assert not exited, f"a process ended without waiting for the lock: {exited}"
            assert time.monotonic() < deadline, "the processes never waited for the lock"
            await asyncio.sleep(0.1)
        assert await _versions_or_none(holder) is None  # nothing ran while the lock was held
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        results = await asyncio.gather(*(asyncio.to_thread(finish, p) for p in processes))
        await _assert_migrated_once(url, database_url, list(results))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        await holder.close()
        await drop_database(server_url, url)


async def _versions_or_none(conn: asyncpg.Connection) -> str | None:
    return await conn.fetchval("SELECT to_regclass('public.alembic_version')::text")
