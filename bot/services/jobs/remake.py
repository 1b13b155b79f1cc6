"""A generation made again from its job, by a worker no flow waits on: its kind's use case,
taken up (nothing charged again), its request read back from the job row."""

from __future__ import annotations

from typing import Any

from bot.services.generation import create, regenerate, variant
from bot.services.generation.accept import Acceptance
from bot.services.generation.model import (
    CreateRequest,
    RegenerateRequest,
    VariantRequest,
    no_progress,
)
from bot.services.generation.pipeline import GenerationPipeline
from bot.services.jobs.codec import decode
from bot.services.jobs.store import TakenUp
from bot.services.scenes.create import create_scene
from bot.services.scenes.model import SceneJob
from bot.services.scenes.variants import SceneVariantRequest, create_scene_variant


async def remake(pipeline: GenerationPipeline, found: TakenUp) -> Any:
    """Make the generation of ``found`` (its job) again.

    Raises: whatever its use case raises (it was failed and refunded then); ValueError for a
    kind this version does not know.
    """
    runner, images = pipeline.runner, pipeline.images
    acceptance = Acceptance(found.kind, None, found.reply, resumed=found.generation_id)
    if found.kind == "create":
        request = decode(CreateRequest, found.request, found.reference)
        return await create.create_character(
            runner, pipeline.optimizer, images, request, no_progress, acceptance
        )
    if found.kind == "regenerate":
        again = decode(RegenerateRequest, found.request, None)
        return await regenerate.regenerate(
            runner,
            images,
            user_id=again.user_id,
            character_id=again.character_id,
            instruction=again.instruction,
            progress=no_progress,
            age_restricted=again.age_restricted,
            check=pipeline.likeness,
            acceptance=acceptance,
        )
    if found.kind == "variant":
        edit = decode(VariantRequest, found.request, None)
        turn = None
        if edit.conversation_id is not None:
            turn = pipeline.turns.turn(edit.conversation_id, edit.user_id)
        return await variant.create_variant(
            runner,
            images,
            edit,
            no_progress,
            turn=turn,
            check=pipeline.likeness,
            acceptance=acceptance,
        )
    if found.kind == "scene":
        job = decode(SceneJob, found.request, None)
        return await create_scene(
            runner, images, job.request, no_progress, scene_id=job.scene_id, acceptance=acceptance
        )
    if found.kind == "scene_variant":
        scene_edit = decode(SceneVariantRequest, found.request, None)
        turn = None
        if scene_edit.conversation_id is not None:
            turn = pipeline.turns.turn(scene_edit.conversation_id, scene_edit.user_id)
        return await create_scene_variant(
            runner, images, scene_edit, no_progress, turn=turn, acceptance=acceptance
        )
    msg = f"unknown generation kind {found.kind!r}"
    raise ValueError(msg)
