"""/theme apply as members meet it: a theme's recipe re-run on another of their characters,
step by step, with a progress list in the response (each step waiting, drawing, made, or failed
and refunded) and each step's variant posted as it is made.

A failed step refunds its own unit (the generation pipeline does) and the recipe goes on with
the next: members expect what can be made to be made. Shutdown stops the recipe (the running
step is refunded, the later ones were never charged).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.errors import DomainError
from bot.i18n import Catalog
from bot.interactions.caller import caller
from bot.interactions.deps import Deps, deps_of
from bot.interactions.replies import NO_MENTIONS, deliver, error_reply, token_alive
from bot.services.generation import Outcome
from bot.services.generation.model import Progress, VariantRequest
from bot.services.themes.recipes import Recipe, recipe_for
from bot.ui.embeds import variant_embed
from bot.ui.text import CONTENT_MAX, clip
from cogs.characters.generating import defer, guarded, image_file, image_filename

log = logging.getLogger(__name__)

_INSTRUCTION_IN_LINE = 60
_REASON_IN_LINE = 120


class RecipeBoard:
    """The progress list in the deferred response: one line per step. Edits run beside the
    generations; while one is on its way only the latest list waits to be shown."""

    def __init__(
        self, catalog: Catalog, interaction: discord.Interaction[Any], lang: str, recipe: Recipe
    ) -> None:
        self._catalog = catalog
        self._interaction = interaction
        self._lang = lang
        self._recipe = recipe
        self._states = [catalog.t(lang, "recipe.step_waiting")] * len(recipe.instructions)
        self._shown: str | None = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def render(self) -> str:
        """The header and one line per step."""
        t, lang, recipe = self._catalog.t, self._lang, self._recipe
        lines = [
            t(
                lang,
                "recipe.header",
                theme=clip(recipe.theme_name, 50),
                name=clip(recipe.target_name or t(lang, "character.unnamed"), 100),
                steps=len(recipe.instructions),
            )
        ]
        for i, (instruction, state) in enumerate(
            zip(recipe.instructions, self._states, strict=True)
        ):
            lines.append(f"`{i + 1}.` {clip(instruction, _INSTRUCTION_IN_LINE)} — {state}")
        return clip("\n".join(lines), CONTENT_MAX)

    def set(self, step: int, state: str) -> None:
        """Show ``state`` for step ``step`` (0-based)."""
        self._states[step] = state
        if not self._closed and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._show())

    def progress(self, step: int) -> Progress:
        """The progress callback of one step's generation."""

        async def report(stage: str, position: int | None) -> None:
            self.set(step, self._catalog.t(self._lang, f"progress.{stage}", position=position or 0))

        return report

    async def _show(self) -> None:
        while not self._closed and self.render() != self._shown:
            text = self.render()
            if not token_alive(self._interaction):
                return
            with contextlib.suppress(discord.HTTPException):
                await self._interaction.edit_original_response(
                    content=text, allowed_mentions=NO_MENTIONS
                )
            self._shown = text

    async def settle(self) -> None:
        """Show no further list; wait for an edit already on its way."""
        self._closed = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


async def _post_step(
    interaction: discord.Interaction[Any], lang: str, step: int, steps: int, outcome: Outcome
) -> None:
    """Post one step's variant as a followup of the response (best effort)."""
    deps = deps_of(interaction.client)
    if outcome.variant is None or outcome.theme is None or not token_alive(interaction):
        return
    embed = variant_embed(
        deps.catalog,
        lang,
        outcome.character,
        outcome.theme,
        outcome.variant,
        image_filename=image_filename(outcome.mime_type, "variant"),
    )
    content = deps.catalog.t(
        lang, "recipe.step_made", step=step + 1, steps=steps, theme=clip(outcome.theme.name, 50)
    )
    try:
        await interaction.followup.send(
            content=content,
            embed=embed,
            files=image_file(outcome.image, outcome.mime_type, "variant")(),
            allowed_mentions=NO_MENTIONS,
        )
    except discord.HTTPException:
        log.info("could not post step %d of a recipe", step + 1)


def _step(
    deps: Deps,
    user_id: str,
    recipe: Recipe,
    instruction: str,
    previous_variant_id: str | None,
    progress: Progress,
) -> Callable[[], Awaitable[Outcome]]:
    """One step: an edit of the target filed under the theme's name, building on the last
    step made (``previous_variant_id``, its branch as history), the first on the target's
    portrait; so the recipe repeats the theme's chain of edits."""
    request = VariantRequest(
        user_id=user_id,
        character_id=recipe.target_id,
        instruction=instruction,
        theme_name=recipe.theme_name,
        source_variant_id=previous_variant_id,
        from_portrait=previous_variant_id is None,
    )
    return functools.partial(deps.pipeline.edit_image, request, progress)


async def recipe_flow(
    interaction: discord.Interaction[Any], theme_id: str, character_id: str
) -> None:
    """/theme apply: check the recipe (nothing charged when refused), then run its steps in
    order, each one unit, each failure refunded and passed over."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the posts, not only the generations
    await defer(interaction, public=True)
    member = await caller(interaction)
    lang = member.lang
    recipe = await recipe_for(deps.db, theme_id, character_id, member.user.id)
    board = RecipeBoard(deps.catalog, interaction, lang, recipe)
    steps = len(recipe.instructions)
    made = 0
    previous: str | None = None
    for step, instruction in enumerate(recipe.instructions):
        board.set(step, deps.catalog.t(lang, "recipe.step_running"))
        try:
            run = _step(deps, member.user.id, recipe, instruction, previous, board.progress(step))
            outcome = await guarded(interaction, lang, run)
        except Exception as exc:  # the step failed and was refunded; the others go on
            reason, reference = error_reply(deps.catalog, lang, exc)
            if not isinstance(exc, DomainError):
                log.warning("recipe step %d failed (ref %s)", step + 1, reference, exc_info=exc)
            board.set(
                step,
                deps.catalog.t(lang, "recipe.step_failed", reason=clip(reason, _REASON_IN_LINE)),
            )
            continue
        made += 1
        previous = outcome.variant.id if outcome.variant is not None else previous
        board.set(step, deps.catalog.t(lang, "recipe.step_done"))
        await _post_step(interaction, lang, step, steps, outcome)
    await board.settle()
    summary = deps.catalog.t(
        lang, "recipe.finished", made=made, steps=steps, theme=clip(recipe.theme_name, 50)
    )
    await deliver(interaction, content=clip(f"{board.render()}\n\n{summary}", CONTENT_MAX))
