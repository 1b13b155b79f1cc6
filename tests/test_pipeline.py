"""The generation pipeline through the real google-genai SDK (fake Gemini server), aioboto3
(moto's S3 server) and PostgreSQL: results, and every failure path."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select, text

from bot.config import Settings
from bot.errors import GenerationError, InvalidInputError, StorageError
from bot.providers.factory import build_likeness_judge, build_providers, make_genai_client
from bot.providers.gemini import GeminiImageProvider, GeminiPromptOptimizer
from bot.services.generation import CreateRequest, GenerationPipeline
from bot.services.generation.model import VariantRequest
from bot.services.generation.slots import (
    DEFAULT_ACCEPTING_AT_ONCE,
    GenerationSlots,
    accepting_at_once,
)
from bot.storage.factory import open_storage
from db.engine import Database
from db.models import Character, Generation, ThemeVariant, User
from tests.factories import make_user
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.s3 import MotoS3, unique_bucket

IMAGE_MODEL = "gemini-2.5-flash-image"
TEXT_MODEL = "gemini-2.5-flash"


@dataclass
class Rig:
    pipeline: GenerationPipeline
    gemini: FakeGemini
    s3: MotoS3
    bucket: str


@pytest.fixture(scope="module")
def moto():
    server = MotoS3()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def gemini():
    fake = FakeGemini()
    await fake.start()
    yield fake
    await fake.stop()


def _settings(gemini: FakeGemini, moto: MotoS3, bucket: str, tmp: Path, **kw) -> Settings:
    values = {
        "gemini_api_key": "pipeline-test-key-123456",
        "gemini_base_url": gemini.base_url,
        "gemini_timeout_seconds": 0.5,
        "gemini_max_retries": 1,
        "s3_bucket": bucket,
        "s3_endpoint_url": moto.endpoint_url,
        "s3_region": "us-east-1",
        "data_dir": tmp,
    }
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def rig(session_factory, gemini, moto, tmp_path) -> AsyncIterator[Rig]:
    bucket = unique_bucket("pipe")
    moto.create_bucket(bucket)
    settings = _settings(gemini, moto, bucket, tmp_path)
    client = make_genai_client(settings)
    optimizer = GeminiPromptOptimizer(
        client, TEXT_MODEL, timeout=0.5, max_retries=1, backoff_base=0.01
    )
    images = GeminiImageProvider(client, IMAGE_MODEL, timeout=0.5, max_retries=1, backoff_base=0.01)
    gemini.reset()
    async with open_storage(settings) as storage:
        yield Rig(
            GenerationPipeline(
                Database(session_factory),
                storage,
                optimizer,
                images,
                slots=GenerationSlots(8),
                text_model=TEXT_MODEL,
                image_model=IMAGE_MODEL,
            ),
            gemini,
            moto,
            bucket,
        )
    gemini.reset()
    await client.aio.aclose()


async def _user(session_factory, **kw) -> User:
    async with session_factory.begin() as s:
        return await make_user(s, **kw)


async def _state(session_factory, user_id: str) -> tuple[User, list[Generation], list[Character]]:
    async with session_factory() as s:
        user = await s.get(User, user_id)
        gens = (await s.scalars(select(Generation).where(Generation.user_id == user_id))).all()
        chars = (await s.scalars(select(Character).where(Character.user_id == user_id))).all()
    return user, list(gens), list(chars)  # type: ignore[return-value]


async def _referenced_keys(session_factory) -> set[str]:
    async with session_factory() as s:
        rows = await s.execute(
            text(
                "SELECT metadata->>'imageKey', metadata->>'thumbnailKey', "
                "metadata->>'referenceKey' FROM characters "
                "UNION ALL SELECT metadata->>'imageKey', metadata->>'thumbnailKey', NULL "
                "FROM theme_variants"
            )
        )
        return {key for row in rows for key in row if key}


async def test_create_regenerate_and_variant_through_the_sdk(rig: Rig, session_factory):
    """Create, regenerate and variant: the fake saw the description, the instruction and the
    image bytes; objects and thumbnails are in the bucket; rows carry URLs and metadata."""
    user = await _user(session_factory, daily_quota=5)
    reference = rig.gemini.image_png
    created = await rig.pipeline.create_character(
        CreateRequest(
            user_id=user.id,
            description="a lighthouse keeper with a lantern",
            style="vintage",
            reference=reference,
            reference_mime="image/png",
        )
    )
    character = created.character
    texts = [r.text for r in rig.gemini.requests_for(TEXT_MODEL)]
    assert any("a lighthouse keeper with a lantern" in t for t in texts)
    assert reference in rig.gemini.requests_for(IMAGE_MODEL)[-1].images
    keys = set(rig.s3.list_keys(rig.bucket))
    meta = character.meta or {}
    assert {meta["imageKey"], meta["thumbnailKey"], meta["referenceKey"]} <= keys
    assert meta["thumbnailKey"].endswith("_thumb.webp")
    assert meta["textModel"] == TEXT_MODEL
    assert meta["imageModel"] == IMAGE_MODEL
    assert character.image_url
    assert character.thumbnail_url
    assert character.generation_status == "completed"

    regenerated = await rig.pipeline.regenerate(
        user_id=user.id, character_id=character.id, instruction="at night"
    )
    assert "at night" in rig.gemini.requests_for(IMAGE_MODEL)[-1].text
    assert regenerated.character.meta["imageKey"] != meta["imageKey"]
    assert meta["imageKey"] not in rig.s3.list_keys(rig.bucket)  # the old portrait is removed

    stored = rig.s3.get_object(rig.bucket, regenerated.character.meta["imageKey"])[0]
    variant = await rig.pipeline.create_variant(
        user_id=user.id, character_id=character.id, instruction="make them smile"
    )
    edit = rig.gemini.requests_for(IMAGE_MODEL)[-1]
    assert "make them smile" in edit.text
    assert edit.images == [stored]
    assert variant.theme.name == "Variations"
    assert variant.variant.meta["imageKey"] in rig.s3.list_keys(rig.bucket)
    user_row, gens, _ = await _state(session_factory, user.id)
    assert [g.status for g in gens] == ["completed"] * 3
    assert all(g.completed_at for g in gens)
    assert user_row.daily_used == 3
    assert user_row.total_characters_created == 1
    assert user_row.total_images_generated == 3


FAILURES = [
    pytest.param("blocked", TEXT_MODEL, "blocked", id="prompt-blocked"),
    pytest.param("image_safety", IMAGE_MODEL, "safety", id="image-safety"),
    pytest.param("no_image", IMAGE_MODEL, "no_image", id="no-image"),
    pytest.param("429", IMAGE_MODEL, "rate_limited", id="429-after-retries"),
    pytest.param("500", IMAGE_MODEL, "unavailable", id="500"),
    pytest.param("hang", IMAGE_MODEL, "timeout", id="timeout"),
]


@pytest.mark.parametrize(("kind", "model", "expected"), FAILURES)
async def test_provider_failure_fails_refunds_and_leaves_nothing(
    rig: Rig, session_factory, kind, model, expected
):
    """Each provider failure: generation failed with a readable message, the unit back once,
    no character row, no object in the bucket."""
    user = await _user(session_factory, daily_quota=3, daily_used=1)
    rig.gemini.fail_next(kind, times=None, model=model)
    with pytest.raises(GenerationError) as info:
        await rig.pipeline.create_character(
            CreateRequest(user_id=user.id, description="a tinker with brass goggles")
        )
    assert info.value.kind == expected
    user_row, gens, chars = await _state(session_factory, user.id)
    assert user_row.daily_used == 1
    assert [g.status for g in gens] == ["failed"]
    assert gens[0].error_message == str(info.value)
    assert "pipeline-test-key" not in gens[0].error_message
    assert chars == []
    assert rig.s3.list_keys(rig.bucket) == []


async def test_storage_failure_fails_and_refunds(rig: Rig, session_factory):
    """When the bucket refuses the upload, the generation fails and is refunded."""
    user = await _user(session_factory, daily_quota=3)
    rig.pipeline.storage._bucket = "no-such-bucket-here"  # type: ignore[attr-defined]
    with pytest.raises(StorageError):
        await rig.pipeline.create_character(CreateRequest(user_id=user.id, description="a cooper"))
    user_row, gens, chars = await _state(session_factory, user.id)
    assert user_row.daily_used == 0
    assert [g.status for g in gens] == ["failed"]
    assert chars == []


async def test_database_error_after_the_provider_call(rig: Rig, session_factory, engine):
    """A database error while persisting (after the images are stored) fails and refunds the
    generation and removes the stored objects."""
    user = await _user(session_factory, daily_quota=3)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_variant() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_variant BEFORE INSERT ON theme_variants "
                "FOR EACH ROW EXECUTE FUNCTION refuse_variant()"
            )
        )
    try:
        created = await rig.pipeline.create_character(
            CreateRequest(user_id=user.id, description="a potter")
        )
        keys_before = set(rig.s3.list_keys(rig.bucket))
        with pytest.raises(Exception, match="disk full"):
            await rig.pipeline.create_variant(
                user_id=user.id, character_id=created.character.id, instruction="in the rain"
            )
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_variant ON theme_variants"))
            await conn.execute(text("DROP FUNCTION refuse_variant()"))
    user_row, gens, _ = await _state(session_factory, user.id)
    assert user_row.daily_used == 1
    assert sorted(g.status for g in gens) == ["completed", "failed"]
    failed = next(g for g in gens if g.status == "failed")
    assert "Internal error" in (failed.error_message or "")
    assert set(rig.s3.list_keys(rig.bucket)) == keys_before
    async with session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(ThemeVariant)) == 0
    assert set(rig.s3.list_keys(rig.bucket)) <= await _referenced_keys(session_factory)


async def test_offline_providers_run_create_and_variant_with_no_key(session_factory, tmp_path):
    """Without GEMINI_API_KEY and S3, the offline generator and local files do the whole flow,
    and the likeness check scores the variant with a perceptual hash."""
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.offline_generation
    optimizer, images = build_providers(settings, None)
    user = await _user(session_factory, daily_quota=3)
    async with open_storage(settings) as storage:
        pipeline = GenerationPipeline(
            Database(session_factory),
            storage,
            optimizer,
            images,
            slots=GenerationSlots(2),
            text_model="offline",
            image_model="offline",
            likeness=build_likeness_judge(settings, None),
            likeness_threshold=settings.consistency_threshold,
        )
        created = await pipeline.create_character(
            CreateRequest(
                user_id=user.id, description="a cheerful baker named Rosa", style="cartoon"
            )
        )
        variant = await pipeline.create_variant(
            user_id=user.id, character_id=created.character.id, instruction="flour on the nose"
        )
    assert created.image.startswith(b"\x89PNG")
    assert variant.image.startswith(b"\x89PNG")
    assert (tmp_path / "images" / created.character.meta["imageKey"]).is_file()
    assert (tmp_path / "images" / variant.variant.meta["imageKey"]).is_file()
    assert variant.variant.meta["likenessScore"] >= settings.consistency_threshold
    assert variant.variant.meta["likenessAttempts"] == 1


async def test_a_portrait_that_cannot_be_thumbnailed_leaves_nothing_stored(
    rig: Rig, session_factory
):
    """The portrait's upload starts beside its thumbnail; when the thumbnail fails (a
    truncated image), the upload is taken back, the generation fails as the provider's bad
    answer and is refunded."""
    user = await _user(session_factory, daily_quota=3)
    whole = rig.gemini.image_png
    big = io.BytesIO()
    Image.effect_noise((256, 256), 40).convert("RGB").save(big, format="PNG")
    rig.gemini.image_png = big.getvalue()[: len(big.getvalue()) // 2]
    try:
        with pytest.raises(GenerationError) as info:
            await rig.pipeline.create_character(
                CreateRequest(user_id=user.id, description="a glassblower")
            )
    finally:
        rig.gemini.image_png = whole
    assert info.value.kind == "invalid_response"  # the provider's fault, not the member's
    user_row, gens, chars = await _state(session_factory, user.id)
    assert user_row.daily_used == 0
    assert [g.status for g in gens] == ["failed"]
    assert chars == []
    assert rig.s3.list_keys(rig.bucket) == []


async def test_relaxed_only_where_allowed_recorded_and_carried_to_edits(rig: Rig, session_factory):
    """A member who chose relaxed: moderate outside age-restricted channels (said so), relaxed
    inside (recorded on the character and its portrait); an image made under relaxed is not
    edited outside, and what is made from it counts as relaxed; a later portrait drawn under
    moderate clears the portrait's mark but never the character's."""
    user = await _user(session_factory, daily_quota=10, content_filter_level="relaxed")
    outside = await rig.pipeline.create_character(
        CreateRequest(user_id=user.id, description="a plain knight")
    )
    assert outside.filter_lowered
    assert not outside.relaxed
    assert "contentFilter" not in outside.character.meta
    thresholds = {s["threshold"] for s in rig.gemini.requests[-1].body["safetySettings"]}
    assert thresholds == {"BLOCK_MEDIUM_AND_ABOVE"}
    inside = await rig.pipeline.create_character(
        CreateRequest(user_id=user.id, description="a night knight", age_restricted=True)
    )
    assert not inside.filter_lowered
    assert inside.relaxed
    assert inside.character.meta["contentFilter"] == "relaxed"
    assert inside.character.meta["portraitContentFilter"] == "relaxed"
    thresholds = {s["threshold"] for s in rig.gemini.requests[-1].body["safetySettings"]}
    assert thresholds == {"BLOCK_ONLY_HIGH"}
    cid = inside.character.id

    def edit(instruction: str, **kw) -> VariantRequest:
        return VariantRequest(user_id=user.id, character_id=cid, instruction=instruction, **kw)

    with pytest.raises(InvalidInputError) as refused:
        await rig.pipeline.edit_image(edit("smile", from_portrait=True))
    assert refused.value.reason_key == "invalid.relaxed_source"
    made = await rig.pipeline.edit_image(edit("smile", from_portrait=True, age_restricted=True))
    assert made.variant is not None
    assert made.variant.meta["contentFilter"] == "relaxed"
    redrawn = await rig.pipeline.regenerate(user_id=user.id, character_id=cid)
    assert redrawn.filter_lowered
    assert "portraitContentFilter" not in redrawn.character.meta
    assert redrawn.character.meta["contentFilter"] == "relaxed"  # its variants still are
    # the new portrait may be edited outside; the relaxed variant may not
    edited = await rig.pipeline.edit_image(edit("wave", from_portrait=True))
    assert edited.variant is not None
    assert "contentFilter" not in edited.variant.meta
    with pytest.raises(InvalidInputError):
        await rig.pipeline.edit_image(edit("wave", source_variant_id=made.variant.id))
    from_variant = await rig.pipeline.edit_image(
        edit("wave", source_variant_id=made.variant.id, age_restricted=True)
    )
    assert from_variant.variant is not None
    assert from_variant.variant.meta["parentVariantId"] == made.variant.id
    assert from_variant.variant.meta["contentFilter"] == "relaxed"


async def test_generations_are_accepted_in_arrival_order_a_few_at_a_time(rig: Rig, session_factory):
    """While every place of acceptance is taken, a create waits before it charges the member
    or writes a row; freed places go to the waiting creates in the order they came."""
    first = await _user(session_factory, daily_quota=5)
    second = await _user(session_factory, daily_quota=5)
    runner = rig.pipeline.runner
    held: list[contextlib.AbstractAsyncContextManager[None]] = []
    for _ in range(DEFAULT_ACCEPTING_AT_ONCE):
        place = runner.accepting()
        await place.__aenter__()
        held.append(place)

    def create(user: User) -> asyncio.Task[object]:
        request = CreateRequest(user_id=user.id, description="a tide-pool naturalist")
        return asyncio.create_task(rig.pipeline.create_character(request))

    creates = [create(first)]
    await asyncio.sleep(0.05)
    creates.append(create(second))
    await asyncio.sleep(0.3)
    for user in (first, second):
        row, gens, chars = await _state(session_factory, user.id)
        assert (row.daily_used, gens, chars) == (0, [], [])
    assert not any(task.done() for task in creates)

    await held.pop().__aexit__(None, None, None)  # one place: the first create, then the second
    await asyncio.gather(*creates)
    (_, [first_gen], _), (_, [second_gen], _) = [
        await _state(session_factory, u.id) for u in (first, second)
    ]
    assert first_gen.created_at < second_gen.created_at
    for place in held:
        await place.__aexit__(None, None, None)
    for user in (first, second):
        row, [gen], [char] = await _state(session_factory, user.id)
        assert (row.daily_used, gen.status, char.generation_status) == (1, "completed", "completed")


@pytest.mark.parametrize(("pool", "places"), [(1, 1), (2, 1), (10, 5), (25, 12)])
def test_half_the_database_pool_accepts_generations(pool: int, places: int):
    assert accepting_at_once(pool) == places


async def test_accepted_all_waits_while_a_generation_waits_to_be_accepted(rig: Rig):
    """``accepted_all`` returns at once when no generation waits for a place of acceptance,
    else once the last waiting one got its place."""
    runner = rig.pipeline.runner
    await asyncio.wait_for(runner.accepted_all(), 0.1)  # nobody waits
    held: list[contextlib.AbstractAsyncContextManager[None]] = []
    for _ in range(DEFAULT_ACCEPTING_AT_ONCE):
        place = runner.accepting()
        await place.__aenter__()
        held.append(place)
    waiting = runner.accepting()
    entered = asyncio.create_task(waiting.__aenter__())
    await asyncio.sleep(0.01)
    quiet = asyncio.create_task(runner.accepted_all())
    await asyncio.sleep(0.1)
    assert not quiet.done()
    await held.pop().__aexit__(None, None, None)  # the waiting one gets its place
    await asyncio.wait_for(quiet, 1.0)
    await entered
    await waiting.__aexit__(None, None, None)
    for place in held:
        await place.__aexit__(None, None, None)
