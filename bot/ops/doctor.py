"""``charbot doctor``: check the configuration and reach every service, saying how to fix each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from bot.config import ConfigError, Settings


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    note: str = ""  # advice worth reading even when the check passes


async def check_discord(settings: Settings) -> Check:
    """The token is set and the Discord API accepts it."""
    try:
        token = settings.require_token()
    except ConfigError as exc:
        return Check("discord", False, "DISCORD_TOKEN is not set", str(exc))
    url = settings.discord_api_base_url.rstrip("/") + "/users/@me"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(url, headers={"Authorization": f"Bot {token}"}) as resp,
        ):
            if resp.status == 401:
                return Check(
                    "discord",
                    False,
                    "Discord rejected the token (401)",
                    "Reset the bot token in the developer portal and update DISCORD_TOKEN.",
                )
            if resp.status >= 400:
                return Check("discord", False, f"Discord answered HTTP {resp.status}", "")
            data = await resp.json(content_type=None)
            return Check("discord", True, f"logged in as {data.get('username', '?')}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(
            "discord",
            False,
            f"cannot reach {settings.discord_api_base_url}: {type(exc).__name__}",
            "Check DISCORD_API_BASE_URL and the network (or the REST proxy).",
        )


async def check_database(settings: Settings) -> Check:
    """The database answers and is migrated to the newest revision."""
    if settings.database_url is None:
        return Check(
            "database",
            True,
            f"embedded PostgreSQL under {settings.data_dir / 'postgres'} (started by run/migrate)",
        )
    from db.migrate import current_revision, head_revision

    url = settings.database_url.get_secret_value()
    try:
        revision = await asyncio.to_thread(current_revision, url)
    except Exception as exc:  # noqa: BLE001 - any failure here is the answer
        return Check(
            "database",
            False,
            f"cannot connect: {type(exc).__name__}",
            "Check DATABASE_URL (postgresql+asyncpg://user:password@host:5432/dbname).",
        )
    head = head_revision(url)
    if revision != head:
        return Check(
            "database",
            False,
            f"schema at {revision or 'nothing'}, newest is {head}",
            "Run `charbot migrate`.",
        )
    return Check("database", True, f"reachable, schema at {revision}")


async def check_storage(settings: Settings) -> Check:
    """The S3 bucket exists and is reachable, or the local image folder is writable."""
    from bot.storage.factory import open_storage

    where = f"S3 bucket {settings.s3_bucket}" if settings.s3_bucket else "local files"
    try:
        async with open_storage(settings) as storage:
            key = "doctor/probe.txt"
            await storage.put(key, b"ok", "text/plain")
            await storage.delete(key)
    except Exception as exc:  # noqa: BLE001
        fix = (
            "Check S3_BUCKET, S3_ENDPOINT_URL, S3_REGION and the AWS credentials."
            if settings.s3_bucket
            else f"Make {settings.data_dir} writable or set S3_BUCKET."
        )
        return Check("storage", False, f"{where}: {exc}", fix)
    note = ""
    if settings.s3_bucket and not settings.s3_public_base_url:
        note = (
            "The image URLs saved for the web front end are presigned and stop working after "
            "7 days: set S3_PUBLIC_BASE_URL (a CDN or public bucket URL) for lasting links."
        )
    return Check("storage", True, f"{where}: writable", note=note)


async def check_gemini(settings: Settings) -> Check:
    """A key is set and the Gemini API answers with it (offline generator otherwise)."""
    if settings.offline_generation:
        return Check(
            "gemini",
            True,
            "no GEMINI_API_KEY: the offline generator draws placeholder portraits",
            "Set GEMINI_API_KEY for real images.",
        )
    base = (settings.gemini_base_url or "https://generativelanguage.googleapis.com").rstrip("/")
    key = settings.gemini_api_key.get_secret_value() if settings.gemini_api_key else ""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(f"{base}/v1beta/models", headers={"x-goog-api-key": key}) as resp,
        ):
            if resp.status in (401, 403):
                return Check("gemini", False, "the key was refused", "Check GEMINI_API_KEY.")
            if resp.status >= 500:
                return Check("gemini", False, f"HTTP {resp.status}", "Try again later.")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(
            "gemini", False, f"cannot reach {base}: {type(exc).__name__}", "Check GEMINI_BASE_URL."
        )
    return Check("gemini", True, f"reachable at {base}")


async def run_doctor(settings: Settings) -> int:
    """Print every check; exit status 0 when all pass."""
    checks = await asyncio.gather(
        check_discord(settings),
        check_database(settings),
        check_storage(settings),
        check_gemini(settings),
    )
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        print(f"[{mark}] {check.name:9} {check.detail}")
        if check.fix and not check.ok:
            print(f"           fix: {check.fix}")
        if check.note:
            print(f"           note: {check.note}")
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    return 1 if failed else 0
