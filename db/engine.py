"""Async engine, session factories, and the Database handle the use cases are given."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from db.outage import Outage

SessionFactory = async_sessionmaker[AsyncSession]
log = logging.getLogger(__name__)
HEALTH_TIMEOUT_SECONDS = 2.0

# A pooled connection idle for longer than this is pinged before use. SQLAlchemy's own
# pre-ping costs asyncpg three round trips (BEGIN, ping, ROLLBACK) on every checkout; under
# load connections come back to the pool milliseconds before they are reused, and a
# connection that dies while in use invalidates the whole pool anyway.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "charbot_idle_since"


def without_nul(value: Any) -> Any:
    """``value`` with every NUL character taken out of its strings (lists, tuples and dicts
    walked). PostgreSQL text and jsonb cannot hold NUL, and a member can type one: left in, it
    fails the whole statement."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list | tuple):
        return type(value)(without_nul(v) for v in value)
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def _json(value: Any) -> str:
    return json.dumps(without_nul(value))


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> AsyncEngine:
    """An asyncpg engine that checks a connection which sat idle in the pool before handing it
    out, so a restarted database does not break the bot."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        json_serializer=_json,
    )
    pool = engine.sync_engine.pool

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _no_nul(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> tuple[str, Any]:
        return statement, without_nul(parameters)

    @event.listens_for(pool, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():  # the server hung up: no round trip
            raise exc.DisconnectionError
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < ping_after_idle:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:  # the pool replaces the connection and tries again
            raise exc.DisconnectionError from error

    return engine


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded values after commit (no lazy reload across awaits)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that only read: each statement runs on its own (autocommit), so a read costs
    one round trip instead of three (no BEGIN and ROLLBACK around it). Same pool as the
    engine's. Flushing a change through one is refused: writes belong in a transaction."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"),
        expire_on_commit=False,
        sync_session_class=ReadSession,
    )


class ReadSession(Session):
    """The synchronous session behind a read session."""


@event.listens_for(ReadSession, "before_flush")
def _refuse_writes(session: Session, flush_context: Any, instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        msg = "a read session cannot write; use a transaction (sessions.begin())"
        raise RuntimeError(msg)


class Database:
    """The one handle on the database that the use cases are given: short transactions
    (:meth:`transaction`) and single-statement reads (:meth:`read`) on one pool."""

    def __init__(self, writes: SessionFactory, reads: SessionFactory | None = None) -> None:
        self._writes = writes
        self._reads = reads if reads is not None else writes
        self.outage = Outage()
        """Whether the database can be reached, as this process has seen it lately."""

    @classmethod
    def on(cls, engine: AsyncEngine) -> Database:
        """Transactions and autocommit reads over ``engine``'s pool; a new connection ends an
        outage."""
        db = cls(make_session_factory(engine), make_read_session_factory(engine))
        watch_outages(engine, db.outage)
        return db

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session inside a transaction, committed on a clean exit, rolled back on error."""
        return self._writes.begin()

    def read(self) -> AsyncSession:
        """A session for reads only (``async with db.read() as session``)."""
        return self._reads()

    def statement(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for a write that is a single statement (``session.execute``), and any
        reads before it: each statement commits on its own, one round trip instead of three
        (no BEGIN and COMMIT around it); ORM changes are refused, as in :meth:`read`. Without
        autocommit sessions (a handle built on one factory), a transaction."""
        return self._reads() if self._reads is not self._writes else self.transaction()

    @property
    def engine(self) -> AsyncEngine:
        """The engine behind the pool."""
        bind = self._writes.kw.get("bind")
        if not isinstance(bind, AsyncEngine):  # pragma: no cover - always built on an engine
            msg = "the database handle has no engine"
            raise TypeError(msg)
        return bind

    async def answers(self) -> bool:
        """Whether ``SELECT 1`` succeeds within HEALTH_TIMEOUT_SECONDS (the health check)."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), self._reads() as session:
                await session.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not healthy"; the reason is logged
            if not self.outage.saw(error):
                log.warning("health check: the database does not answer", exc_info=True)
            return False
        self.outage.back()
        return True


def watch_outages(engine: AsyncEngine, outage: Outage) -> None:
    """Tell ``outage`` when the pool opens a new connection: the database answers again. (An
    outage begins where an error says so: :meth:`Outage.saw`.)"""

    @event.listens_for(engine.sync_engine.pool, "connect")
    def _connected(dbapi_connection: Any, record: Any) -> None:
        outage.back()
