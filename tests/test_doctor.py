"""`charbot doctor` against the fakes: it names what breaks in real life (a Gemini key that is
not valid, a model that does not exist, a bucket that cannot be written, a public URL that does
not serve, a showcase channel the bot cannot post in), says how to fix it, never prints a
secret, and prints the invite link; `charbot run` logs that link when the bot is in no server."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, insert

from bot.app import open_bot
from bot.config import Settings
from bot.ops.doctor_discord import ALL_PERMISSIONS, application_id_from_token, channel_permissions
from bot.ops.invite import REQUESTED, invite_url
from db.bot_models import GuildSettings
from tests.conftest import ROOT
from tests.e2e import LOG_SECRETS
from tests.fakes.discord import FakeDiscord, FakeGuild
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.s3 import MotoS3, moto_s3_fixture, unique_bucket

GOOD_KEY = "AIzaSy-doctor-good-key-0123456789"
BAD_KEY = "AIzaSy-doctor-revoked-key-9876543210"
VIEW, SEND, EMBED, ATTACH = 1 << 10, 1 << 11, 1 << 14, 1 << 15
THREADS, IN_THREADS = 1 << 35, 1 << 38
HISTORY = 1 << 16

moto_s3 = moto_s3_fixture(scope="module")


@dataclass
class Services:
    fake: FakeDiscord
    gemini: FakeGemini
    s3: MotoS3
    bucket: str
    guild: FakeGuild
    database_url: str
    data_dir: Path

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GEMINI_", "S3_"))
        }
        env.update(
            PYTHONPATH=str(ROOT),
            LOG_LEVEL="WARNING",
            DISCORD_TOKEN=self.fake.token,
            DISCORD_API_BASE_URL=self.fake.api_base,
            DISCORD_GATEWAY_URL=self.fake.gateway_url,
            DATABASE_URL=self.database_url,
            DATA_DIR=str(self.data_dir),
            GEMINI_API_KEY=GOOD_KEY,
            GEMINI_BASE_URL=self.gemini.base_url,
            S3_BUCKET=self.bucket,
            S3_ENDPOINT_URL=self.s3.endpoint_url,
            S3_REGION="us-east-1",
        )
        env.update(overrides)
        return env

    async def charbot(self, *args: str, **overrides: str) -> tuple[int, str, str]:
        """Run ``python -m bot ARGS`` as a self-hoster would, in an empty folder (no .env)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            env=self.env(**overrides),
            cwd=str(self.data_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture(scope="module")
async def services(
    database_url: str, moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Services]:
    fake = FakeDiscord()
    gemini = FakeGemini(api_keys=[GOOD_KEY])
    await fake.start()
    await gemini.start()
    LOG_SECRETS.update({fake.token, GOOD_KEY, BAD_KEY})
    bucket = moto_s3.create_bucket(unique_bucket("doctor"))
    guild = fake.add_guild("Avalon")
    try:
        yield Services(
            fake, gemini, moto_s3, bucket, guild, database_url, tmp_path_factory.mktemp("doctor")
        )
    finally:
        leftover = fake.take_violations()
        await fake.stop()
        await gemini.stop()
    assert leftover == []  # every request the doctor sent fits Discord's spec


@pytest.fixture
async def configured(engine: Any) -> AsyncIterator[list[int]]:
    """Guild ids whose guild_settings rows the test writes (removed afterwards)."""
    guild_ids: list[int] = []
    yield guild_ids
    async with engine.begin() as conn:
        await conn.execute(delete(GuildSettings).where(GuildSettings.guild_id.in_(guild_ids)))


async def _configure(engine: Any, configured: list[int], guild_id: int, channel_id: int) -> None:
    configured.append(guild_id)
    async with engine.begin() as conn:
        await conn.execute(
            insert(GuildSettings).values(guild_id=guild_id, showcase_channel_id=channel_id)
        )


def _no_secrets(*texts: str, services: Services) -> None:
    for text in texts:
        for secret in (services.fake.token, GOOD_KEY, BAD_KEY, "testing"):
            assert secret not in text.replace("AWS_SECRET_ACCESS_KEY", "")


# -- the whole doctor, as the CLI runs it ------------------------------------------------------


async def test_happy_path_passes_and_prints_the_invite_link(services: Services):
    """Everything reachable and right: exit 0, each service says what it checked, the probe
    object is gone afterwards, and the invite link carries the client id, the scopes and the
    permissions the bot uses."""
    public = services.s3.make_public(services.bucket)  # a public bucket
    services.gemini.model_lookups.clear()
    code, out, err = await services.charbot("doctor", S3_PUBLIC_BASE_URL=public)
    assert code == 0, out + err
    assert "4 of 4 checks passed" in out
    assert "[FAIL]" not in out
    assert "logged in as charbot" in out
    assert "models gemini-2.5-flash and gemini-2.5-flash-image exist" in out
    assert "writable and served" in out
    # one models.get per configured model, each with the key that was set
    assert sorted(services.gemini.model_lookups) == ["gemini-2.5-flash", "gemini-2.5-flash-image"]
    assert services.s3.list_keys(services.bucket) == []
    _no_secrets(out, err, services=services)
    [line] = [line for line in out.splitlines() if line.startswith("invite: ")]
    url = line.removeprefix("invite: ")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.netloc == "discord.com"
    assert query["client_id"] == [services.fake.application_id]
    assert query["scope"] == ["bot applications.commands"]
    permissions = int(query["permissions"][0])
    for bit in (VIEW, SEND, EMBED, ATTACH, THREADS, IN_THREADS):
        assert permissions & bit
    assert permissions & (1 << 3) == 0  # never Administrator
    assert url == invite_url(services.fake.application_id)


async def test_invalid_gemini_key_fails_naming_the_setting_not_the_key(services: Services):
    """A key Gemini answers with 400 API_KEY_INVALID: exit 1, the Gemini line names
    GEMINI_API_KEY and the reason, the key itself is printed nowhere."""
    code, out, err = await services.charbot("doctor", GEMINI_API_KEY=BAD_KEY)
    assert code == 1, out + err
    [line] = [line for line in out.splitlines() if line.startswith("[FAIL] gemini")]
    assert "GEMINI_API_KEY" in line
    assert "API_KEY_INVALID" in line
    assert "fix: Create a key at https://aistudio.google.com/apikey" in out
    assert "3 of 4 checks passed" in out
    assert BAD_KEY not in out + err


async def test_unknown_model_fails_naming_the_model_and_its_setting(services: Services):
    """GEMINI_IMAGE_MODEL naming a model Gemini does not have (404 NOT_FOUND): exit 1, and
    the report names the setting and the model; the text model, which exists, is not named."""
    code, out, err = await services.charbot("doctor", GEMINI_IMAGE_MODEL="gemini-9-imaginary")
    assert code == 1, out + err
    [line] = [line for line in out.splitlines() if line.startswith("[FAIL] gemini")]
    assert "GEMINI_IMAGE_MODEL=gemini-9-imaginary" in line
    assert "no such model" in line
    assert "GEMINI_TEXT_MODEL" not in line
    assert "fix: Set GEMINI_TEXT_MODEL and GEMINI_IMAGE_MODEL" in out
    _no_secrets(out, err, services=services)


async def test_bucket_that_cannot_be_written_fails_naming_s3_bucket(services: Services):
    """A bucket that does not exist: the probe cannot be written, and the report names
    S3_BUCKET, the bucket, S3's error code and what to check."""
    missing = unique_bucket("nowhere")
    code, out, err = await services.charbot("doctor", S3_BUCKET=missing)
    assert code == 1, out + err
    [line] = [line for line in out.splitlines() if line.startswith("[FAIL] storage")]
    assert f"S3 bucket {missing} (S3_BUCKET) cannot be written" in line
    assert "NoSuchBucket" in line
    assert "fix: Check S3_BUCKET (the bucket must exist)" in out
    assert not services.s3.bucket_exists(missing)  # the doctor creates nothing
    _no_secrets(out, err, services=services)


async def test_public_base_url_that_does_not_serve_fails_naming_it(services: Services):
    """S3_PUBLIC_BASE_URL that answers 404 for a just-written object: exit 1, naming the
    setting and the status; the probe object is deleted all the same."""
    wrong = f"{services.s3.endpoint_url}/{services.bucket}/not-the-root"
    code, out, err = await services.charbot("doctor", S3_PUBLIC_BASE_URL=wrong)
    assert code == 1, out + err
    [line] = [line for line in out.splitlines() if line.startswith("[FAIL] storage")]
    assert f"S3_PUBLIC_BASE_URL {wrong} does not serve a just-written object" in line
    assert "HTTP 404" in line
    assert "fix: S3_PUBLIC_BASE_URL must be the public address of the bucket" in out
    assert services.s3.list_keys(services.bucket) == []


async def test_local_storage_is_checked_by_writing_in_the_data_folder(services: Services):
    """Without S3_BUCKET the image folder under DATA_DIR is written, read back and cleaned."""
    code, out, err = await services.charbot("doctor", S3_BUCKET="", S3_ENDPOINT_URL="")
    assert code == 0, out + err
    assert f"[ok  ] storage   local files in {services.data_dir / 'images'}: writable" in out
    assert not list((services.data_dir / "images").rglob("probe-*"))


async def test_showcase_channel_without_permissions_fails_naming_channel_and_permissions(
    services: Services, engine: Any, configured: list[int]
):
    """Three configured showcase channels: one the bot may post in, one whose overwrites take
    Send Messages and Attach Files from the bot's role, one deleted; plus a server the bot
    left. The report names the two broken channels and what is missing, and only notes the
    server that is gone."""
    fake, guild = services.fake, services.guild
    locked = fake.add_text_channel(guild.id, "showcase")
    bot_role = next(r for r in guild.roles.values() if r["name"] == "charbot")
    locked["permission_overwrites"] = [
        {"id": bot_role["id"], "type": 0, "allow": "0", "deny": str(SEND | ATTACH)}
    ]
    other = fake.add_guild("Lyonesse")
    deleted_id = int(fake.ids.next())
    await _configure(engine, configured, int(guild.id), int(locked["id"]))
    await _configure(engine, configured, int(other.id), deleted_id)
    await _configure(engine, configured, int(fake.ids.next()), int(fake.ids.next()))  # left
    third = fake.add_guild("Logres")
    third_channel = fake.add_text_channel(third.id, "hall-of-fame")
    await _configure(engine, configured, int(third.id), int(third_channel["id"]))

    code, out, err = await services.charbot("doctor")
    assert code == 1, out + err
    [line] = [line for line in out.splitlines() if line.startswith("[FAIL] discord")]
    assert "can post in 1 configured channel(s)" in line
    assert "2 configured channel(s) cannot be posted in" in line
    assert (
        f"- showcase channel #showcase in server 'Avalon' ({guild.id}): the bot lacks "
        "Send Messages, Attach Files"
    ) in out
    assert (
        f"- showcase channel {deleted_id} in server 'Lyonesse' ({other.id}) no longer exists" in out
    )
    assert "fix: In each channel named, give the bot's role the missing permissions" in out
    assert "/mod setup" in out
    assert "1 configured server(s) no longer have the bot" in out
    _no_secrets(out, err, services=services)


async def test_invite_command_prints_the_same_link(services: Services):
    """`charbot invite` prints the doctor's link; with a token Discord refuses, it says so."""
    code, out, err = await services.charbot("invite")
    assert code == 0, err
    assert out.strip() == invite_url(services.fake.application_id)
    code, out, err = await services.charbot("invite", DISCORD_TOKEN="not-the-token")
    assert code == 1
    assert "DISCORD_TOKEN" in err
    services.fake.take_violations()  # the refused token is noted by the fake, as it should be


# -- the parts ---------------------------------------------------------------------------------


def _guild(everyone: int, **roles: int) -> dict[str, Any]:
    listed = [{"id": "1", "permissions": str(everyone)}]
    listed += [{"id": rid, "permissions": str(p)} for rid, p in roles.items()]
    return {"id": "1", "owner_id": "9", "roles": listed}


def _overwrite(target: str, kind: int, allow: int = 0, deny: int = 0) -> dict[str, Any]:
    return {"id": target, "type": kind, "allow": str(allow), "deny": str(deny)}


@pytest.mark.parametrize(
    ("guild", "member_roles", "overwrites", "expected"),
    [
        # @everyone and the bot's role add up
        (_guild(VIEW, r2=SEND), ["r2"], [], VIEW | SEND),
        # the owner and Administrator have everything, overwrites notwithstanding
        (_guild(0, r2=1 << 3), ["r2"], [_overwrite("1", 0, deny=VIEW)], ALL_PERMISSIONS),
        # @everyone's overwrite, then the roles' (allow wins over deny among roles), then own
        (
            _guild(VIEW | SEND | EMBED, r2=0, r3=0),
            ["r2", "r3"],
            [
                _overwrite("1", 0, deny=SEND | EMBED),
                _overwrite("r2", 0, allow=SEND),
                _overwrite("r3", 0, deny=SEND | ATTACH),
                _overwrite("7", 1, allow=ATTACH),
            ],
            VIEW | SEND | ATTACH,
        ),
        # a member overwrite denies last
        (_guild(VIEW | SEND), [], [_overwrite("7", 1, deny=SEND)], VIEW),
        # a channel the bot cannot see grants nothing
        (_guild(VIEW | SEND, r2=0), ["r2"], [_overwrite("r2", 0, deny=VIEW)], 0),
        # an overwrite of a role the bot does not have changes nothing
        (_guild(VIEW | SEND), [], [_overwrite("r5", 0, deny=SEND)], VIEW | SEND),
    ],
)
def test_channel_permissions_follow_discords_order(guild, member_roles, overwrites, expected):
    """The bot's permissions in a channel, computed in Discord's documented order."""
    channel = {"id": "50", "permission_overwrites": overwrites}
    assert channel_permissions(guild, {"roles": member_roles}, channel, "7") == expected


def test_owner_has_every_permission():
    guild = {"id": "1", "owner_id": "7", "roles": [{"id": "1", "permissions": "0"}]}
    channel = {"id": "50", "permission_overwrites": [_overwrite("7", 1, deny=VIEW)]}
    assert channel_permissions(guild, {"roles": []}, channel, "7") == ALL_PERMISSIONS


def test_invite_link_asks_for_what_the_bot_uses_and_no_more():
    """The invite: both scopes, and exactly View Channel, Send Messages, Embed Links, Attach
    Files, Read Message History (replies in a conversation), Create Public Threads and Send
    Messages in Threads."""
    query = parse_qs(urlsplit(invite_url(1234567890)).query)
    assert query == {
        "client_id": ["1234567890"],
        "scope": ["bot applications.commands"],
        "permissions": [str(VIEW | SEND | EMBED | ATTACH | HISTORY | THREADS | IN_THREADS)],
    }
    assert REQUESTED.value == VIEW | SEND | EMBED | ATTACH | HISTORY | THREADS | IN_THREADS


def test_application_id_from_a_real_shaped_token():
    """A bot token's first part is the base64 of the bot's id; other shapes give None."""
    assert application_id_from_token("MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.xyz") == "123456789012345678"
    assert application_id_from_token("not-a-token") is None


# -- `charbot run` in no server ----------------------------------------------------------------


async def test_bot_in_no_server_logs_the_invite_link_at_start(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """A fresh install (the bot in no server yet): once connected, the bot logs one INFO line
    with the invite link."""
    caplog.set_level(logging.INFO, logger="bot.app")
    async with FakeDiscord() as fake:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            discord_token=fake.token,
            discord_api_base_url=fake.api_base,
            discord_gateway_url=fake.gateway_url,
            database_url=database_url,
            data_dir=tmp_path,
        )
        LOG_SECRETS.update(settings.secrets())
        async with open_bot(settings, database_url) as bot:
            await bot.login(fake.token)
            task = asyncio.create_task(bot.connect())
            try:
                for _ in range(200):
                    if any("Invite it with" in r.getMessage() for r in caplog.records):
                        break
                    await asyncio.sleep(0.05)
            finally:
                await bot.close()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        violations = fake.take_violations()
    lines = [r for r in caplog.records if "Invite it with" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert lines[0].getMessage().endswith(invite_url(fake.application_id))
    assert violations == []


async def test_default_embedded_database_not_created_yet_is_no_failure(services: Services):
    """No DATABASE_URL and no embedded data folder yet (before the first `make run`): the
    database line says so and passes; nothing is created by the doctor."""
    data_dir = services.data_dir / "fresh"
    data_dir.mkdir()
    code, out, err = await services.charbot("doctor", DATABASE_URL="", DATA_DIR=str(data_dir))
    assert code == 0, out + err
    assert "not created yet (run/migrate create it)" in out
    assert not (data_dir / "postgres").exists()


async def test_fake_gemini_answers_bad_keys_and_unknown_models_as_google_does(services: Services):
    """What the doctor relies on, through the real SDK: a key not valid is 400
    INVALID_ARGUMENT with reason API_KEY_INVALID (for every method), an unknown model 404
    NOT_FOUND naming it."""
    from google import genai
    from google.genai import errors, types

    def client(key: str) -> genai.Client:
        options = types.HttpOptions(base_url=services.gemini.base_url, api_version="v1beta")
        return genai.Client(api_key=key, http_options=options)

    bad = client(BAD_KEY)
    for call in (
        bad.aio.models.get(model="gemini-2.5-flash"),
        bad.aio.models.generate_content(model="gemini-2.5-flash", contents="hello"),
    ):
        with pytest.raises(errors.ClientError) as caught:
            await call
        assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
        reasons = [d.get("reason") for d in caught.value.details["error"]["details"]]
        assert "API_KEY_INVALID" in reasons
    good = client(GOOD_KEY)
    model = await good.aio.models.get(model="gemini-2.5-flash-image")
    assert model.name == "models/gemini-2.5-flash-image"
    with pytest.raises(errors.ClientError) as caught:
        await good.aio.models.generate_content(model="gemini-9-imaginary", contents="hello")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert caught.value.message.startswith("models/gemini-9-imaginary is not found")
    for c in (bad, good):
        await c.aio.aclose()
        c.close()
