"""Where the database is: DATABASE_URL, or the embedded server under DATA_DIR."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from db.embedded import EmbeddedServerError, embedded_postgres


@contextlib.contextmanager
def database_url(configured: str | None, data_dir: Path) -> Iterator[str]:
    """Yield the configured URL, or start the embedded server for the duration of the block.

    The commands use this: when the embedded server cannot start (its data folder was made by
    another PostgreSQL major, say), the reason and its remedy go to stderr and the process
    exits with status 2, with no traceback.
    """
    if configured:
        yield configured
        return
    try:
        with embedded_postgres(data_dir) as url:
            yield url
    except EmbeddedServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
