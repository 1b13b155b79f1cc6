"""End to end with local image files: an /account export larger than the upload limit comes
as several private messages, one zip part each, every part under the limit; together they hold
the JSON and every image."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.conftest import truncate_all
from tests.e2e import Stack, collect_violations, running_stack, wait_final, wait_reply
from tests.fakes.discord.sending import ATTACHMENT_SIZE_LIMIT


def _sent(ix) -> list[dict]:
    """The messages of the interaction that carry a file, once each, in the order sent (the
    first followup after a deferral fills the original message in)."""
    seen: dict[str, dict] = {}
    for message in ix.messages():
        if message.get("attachments"):
            seen.setdefault(message["id"], message)
    return list(seen.values())


def _zip(stack: Stack, message: dict) -> zipfile.ZipFile:
    data = stack.fake.attachment_bytes(message["attachments"][0]["url"])
    return zipfile.ZipFile(io.BytesIO(data))


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-account-local")) as s:
        await s.start_bot(s3_bucket=None)
        yield s
    await truncate_all(engine)


async def test_local_export_over_the_limit_arrives_in_parts(stack: Stack):
    """Two characters' portraits and thumbnails, a limit below their sum: the reply and its
    followups are private zips under the limit; the first's JSON places every image in one."""
    member = stack.member("lunete")
    for description in ("a lady with a ring", "a lion that follows a knight"):
        await wait_final(
            await stack.command(member, "character create", {"description": description})
        )
    images = sorted(
        p.relative_to(stack.data_dir / "images").as_posix()
        for p in (stack.data_dir / "images").rglob("*")
        if p.is_file()
    )
    assert len(images) >= 4
    sizes = [(stack.data_dir / "images" / k).stat().st_size for k in images]
    whole = await wait_reply(await stack.command(member, "account export"), timeout=20)
    assert whole["attachments"][0]["size"] > sum(sizes)
    limit = whole["attachments"][0]["size"] - min(sizes)  # one image too many for one zip
    stack.fake.attachment_size_limit = limit
    try:
        ix = await stack.command(member, "account export")
        await ix.wait_for(lambda i: len(_sent(i)) >= 1, timeout=20)
        first = _zip(stack, _sent(ix)[0])
        document = json.loads(first.read("charbot-export.json"))
        count = max(i["part"] for i in document["images"])
        assert count > 1
        await ix.wait_for(lambda i: len(_sent(i)) == count, timeout=20)
    finally:
        stack.fake.attachment_size_limit = ATTACHMENT_SIZE_LIMIT
    messages = _sent(ix)
    assert all(m["flags"] & 64 for m in messages)
    parts = [_zip(stack, m) for m in messages]
    assert all(m["attachments"][0]["size"] <= limit for m in messages)
    placed = {i["key"]: i["part"] for i in document["images"]}
    assert sorted(placed) == images
    for key, part in placed.items():
        stored = (stack.data_dir / "images" / key).read_bytes()
        assert parts[part - 1].read(f"images/{key}") == stored
    assert collect_violations(stack) == []
