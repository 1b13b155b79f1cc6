"""The ``charbot`` command: run, migrate, doctor, and the admin commands."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings, load_settings
from bot.ops import eventloop
from bot.ops.logs import setup_logging

log = logging.getLogger("charbot")


def package_version() -> str:
    """The installed charbot's version (its package metadata, i.e. pyproject's version)."""
    try:
        return metadata.version("charbot")
    except metadata.PackageNotFoundError:
        return "(unknown: not installed; `pip install -e .` or `make install`)"


def _settings() -> Settings:
    return load_settings()


def cmd_migrate(settings: Settings) -> int:
    """Build or upgrade the schema (embedded database when DATABASE_URL is unset)."""
    from db.locate import database_url
    from db.migrate import AdoptionError, migrate

    configured = settings.database_url.get_secret_value() if settings.database_url else None
    with database_url(configured, settings.data_dir) as url:
        try:
            # before/after are read under the migration lock: a process that waited for
            # another one reports "already up to date", not a migration it did not run
            done = migrate(url)
        except AdoptionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    action, before, after = done.action, done.before, done.after
    where = (
        "the configured database" if configured else f"the embedded database in {settings.data_dir}"
    )
    if action == "adopted":
        print(f"Adopted the existing platform database and upgraded it to {after} ({where}).")
    elif before == after:
        print(f"Already up to date at {after} ({where}).")
    else:
        print(f"Migrated {where} from {before or 'empty'} to {after}.")
    return 0


def cmd_run(settings: Settings, *, migrate: bool) -> int:
    """Run the bot until SIGINT/SIGTERM (``--migrate`` upgrades the schema first)."""
    settings.require_token()
    from bot.app import run_bot
    from db.locate import database_url
    from db.migrate import current_revision, head_revision, upgrade

    configured = settings.database_url.get_secret_value() if settings.database_url else None
    with database_url(configured, settings.data_dir) as url:
        if migrate:
            upgrade(url)
        elif current_revision(url) != head_revision(url):
            print(
                "error: the database schema is not up to date: run `charbot migrate`.",
                file=sys.stderr,
            )
            return 1
        return eventloop.run(run_bot(settings, url))


def cmd_worker(settings: Settings) -> int:
    """Take generation jobs from the queue until SIGINT/SIGTERM, with no gateway connection."""
    settings.require_token()
    if settings.database_url is None:
        print(
            "error: a worker shares the bot's database: set DATABASE_URL to the database "
            "`charbot run` uses.",
            file=sys.stderr,
        )
        return 2
    from bot.app import open_deps
    from bot.workers import run_worker
    from db.migrate import current_revision, head_revision

    url = settings.database_url.get_secret_value()
    if current_revision(url) != head_revision(url):
        print(
            "error: the database schema is not up to date: run `charbot migrate`.", file=sys.stderr
        )
        return 1

    async def serve() -> int:
        async with open_deps(settings, url) as deps:
            return await run_worker(deps, url)

    return eventloop.run(serve())


def cmd_doctor(settings: Settings) -> int:
    """Check the configuration and every outside service; say how to fix what fails."""
    from bot.ops.doctor import located_database, run_doctor

    with located_database(settings) as located:
        return asyncio.run(run_doctor(settings, located))


def cmd_invite(settings: Settings) -> int:
    """Print the links that add the app to a server and to a member's own account (its
    application id asked from Discord)."""
    from bot.ops.doctor_discord import check_discord
    from bot.ops.invite import invite_url, user_install_url

    report = asyncio.run(check_discord(settings, []))
    if report.application_id is None:
        print(f"error: {report.check.detail}. {report.check.fix}".rstrip(), file=sys.stderr)
        return 1
    print(invite_url(report.application_id))
    print(user_install_url(report.application_id))
    return 0


def cmd_admin(settings: Settings, args: argparse.Namespace) -> int:
    """``users set-tier``, ``users set-status`` and ``stats``: one transaction each.

    Exit codes: 0 done, 1 the database failed, 2 a bad value, 3 no such user.
    """
    from bot.services import admin
    from db.locate import database_url

    command = args.command if args.command == "stats" else args.users_command
    try:
        # values are checked before any database is opened
        if command == "set-tier":
            tier = admin.normalise_tier(args.tier)
        elif command == "set-status":
            status = admin.normalise_status(args.status)
        configured = settings.database_url.get_secret_value() if settings.database_url else None
        with database_url(configured, settings.data_dir) as url:
            if command == "set-tier":
                change = asyncio.run(
                    admin.in_transaction(
                        url, lambda s: admin.set_tier(s, settings, args.discord_id, tier)
                    )
                )
                print(
                    f"{change.username} ({args.discord_id}): tier {change.previous_tier} -> "
                    f"{change.tier}, daily quota {change.daily_quota}"
                )
            elif command == "set-status":
                moved = asyncio.run(
                    admin.in_transaction(
                        url,
                        lambda s: admin.set_status(s, args.discord_id, status, args.reason),
                    )
                )
                print(
                    f"{moved.username} ({args.discord_id}): status {moved.previous_status} -> "
                    f"{moved.status} (recorded in moderation_actions)"
                )
            else:
                found = asyncio.run(admin.in_transaction(url, admin.stats))
                _print_stats(found, as_json=args.json)
    except admin.AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (OSError, SQLAlchemyError) as exc:
        print(f"error: the database failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_stats(found: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dataclasses.asdict(found), sort_keys=True))
        return
    print(f"users: {found.users}")
    print(f"characters: {found.characters}")
    total = sum(found.generations_today.values())
    print(f"generations today ({found.day} UTC): {total}")
    for status in ("completed", "failed", "processing", "pending"):
        print(f"  {status}: {found.generations_today.get(status, 0)}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``charbot`` command."""
    parser = argparse.ArgumentParser(prog="charbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("--migrate", action="store_true", help="upgrade the schema before starting")
    sub.add_parser("worker", help="take generation jobs from the queue (no gateway connection)")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("doctor", help="check the configuration and the services it names")
    sub.add_parser(
        "invite", help="print the links that add the app to a server and to your own account"
    )
    users = sub.add_parser("users", help="change a member's tier or account status")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    tier = users_sub.add_parser("set-tier", help="set the subscription tier and its daily quota")
    tier.add_argument("discord_id", type=int, metavar="DISCORD_ID")
    tier.add_argument("tier", metavar="TIER", help="FREE, PREMIUM, PRO or ENTERPRISE")
    status = users_sub.add_parser("set-status", help="set the account status (recorded)")
    status.add_argument("discord_id", type=int, metavar="DISCORD_ID")
    status.add_argument("status", metavar="STATUS", help="active, suspended or banned")
    status.add_argument("--reason", default=None, help="why (kept in the moderation log)")
    stats = sub.add_parser("stats", help="users, characters, and today's generations by outcome")
    stats.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings()
        setup_logging(
            settings.log_level, settings.secrets(), json_format=settings.log_format == "json"
        )
        if args.command == "run":
            return cmd_run(settings, migrate=args.migrate)
        if args.command == "worker":
            return cmd_worker(settings)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "doctor":
            return cmd_doctor(settings)
        if args.command == "invite":
            return cmd_invite(settings)
        if args.command in ("users", "stats"):
            return cmd_admin(settings, args)
        parser.error(f"unknown command {args.command}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
