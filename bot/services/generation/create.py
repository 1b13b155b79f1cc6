"""/character create: prepare (check the input, charge, insert the pending character and
generation) → provider (attributes + prompt, then the portrait) → persist (store the images,
fill the character in, complete the generation).

A flow that shows the portrait as soon as it is drawn (:class:`ShowsDrawn`) is given it between
the provider and the persist, with the character as it will be saved; the persist goes on
meanwhile, and its failure is the generation's as before (failed, refunded, nothing kept)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import NotFoundError
from bot.providers.base import ImageProvider, ImageResult, PromptOptimizer, PromptResult
from bot.services.generation.accept import Acceptance, accept_create, accepting, begin
from bot.services.generation.inputs import (
    CreateInputs,
    apply_attributes,
    create_inputs,
    placeholder_character,
    placeholder_values,
)
from bot.services.generation.model import (
    CreateRequest,
    Outcome,
    Progress,
    RemixOrigin,
)
from bot.services.generation.runner import GenerationRunner, Job
from bot.services.generation.steps import (
    effective_filter,
    finish,
    generating_user,
    lock_member,
    locked_character,
    mark_relaxed,
    portrait_outcome,
    shown_then_saved,
    store_drawn,
    store_reference,
)
from bot.services.quota import QuotaStatus
from bot.services.remix_rules import remixable
from db.meta import (
    ART_STYLE,
    GENDER,
    GENERATION_ID,
    IMAGE_KEY,
    IMAGE_MODEL,
    REFERENCE_KEY,
    REMIX_OF,
    REMIX_OF_CREATOR,
    REMIX_OF_CREATOR_NAME,
    REMIX_OF_NAME,
    TEXT_MODEL,
    THUMBNAIL_KEY,
)
from db.models import Character


def remix_meta(origin: RemixOrigin) -> dict[str, str]:
    """What a remix records of its original: its id and creator, and the credit's names."""
    return {
        REMIX_OF: origin.character_id,
        REMIX_OF_CREATOR: origin.creator_user_id,
        REMIX_OF_NAME: origin.character_name,
        REMIX_OF_CREATOR_NAME: origin.creator_name,
    }


@dataclass(frozen=True)
class _Prepared:
    job: Job
    character_id: str
    inputs: CreateInputs
    content_filter: str
    filter_lowered: bool
    quota: QuotaStatus


async def _prepare(
    runner: GenerationRunner, request: CreateRequest, acceptance: Acceptance
) -> _Prepared:
    inputs = create_inputs(request)
    resumed = acceptance.resumed is not None
    if not resumed:
        runner.check_open()
        if acceptance.queued:
            return await _accept(runner, request, acceptance, inputs)
    async with runner.db.transaction() as session:
        user = await generating_user(session, request.user_id)
        character_id: str | None = None
        if not resumed:
            if request.remix is not None:  # still public, still allowed: else nothing is charged
                await remixable(
                    session, request.remix.character_id, user.id, request.remix.guild_id
                )
            character = placeholder_character(user.id, inputs)
            if request.remix is not None:
                character.meta = {**(character.meta or {}), **remix_meta(request.remix)}
            session.add(character)
            await session.flush()
            character_id = character.id
        generation, quota = await begin(
            session,
            user,
            acceptance,
            prompt=inputs.description,
            style=inputs.style,
            character_id=character_id,
        )
        character_id = character_id or generation.character_id
        if character_id is None:  # the placeholder is gone: nothing to finish
            raise NotFoundError("character")
        content_filter, lowered = effective_filter(
            user.content_filter_level, request.age_restricted
        )
    job = Job(generation.id, "create", user.id, placeholder_character_id=character_id)
    return _Prepared(job, character_id, inputs, content_filter, lowered, quota)


async def _accept(
    runner: GenerationRunner, request: CreateRequest, acceptance: Acceptance, inputs: CreateInputs
) -> _Prepared:
    """A new create, into the queue: the member (and a remix's original) read, then the
    acceptance in one statement (:func:`accept_create`), which commits on its own; one
    connection for both."""
    placeholder = placeholder_values(inputs)
    async with runner.db.statement() as session:
        user = await generating_user(session, request.user_id)
        if request.remix is not None:  # still public, still allowed: else nothing is charged
            await remixable(session, request.remix.character_id, user.id, request.remix.guild_id)
            placeholder["meta"] = {**placeholder["meta"], **remix_meta(request.remix)}
        generation, quota = await accept_create(session, user, acceptance, placeholder)
    character_id = str(generation.character_id)
    content_filter, lowered = effective_filter(user.content_filter_level, request.age_restricted)
    job = Job(generation.id, "create", user.id, placeholder_character_id=character_id)
    return _Prepared(job, character_id, inputs, content_filter, lowered, quota)


