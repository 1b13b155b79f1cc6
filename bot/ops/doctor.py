"""``charbot doctor``: check the configuration and reach every service, saying how to fix each.

Four checks (Discord, the database, image storage, Gemini), each one line with its fix when
it fails; then the invite link. Secrets are never printed: every line passes the scrubber.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.config import Settings
from bot.ops.doctor_checks import Check, scrub
from bot.ops.doctor_discord import check_discord
from bot.ops.doctor_services import check_gemini, check_storage
from bot.ops.invite import REQUESTED, SCOPES, invite_url, permission_names, user_install_url
from bot.services.guild_settings import ConfiguredChannel, configured_channels

__all__ = ["Check", "check_database", "located_database", "run_doctor"]

#: At most this many configured channels are checked (the most recently configured).
MAX_CHANNELS = 50


@dataclass(frozen=True)
class Located:
    """The database the doctor checks: its URL, or why there is none."""

    url: str | None
    error: str = ""


@contextlib.contextmanager
def located_database(settings: Settings) -> Iterator[Located]:
    """DATABASE_URL; or the embedded server, started for the check when its data folder
    exists (a folder that does not exist yet is created by ``charbot run``/``migrate``)."""
    if settings.database_url is not None:
        yield Located(settings.database_url.get_secret_value())
        return
    if not (settings.data_dir / "postgres" / "PG_VERSION").exists():
        yield Located(None)
        return
    from db.locate import database_url

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(database_url(None, settings.data_dir))
        except Exception as exc:  # noqa: BLE001 - why it does not start is the answer
            located = Located(None, f"{type(exc).__name__}: {exc}")
        else:
            located = Located(url)
        yield located


async def check_database(settings: Settings, located: Located) -> Check:
    """The database answers and is migrated to the newest revision."""
    embedded = f"embedded PostgreSQL under {settings.data_dir / 'postgres'}"
    if located.error:
        return Check(
            "database",
            False,
            f"the {embedded} does not start: {located.error}",
            "Follow the message above, or set DATABASE_URL to a PostgreSQL server.",
        )
    if located.url is None:
        return Check("database", True, f"{embedded}: not created yet (run/migrate create it)")
    from db.migrate import current_revision, head_revision

    try:
        revision = await asyncio.to_thread(current_revision, located.url)
    except Exception as exc:  # noqa: BLE001 - any failure here is the answer
        return Check(
            "database",
            False,
            f"cannot connect: {type(exc).__name__}",
            "Check DATABASE_URL (postgresql+asyncpg://user:password@host:5432/dbname).",
        )
    head = head_revision(located.url)
    if revision != head:
        return Check(
            "database",
            False,
            f"schema at {revision or 'nothing'}, newest is {head}",
            "Run `charbot migrate`.",
        )
    where = "reachable" if settings.database_url is not None else f"{embedded} reachable"
    return Check("database", True, f"{where}, schema at {revision}")


async def _channels(url: str) -> list[ConfiguredChannel] | None:
    """The channels servers configured, or None when they cannot be read."""
    from db.engine import Database, make_engine

    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        return await configured_channels(Database.on(engine), limit=MAX_CHANNELS + 1)
    except Exception:  # noqa: BLE001 - reported as "not checked"
        return None
    finally:
        await engine.dispose()


def _print(checks: Sequence[Check], secrets: Sequence[str]) -> None:
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        print(scrub(f"[{mark}] {check.name:9} {check.detail}", secrets, limit=2000))
        for line in check.more:
            print(scrub(f"           - {line}", secrets, limit=2000))
        if check.fix and not check.ok:
            print(scrub(f"           fix: {check.fix}", secrets, limit=2000))
        if check.note:
            print(scrub(f"           note: {check.note}", secrets, limit=2000))


def _print_invite(application_id: str | None) -> None:
    if application_id is None:
        print("invite: unknown until Discord accepts DISCORD_TOKEN")
        return
    print(f"invite: {invite_url(application_id)}")
    print(
        f"        (to a server: scopes {' '.join(SCOPES)}; permissions {REQUESTED.value}: "
        f"{', '.join(permission_names(REQUESTED.value))})"
    )
    print(f"install for yourself: {user_install_url(application_id)}")
    print("        (to your account: the commands in DMs and in servers the bot is not in)")


async def run_doctor(settings: Settings, located: Located | None = None) -> int:
    """Print every check and the invite link; exit status 0 when all checks pass."""
    if located is None:
        located = Located(
            settings.database_url.get_secret_value() if settings.database_url else None
        )
    database = await check_database(settings, located)
    channels = None
    if database.ok and located.url is not None:
        channels = await _channels(located.url)
    elif database.ok:
        channels = []  # no database yet: no server configured anything
    shown = channels[:MAX_CHANNELS] if channels is not None else None
    discord_report, storage, gemini = await asyncio.gather(
        check_discord(settings, shown, limited=len(channels or ()) > MAX_CHANNELS),
        check_storage(settings),
        check_gemini(settings),
    )
    checks = [discord_report.check, database, storage, gemini]
    _print(checks, settings.secrets())
    _print_invite(discord_report.application_id)
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    return 1 if failed else 0
