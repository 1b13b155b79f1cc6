"""The member read on every interaction, kept in memory while no change to it can be missed.

Every interaction reads its member: their ``users`` row (settings, quota counters), whether a
notice waits for them, whether they are blocked in the guild. This process keeps what it read
and drops a member's entry when PostgreSQL announces a change to any of those (migration 0010:
a trigger on ``users``, ``user_notices`` and ``guild_blocked_users`` sends
``NOTIFY charbot_members, '<user id>'`` inside the writing transaction, whoever writes: this
process, another shard, the web platform, an operator).

No change is missed, because:

- an entry is used only after :meth:`MemberCache.fresh`: a ping that *began after* the read
  was asked for is answered on the listening connection. PostgreSQL sends a listening session
  every notification committed before a query began ahead of that query's answer, and asyncpg
  runs the notification's callback before the ping's waiter resumes; so any change committed
  before the interaction reached this process (by this process, another shard or worker, the
  web platform, an operator) has dropped its entry by then. Reads asked for while a ping is in
  flight share the next one: under load one round trip on one connection serves them all;
- the listener has a connection of its own (:class:`MemberListener`), and the entries are
  used only while it is proven alive (a ping that started at ``t`` and was answered lets the
  entries be used until ``t + LEASE_SECONDS``); a dropped connection, or one that stops
  answering, empties the cache at once (or at the end of the lease), and it is refilled only
  after listening again;
- a read races the changes: it notes the cache's ``epoch`` before it queries and stores its
  result only if no notification (nor a lost connection) came in meanwhile, so a result read
  before a change can never be stored after the change's notification was handled.

A read served from memory therefore costs one shared ``SELECT 1`` on the listener's connection
instead of the member query with its ORM rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import User

log = logging.getLogger(__name__)

CHANNEL = "charbot_members"
"""The channel migration 0010's triggers notify; the payload is a user id, or ``*`` (all)."""
PING_SECONDS = 1.0
LEASE_SECONDS = 3.0
RETRY_SECONDS = 2.0
CACHE_SIZE = 100_000


@dataclass
class _Entry:
    user: User
    has_notices: bool
    blocked: dict[int | None, bool] = field(default_factory=dict)
    """Whether blocked, per guild id it was read for (None: outside a guild, never)."""


