"""The ``charbot`` command: run, migrate, doctor, and the admin commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

log = logging.getLogger("charbot")


def _settings() -> Settings:
    return load_settings()


def cmd_migrate(settings: Settings) -> int:
    """Build or upgrade the schema (embedded database when DATABASE_URL is unset)."""
    from db.locate import database_url
    from db.migrate import AdoptionError, current_revision, upgrade

    configured = settings.database_url.get_secret_value() if settings.database_url else None
    with database_url(configured, settings.data_dir) as url:
        before = current_revision(url)
        try:
            action = upgrade(url)
        except AdoptionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        after = current_revision(url)
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
        return asyncio.run(run_bot(settings, url))


def cmd_doctor(settings: Settings) -> int:
    """Check the configuration and every outside service; say how to fix what fails."""
    from bot.doctor import run_doctor

    return asyncio.run(run_doctor(settings))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``charbot`` command."""
    parser = argparse.ArgumentParser(prog="charbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("--migrate", action="store_true", help="upgrade the schema before starting")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("doctor", help="check the configuration and the services it names")
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
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "doctor":
            return cmd_doctor(settings)
        parser.error(f"unknown command {args.command}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