async def _draw(
    runner: GenerationRunner,
    optimizer: PromptOptimizer,
    images: ImageProvider,
    prepared: _Prepared,
    request: CreateRequest,
    progress: Progress,
) -> tuple[PromptResult, ImageResult]:
    job, inputs = prepared.job, prepared.inputs
    await progress("prompt", None)
    optimized = await runner.call_provider(
        job,
        "text",
        "prompt",
        progress,
        lambda: optimizer.optimize(
            inputs.description,
            style=inputs.style,
            name=inputs.name,
            gender=inputs.gender,
            age=inputs.age,
            content_filter=prepared.content_filter,
        ),
    )
    await progress("drawing", None)
    image = await runner.call_provider(
        job,
        "image",
        "drawing",
        progress,
        lambda: images.generate(
            optimized.prompt,
            style=inputs.style,
            content_filter=prepared.content_filter,
            reference=request.reference,
            reference_mime=request.reference_mime,
        ),
    )
    return optimized, image


async def _persist(
    runner: GenerationRunner,
    prepared: _Prepared,
    request: CreateRequest,
    optimized: PromptResult,
    image: ImageResult,
    progress: Progress,
) -> Outcome:
    job, character_id, style = prepared.job, prepared.character_id, prepared.inputs.style
    await progress("saving", None)
    stored = await store_drawn(runner, job, character_id, image, variant=None)
    ref_key: str | None = None
    reference_url: str | None = None
    if request.reference is not None:
        ref_key, reference_url = await store_reference(
            runner, job, character_id, request.reference, request.reference_mime
        )

    async def write() -> Character:
        async with runner.db.transaction() as session:
            await lock_member(session, job.user_id)
            row = await locked_character(session, character_id)
            apply_attributes(row, optimized, prepared.inputs)
            row.image_url = row.s3_url = stored.image_url
            row.thumbnail_url = stored.thumbnail_url
            row.reference_image_url = reference_url
            row.generation_status = "completed"
            row.meta = {
                **(row.meta or {}),
                GENDER: row.gender,
                ART_STYLE: style,
                TEXT_MODEL: optimized.model,
                IMAGE_MODEL: image.model,
                IMAGE_KEY: stored.image_key,
                THUMBNAIL_KEY: stored.thumbnail_key,
                GENERATION_ID: job.generation_id,
            }
            if ref_key:
                row.meta[REFERENCE_KEY] = ref_key
            mark_relaxed(row, prepared.content_filter, portrait=True)
            await finish(session, job, user_id=row.user_id, new_character=True)
        return row

    with job.timed("db_persist"):
        row = await runner.write(progress, write)
    return portrait_outcome(prepared, row, image)


def _preview(
    prepared: _Prepared, request: CreateRequest, optimized: PromptResult, image: ImageResult
) -> Outcome:
    """The drawn character as the persist will fill it in, in memory only (not completed)."""
    character = placeholder_character(prepared.job.user_id, prepared.inputs)
    character.id = prepared.character_id
    if request.remix is not None:
        character.meta = {**(character.meta or {}), **remix_meta(request.remix)}
    apply_attributes(character, optimized, prepared.inputs)
    mark_relaxed(character, prepared.content_filter, portrait=True)
    return portrait_outcome(prepared, character, image)


async def create_character(
    runner: GenerationRunner,
    optimizer: PromptOptimizer,
    images: ImageProvider,
    request: CreateRequest,
    progress: Progress,
    acceptance: Acceptance | None = None,
) -> Outcome:
    """Create a character: attributes + prompt, portrait, thumbnail, rows (``acceptance``:
    a worker takes it up again).

    Raises:
        InvalidInputError, QuotaExceededError, AccountRestrictedError, GenerationError,
        StorageError; anything else after the generation failed and was refunded.
    """
    acceptance = acceptance or accepting(runner, "create", request, progress)
    async with runner.accepting():
        prepared = await _prepare(runner, request, acceptance)

    async def work() -> Outcome:
        optimized, image = await _draw(runner, optimizer, images, prepared, request, progress)
        return await shown_then_saved(
            runner,
            prepared.job,
            progress,
            lambda: _preview(prepared, request, optimized, image),
            lambda: _persist(runner, prepared, request, optimized, image, progress),
        )

    return await runner.run(prepared.job, progress, work)
