"""A generation as the member sees it: the acknowledgement, its stages shown in the response,
the shutdown guard, the portrait's attachment, and the new portrait of a character that both
``/character regenerate`` and the Regenerate button draw."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord

from bot.errors import DatabaseUnavailableError, GenerationReleased, HandedToWorker
from bot.i18n import Catalog
from bot.interactions.caller import Caller, cached_caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import (
    GENERATED,
    NO_MENTIONS,
    POSTED,
    answer_failure,
    reply_target,
    token_alive,
)
from bot.services import notices
from bot.services.generation import Outcome
from bot.services.generation.model import POST_FIRST_SECONDS
from bot.services.jobs.reply import ReplyTarget
from bot.storage.images import extension_for
from bot.ui.files import file_of
from cogs.conversation.cancel import cancel_view

R = TypeVar("R")
OnDrawn = Callable[[Outcome], Awaitable[None]]
"""Shows a result as soon as it is drawn, before it is saved (see :class:`ProgressReporter`)."""

log = logging.getLogger(__name__)


def image_file(data: bytes, mime: str, stem: str = "portrait") -> Callable[[], list[discord.File]]:
    """A factory of the attachment (a discord.File can be sent only once)."""
    filename = f"{stem}.{extension_for(mime)}"
    return lambda: [file_of(data, filename)]


def image_filename(mime: str, stem: str = "portrait") -> str:
    """The attachment name embeds refer to."""
    return f"{stem}.{extension_for(mime)}"


async def defer(interaction: discord.Interaction[Any], *, public: bool) -> None:
    """Acknowledge at once: Discord allows three seconds."""
    if interaction.response.is_done():
        return
    await interaction.response.defer(thinking=True, ephemeral=not public)
    interaction.extras["public_defer"] = public


class ProgressReporter:
    """Shows the stage (queued with position, prompt, drawing, saving) in the deferred response
    without holding the generation up: the edit runs beside it, and while one is on its way
    only the latest stage waits to be shown (stages passed meanwhile are skipped). Once the
    generation exists, a Cancel button comes with it. :meth:`settle` ends it before the result
    takes the response's place.

    With ``on_drawn``, a use case that shows its result before saving it (``drawn``) has it
    posted at once, beside the save, in place of the stages. With ``quiet``, the first stage
    waits for it (for a burst of generations being accepted to end)."""

    def __init__(
        self,
        catalog: Catalog,
        interaction: discord.Interaction[Any],
        lang: str,
        on_drawn: OnDrawn | None = None,
        *,
        quiet: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._catalog = catalog
        self._quiet = quiet
        self._interaction = interaction
        self._lang = lang
        self._wanted: str | None = None
        self._shown: str | None = None
        self._closed = False
        self._now = asyncio.Event()
        """Set by :meth:`flush`: the first stage no longer waits for ``quiet``."""
        self._task: asyncio.Task[None] | None = None
        self._view: discord.ui.View | None = None
        self._on_drawn = on_drawn
        self._posting: asyncio.Task[None] | None = None

    @property
    def reply_target(self) -> ReplyTarget:
        """Where a worker posts the result if this flow is gone by then."""
        return reply_target(self._interaction, self._lang)

    def generation_started(self, generation_id: str) -> None:
        """Offer Cancel with every stage shown from now on."""
        self._view = cancel_view(self._catalog, self._lang, generation_id)

    async def __call__(self, stage: str, position: int | None) -> None:
        text = self._catalog.t(self._lang, f"progress.{stage}", position=position or 0)
        if self._closed or text == self._wanted:
            return
        self._wanted = text
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._show())

    async def _show(self) -> None:
        if self._shown is None and self._quiet is not None:  # the first stage: after a burst
            await self._until_quiet(self._quiet)
        while not self._closed and self._wanted is not None and self._wanted != self._shown:
            text = self._wanted
            if not token_alive(self._interaction):
                return
            with contextlib.suppress(discord.HTTPException):
                await self._interaction.edit_original_response(
                    content=text,
                    allowed_mentions=NO_MENTIONS,
                    view=self._view or discord.utils.MISSING,
                )
            self._shown = text

    async def _until_quiet(self, quiet: Callable[[], Awaitable[None]]) -> None:
        """Wait for ``quiet``, or until the stage is wanted now (or never)."""
        waits = [asyncio.ensure_future(quiet()), asyncio.ensure_future(self._now.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def drawn(self, preview: Outcome) -> None:
        """Post the drawn result now (after a stage edit on its way); its save waits for the
        post for at most ``POST_FIRST_SECONDS``. No stage is shown after it."""
        if self._on_drawn is None or self._closed:
            return
        self._closed = True
        self._posting = asyncio.create_task(self._post_drawn(self._on_drawn, preview))
        await asyncio.wait({self._posting}, timeout=POST_FIRST_SECONDS)

    async def _post_drawn(self, on_drawn: OnDrawn, preview: Outcome) -> None:
        await self.flush()
        try:
            await on_drawn(preview)
        except Exception:  # the result is posted whole once saved instead
            log.warning("could not show the drawn result early", exc_info=True)

    async def flush(self) -> None:
        """Wait until the latest stage is shown (the flow ends here; a worker posts later): at
        once, not after a burst, so it is shown before the worker's post."""
        self._now.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def settle(self) -> None:
        """Show no further stage; wait for an edit already on its way, so it cannot land after
        the result."""
        self._closed = True
        await self.flush()
        if self._posting is not None:
            await self._posting


