"""The benchmarks' database: a machine without a PostgreSQL server still runs them."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bench import common


async def test_a_benchmark_without_a_database_server_uses_the_embedded_one(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No BENCH_/TEST_DATABASE_URL and nothing on the default port: the scratch database is
    made, migrated and dropped on the embedded server, whose version the results record."""
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setattr(common, "DEFAULT_SERVER", "postgresql://postgres@127.0.0.1:9/postgres")
    monkeypatch.setattr(common, "EMBEDDED_DIR", data_dir / "pg")
    monkeypatch.setattr(common, "SERVER", {})
    async with common.scratch_database("charbot_bench_embedded") as url:
        assert "127.0.0.1:9" not in url
        conn = await asyncpg.connect(common.plain(url))
        try:
            assert await conn.fetchval("select count(*) from alembic_version") == 1
            assert await conn.fetchval("select to_regclass('public.characters')") is not None
        finally:
            await conn.close()
    assert common.SERVER["postgresql"][:2].isdigit()
    assert (data_dir / "pg" / "postgres" / "PG_VERSION").exists()
