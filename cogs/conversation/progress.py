"""An edit's progress in a conversation: a reply to the member's message (with Cancel) that
shows each stage, then becomes the variant, or says it was cancelled or failed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import discord

from bot.errors import DomainError, GenerationCancelled, GenerationReleased, HandedToWorker
from bot.i18n import Catalog
from bot.interactions.replies import NO_MENTIONS, localize_error
from bot.services.jobs.reply import ReplyTarget
from cogs.conversation.cancel import cancel_view

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReplyProgress:
    """Posted once the generation exists (a refusal before that posts nothing here); edits run
    beside the generation, only the latest stage waiting while one is on its way."""

    def __init__(
        self,
        catalog: Catalog,
        lang: str,
        reply_to: discord.Message,
        on_started: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._catalog = catalog
        self._lang = lang
        self._reply_to = reply_to
        self._on_started = on_started
        self._view: discord.ui.View | None = None
        self._wanted: str | None = None
        self._shown: str | None = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._started_task: asyncio.Task[None] | None = None
        self.message: discord.Message | None = None
        self.started = False
        self.reply_target = ReplyTarget(channel_id=reply_to.channel.id, lang=lang)
        """Where a worker posts the result if this flow is gone by then (the channel)."""

    def generation_started(self, generation_id: str) -> None:
        """Post the progress reply, with Cancel."""
        self.started = True
        self._view = cancel_view(self._catalog, self._lang, generation_id)
        if self._on_started is not None:
            self._started_task = asyncio.create_task(self._on_started())
        self._want(self._catalog.t(self._lang, "progress.starting"))

    async def __call__(self, stage: str, position: int | None) -> None:
        self._want(self._catalog.t(self._lang, f"progress.{stage}", position=position or 0))

    def _want(self, text: str) -> None:
        if self._closed or text == self._wanted:
            return
        self._wanted = text
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._show())

    async def _show(self) -> None:
        while not self._closed and self._wanted is not None and self._wanted != self._shown:
            text = self._wanted
            try:
                if self.message is None:
                    self.message = await self._reply_to.reply(
                        content=text,
                        view=self._view or discord.utils.MISSING,
                        allowed_mentions=NO_MENTIONS,
                    )
                else:
                    await self.message.edit(content=text, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException:
                log.info("could not show an edit's progress", exc_info=True)
            self._shown = text

    async def flush(self) -> None:
        """Wait until the latest stage is shown (the flow ends here; a worker posts later)."""
        for task in (self._task, self._started_task):
            if task is not None:
                with contextlib.suppress(Exception):
                    await task

    async def settle(self) -> None:
        """Show no further stage; wait for a post or edit on its way."""
        self._closed = True
        await self.flush()

    async def finish(self, **fields: Any) -> discord.Message:
        """The progress reply becomes ``fields`` (content, embed, attachments, view); posted as
        a reply when there is no progress reply to edit."""
        fields.setdefault("allowed_mentions", NO_MENTIONS)
        if self.message is not None:
            try:
                return await self.message.edit(**fields)
            except discord.NotFound:
                log.info("the progress reply is gone; replying anew")
        files = fields.pop("attachments", None)
        if files:
            fields["files"] = files
        return await self._reply_to.reply(**fields)

    async def say(self, text: str) -> None:
        """End with a text (cancelled, failed), the Cancel button gone."""
        try:
            if self.message is not None:
                await self.message.edit(content=text, view=None, allowed_mentions=NO_MENTIONS)
            else:
                await self._reply_to.reply(content=text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.info("could not say how an edit ended", exc_info=True)


async def settled_edit(
    progress: ReplyProgress, catalog: Catalog, lang: str, work: Callable[[], Awaitable[T]]
) -> T | None:
    """Run a conversation edit under its progress reply; what went wrong becomes that reply
    (cancelled, failed with its reason, refunded at shutdown, an unexpected error with a
    reference), and the result is None. A refusal before the generation started is raised."""
    try:
        try:
            return await work()
        finally:
            await progress.settle()
    except GenerationCancelled:
        await progress.say(catalog.t(lang, "conversation.cancelled"))
    except HandedToWorker:  # queued: the worker posts the result
        pass
    except GenerationReleased as released:  # back in the queue: a worker posts it later
        await progress.say(catalog.t(lang, released.key))
    except DomainError as exc:
        if not progress.started:
            raise
        reason = localize_error(catalog, lang, exc)
        await progress.say(catalog.t(lang, "conversation.failed", reason=reason))
    except asyncio.CancelledError:
        await asyncio.shield(progress.say(catalog.t(lang, "error.shutdown_refunded")))
        raise
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("conversation edit failed ref=%s", reference)
        await progress.say(catalog.t(lang, "error.unexpected", ref=reference))
    return None