async def guarded(
    interaction: discord.Interaction[Any],
    lang: str,
    run: Callable[[], Awaitable[R]],
    progress: ProgressReporter | None = None,
) -> R:
    """Run a generation; on shutdown tell the member their unit came back; when a database
    outage outlived the interaction's token, keep what became of their unit as a notice for
    their next reply. Its progress is settled before anything else is said in the response."""
    try:
        try:
            outcome = await run()
        finally:
            if progress is not None:
                await progress.settle()
        interaction.extras[GENERATED] = True
        interaction.extras.pop(POSTED, None)  # saved: what it showed stands
        return outcome
    except DatabaseUnavailableError as error:
        member = cached_caller(interaction)
        if member is not None and not token_alive(interaction):
            with contextlib.suppress(Exception):
                await notices.keep_notice(
                    deps_of(interaction.client).db, member.user.id, error.key, error.params
                )
        raise
    except GenerationReleased as released:  # the response says so; a worker edits it later
        catalog = deps_of(interaction.client).catalog
        with contextlib.suppress(discord.HTTPException):
            await interaction.edit_original_response(
                content=catalog.t(lang, released.key), view=None, allowed_mentions=NO_MENTIONS
            )
        raise HandedToWorker from None
    except asyncio.CancelledError:
        catalog = deps_of(interaction.client).catalog
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                answer_failure(interaction, catalog.t(lang, "error.shutdown_refunded")), 5
            )
        raise


async def generate(
    interaction: discord.Interaction[Any],
    lang: str,
    run: Callable[[ProgressReporter], Awaitable[R]],
    *,
    on_drawn: OnDrawn | None = None,
) -> R:
    """A generation of the interaction's, its stages shown as it goes (``run(progress)`` starts
    it; ``on_drawn`` shows its result before it is saved) and guarded against shutdown."""
    deps = deps_of(interaction.client)
    progress = ProgressReporter(
        deps.catalog, interaction, lang, on_drawn=on_drawn, quiet=deps.pipeline.runner.accepted_all
    )
    return await guarded(interaction, lang, lambda: run(progress), progress)


def filter_note(catalog: Catalog, lang: str, outcome: Outcome) -> str:
    """The line that tells the member, once per result, that their relaxed filter gave way to
    moderate here (empty when it did not)."""
    if not outcome.filter_lowered:
        return ""
    return "\n" + catalog.t(lang, "filter.lowered")


async def new_portrait(
    interaction: discord.Interaction[Any],
    caller: Caller,
    character_id: str,
    instruction: str | None = None,
    *,
    age_restricted: bool = False,
    on_drawn: OnDrawn | None = None,
) -> Outcome:
    """The caller's character drawn again (its prompt, plus an instruction), its stages shown
    in the interaction's response (``on_drawn``: the new portrait shown before it is saved).

    Raises: NotFoundError, NotOwnerError, QuotaExceededError, AccountRestrictedError,
    GenerationError, StorageError, InvalidInputError.
    """
    pipeline = deps_of(interaction.client).pipeline
    return await generate(
        interaction,
        caller.lang,
        lambda progress: pipeline.regenerate(
            user_id=caller.user.id,
            character_id=character_id,
            instruction=instruction,
            progress=progress,
            age_restricted=age_restricted,
        ),
        on_drawn=on_drawn,
    )