class MemberCache:
    """Members as last read, by Discord id; usable only while :attr:`live`."""

    def __init__(self, size: int = CACHE_SIZE, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self.clock = clock
        self._entries: dict[int, _Entry] = {}
        self._discord_ids: dict[str, int] = {}
        self._usable_until = 0.0
        self.epoch = 0
        """Counts the notifications and lost connections: a read stores its result only if
        this did not change while it ran."""
        self.syncer: Callable[[], Awaitable[bool]] | None = None
        """Set by the listener: whether every change committed before the call was handled."""

    @property
    def live(self) -> bool:
        """Whether the listener was proven alive recently enough for the entries to be used."""
        return self.clock() < self._usable_until

    def __len__(self) -> int:
        return len(self._entries)

    async def fresh(self) -> bool:
        """Whether every change committed before this call has been handled, so that what
        :meth:`member` returns now is current (see the module); False: read the database."""
        return self.live and self.syncer is not None and await self.syncer()

    async def current(
        self, discord_id: int, guild_id: int | None
    ) -> tuple[User, bool, bool] | None:
        """:meth:`member` as it stands after every change committed before this call; None
        (read the database) without a ping when the member is not kept at all."""
        if self.member(discord_id, guild_id) is None or not await self.fresh():
            return None
        return self.member(discord_id, guild_id)  # dropped meanwhile if it changed

    def member(self, discord_id: int, guild_id: int | None) -> tuple[User, bool, bool] | None:
        """The member's row, whether a notice waits and whether blocked in ``guild_id``, as
        last read; None when not kept (or not usable now). Current only right after
        :meth:`fresh` answered True."""
        entry = self._entries.get(discord_id) if self.live else None
        if entry is None or guild_id not in entry.blocked:
            return None
        return entry.user, entry.has_notices, entry.blocked[guild_id]

    def user_id(self, discord_id: int) -> str | None:
        """The member's user id, when kept and usable."""
        entry = self._entries.get(discord_id) if self.live else None
        return None if entry is None else entry.user.id

    def store(
        self,
        epoch: int,
        discord_id: int,
        found: tuple[User, bool, bool],
        guild_id: int | None,
    ) -> None:
        """Keep what a read that began at ``epoch`` found, unless a change came in since (or
        the cache was not usable when it began)."""
        if epoch != self.epoch or not self.live:
            return
        user, has_notices, blocked = found
        entry = self._entries.get(discord_id)
        if entry is None or entry.user.id != user.id:
            if len(self._entries) >= self._size:
                self._entries.clear()
                self._discord_ids.clear()
            entry = self._entries[discord_id] = _Entry(user, has_notices)
            self._discord_ids[user.id] = discord_id
        else:
            entry.user, entry.has_notices = user, has_notices
        entry.blocked[guild_id] = blocked

    def changed(self, user_id: str) -> None:
        """A notification: the member with ``user_id`` changed (``*``: everyone may have)."""
        self.epoch += 1
        if user_id == "*":
            self._drop_all()
            return
        discord_id = self._discord_ids.pop(user_id, None)
        if discord_id is not None:
            self._entries.pop(discord_id, None)

    def renew(self, until: float) -> None:
        """The listener proved alive: the entries may be used until ``until``."""
        self._usable_until = max(self._usable_until, until)

    def lost(self) -> None:
        """The listener lost its connection: nothing kept may be used again."""
        self.epoch += 1
        self._usable_until = 0.0
        self._drop_all()

    def _drop_all(self) -> None:
        self._entries.clear()
        self._discord_ids.clear()


class MemberListener:
    """Listens on :data:`CHANNEL` on a connection of its own, for as long as it runs; keeps
    ``cache`` usable while the connection is proven alive (see the module's docstring)."""

    def __init__(
        self,
        dsn: str,
        cache: MemberCache,
        *,
        ping: float = PING_SECONDS,
        lease: float = LEASE_SECONDS,
        retry: float = RETRY_SECONDS,
    ) -> None:
        self._dsn = dsn
        self._cache = cache
        self._ping = ping
        self._lease = lease
        self._retry = retry
        self.connected = asyncio.Event()
        """Set while listening."""
        self._failing = False
        self._asked: asyncio.Future[bool] | None = None
        """Answers the syncs asked for since the last ping began (the next ping's)."""
        self._answering: asyncio.Future[bool] | None = None
        """Answers the syncs the ping in flight serves."""
        self._wake = asyncio.Event()
        cache.syncer = self.sync

    @classmethod
    def on(cls, engine: AsyncEngine, cache: MemberCache) -> MemberListener:
        """A listener on the database ``engine`` connects to (a connection of its own)."""
        url = engine.url.set(drivername="postgresql")
        return cls(url.render_as_string(hide_password=False), cache)

    async def sync(self) -> bool:
        """True once a ping that began after this call was answered on the listening
        connection: every notification committed before the call has then been handled. False
        when not listening, or when the connection failed before answering."""
        if not self.connected.is_set():
            return False
        if self._asked is None:
            self._asked = asyncio.get_running_loop().create_future()
        asked = self._asked
        self._wake.set()
        return await asyncio.shield(asked)

    def _answer(self, future: asyncio.Future[bool] | None, answer: bool) -> None:
        if future is not None and not future.done():
            future.set_result(answer)

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._cache.changed(payload)

    def _terminated(self, connection: Any) -> None:
        self.connected.clear()
        self._cache.lost()

    async def run(self) -> None:
        """Listen until cancelled, connecting again after a failure."""
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: forget, wait, listen again
                if not self._failing:  # once per outage
                    log.warning(
                        "member change listener failed (%s); members are read from the "
                        "database until it listens again",
                        type(error).__name__,
                    )
                self._failing = True
            finally:
                self.connected.clear()
                self._cache.lost()
            await asyncio.sleep(self._retry)

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=self._lease)
        try:
            connection.add_termination_listener(self._terminated)
            await connection.add_listener(CHANNEL, self._notified)
            self.connected.set()
            self._failing = False
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._ping):
                        await self._wake.wait()  # a sync asked for, or time for a ping
                self._wake.clear()
                self._answering, self._asked = self._asked, None
                began = self._cache.clock()
                async with asyncio.timeout(self._lease):
                    await connection.execute("SELECT 1")
                self._cache.renew(began + self._lease)
                self._answer(self._answering, True)
                self._answering = None
        finally:
            self.connected.clear()
            self._answer(self._answering, False)
            self._answer(self._asked, False)
            self._answering = self._asked = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), self._retry)
            connection.terminate()
