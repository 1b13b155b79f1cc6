"""The generation flows as members meet them: defer, progress, result, thread.

Shared by slash commands, buttons and modals, so a regenerate from a button behaves like
``/character regenerate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.interactions.replies import NO_MENTIONS, deliver, respond, token_alive
from bot.services import characters as characters_service
from bot.services.generation.pipeline import CreateRequest, Outcome
from bot.storage.images import extension_for, validate_reference_image
from bot.ui.embeds import character_embed, variant_embed
from bot.ui.text import THREAD_NAME_MAX, clip
from cogs.characters.buttons import character_view
from db.models import Character

if TYPE_CHECKING:
    from bot.app import CharBot
    from bot.interactions.caller import Caller

log = logging.getLogger(__name__)

MAX_REFERENCE_BYTES = 10 * 1024 * 1024


def image_file(data: bytes, mime: str, stem: str = "portrait") -> Callable[[], list[discord.File]]:
    """A factory of the attachment (a discord.File can be sent only once)."""
    filename = f"{stem}.{extension_for(mime)}"
    return lambda: [discord.File(io.BytesIO(data), filename=filename)]


def image_filename(mime: str, stem: str = "portrait") -> str:
    """The attachment name embeds refer to."""
    return f"{stem}.{extension_for(mime)}"


def thread_id_of(character: Character) -> int | None:
    """The character's conversation thread (``metadata.conversationId``), if it has one."""
    thread = (character.meta or {}).get("conversationId")
    return int(thread) if thread and str(thread).isdigit() else None


async def defer(interaction: discord.Interaction[Any], *, public: bool) -> None:
    """Acknowledge at once: Discord allows three seconds."""
    if interaction.response.is_done():
        return
    await interaction.response.defer(thinking=True, ephemeral=not public)
    interaction.extras["public_defer"] = public


class ProgressReporter:
    """Shows the stage (queued with position, prompt, drawing, saving) in the deferred response
    without holding the generation up: the edit runs beside it, and while one is on its way
    only the latest stage waits to be shown (stages passed meanwhile are skipped).
    :meth:`settle` ends it before the result takes the response's place."""

    def __init__(self, bot: CharBot, interaction: discord.Interaction[Any], lang: str) -> None:
        self._bot = bot
        self._interaction = interaction
        self._lang = lang
        self._wanted: str | None = None
        self._shown: str | None = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, stage: str, position: int | None) -> None:
        text = self._bot.catalog.t(self._lang, f"progress.{stage}", position=position or 0)
        if self._closed or text == self._wanted:
            return
        self._wanted = text
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._show())

    async def _show(self) -> None:
        while not self._closed and self._wanted is not None and self._wanted != self._shown:
            text = self._wanted
            if not token_alive(self._interaction):
                return
            with contextlib.suppress(discord.HTTPException):
                await self._interaction.edit_original_response(
                    content=text, allowed_mentions=NO_MENTIONS
                )
            self._shown = text

    async def settle(self) -> None:
        """Show no further stage; wait for an edit already on its way, so it cannot land after
        the result."""
        self._closed = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


async def read_reference(attachment: discord.Attachment | None) -> tuple[bytes | None, str | None]:
    """Download and check a reference image (real image, ≤ 10 MB, ≤ 4096 px, no bomb).

    Raises:
        InvalidInputError: not an acceptable image.
    """
    if attachment is None:
        return None, None
    from bot.errors import InvalidInputError

    if attachment.size > MAX_REFERENCE_BYTES:
        raise InvalidInputError(
            "The reference image is too large (at most 10 MB).",
            "invalid.image.too_large",
            size_mb=round(attachment.size / 1024 / 1024, 1),
            max_mb=10,
        )
    try:
        data = await attachment.read()
    except discord.HTTPException:
        raise InvalidInputError(
            "I couldn't download the reference image.", "invalid.image.download"
        ) from None
    return await validate_reference_image(data)


async def guarded(
    bot: CharBot,
    interaction: discord.Interaction[Any],
    lang: str,
    run: Callable[[], Awaitable[Outcome]],
    progress: ProgressReporter | None = None,
) -> Outcome:
    """Run a generation; on shutdown tell the member their unit came back. Its progress is
    settled before anything else is said in the response."""
    try:
        try:
            return await run()
        finally:
            if progress is not None:
                await progress.settle()
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                respond(interaction, bot.catalog.t(lang, "error.shutdown_refunded")), 5
            )
        raise


async def open_thread(bot: CharBot, message: discord.Message, name: str) -> discord.Thread | None:
    """Start the character's thread on its message (guild text channels only)."""
    if message.guild is None:
        return None
    try:
        return await message.create_thread(name=clip(name, THREAD_NAME_MAX) or "Character")
    except discord.HTTPException:
        log.warning("could not open a thread on message %s", message.id, exc_info=True)
        return None


async def post_character(
    bot: CharBot,
    interaction: discord.Interaction[Any],
    caller: Caller,
    outcome: Outcome,
    *,
    open_conversation: bool,
    imported: bool = False,
) -> discord.Message:
    """Show the finished character with its buttons; open its thread and remember it."""
    lang = caller.lang
    character = outcome.character
    has_image = bool(outcome.image)
    embed = character_embed(
        bot.catalog,
        lang,
        character,
        image_filename=image_filename(outcome.mime_type) if has_image else None,
    )
    if imported:
        key = "character.imported"
    elif open_conversation:
        key = "character.created"
    else:
        key = "character.regenerated"
    message = await deliver(
        interaction,
        content=bot.catalog.t(lang, key, name=clip(character.name, 100)),
        embed=embed,
        view=character_view(bot.catalog, lang, character),
        files=image_file(outcome.image, outcome.mime_type) if has_image else None,
    )
    if not open_conversation:
        return message
    thread = await open_thread(bot, message, character.name or "Character")
    async with bot.sessions.begin() as session:
        await characters_service.attach_conversation(
            session,
            character.id,
            guild_id=message.guild.id if message.guild else interaction.guild_id,
            channel_id=message.channel.id,
            message_id=message.id,
            thread_id=thread.id if thread else None,
        )
    if thread is not None:
        with contextlib.suppress(discord.HTTPException):
            await thread.send(
                bot.catalog.t(lang, "thread.welcome", name=clip(character.name, 100)),
                allowed_mentions=NO_MENTIONS,
            )
    return message


async def create_flow(
    bot: CharBot,
    interaction: discord.Interaction[Any],
    *,
    description: str,
    name: str | None,
    style: str,
    gender: str | None,
    age: str | None,
    reference: discord.Attachment | None,
) -> None:
    """/character create, from defer to thread."""
    bot.deps.flows.track()  # shutdown waits for the post, not only the generation
    await defer(interaction, public=True)
    caller = await bot.caller(interaction)
    ref_bytes, ref_mime = await read_reference(reference)
    request = CreateRequest(
        user_id=caller.user.id,
        description=description,
        style=style,
        name=name,
        gender=gender,
        age=age,
        reference=ref_bytes,
        reference_mime=ref_mime,
    )
    progress = ProgressReporter(bot, interaction, caller.lang)
    outcome = await guarded(
        bot,
        interaction,
        caller.lang,
        lambda: bot.pipeline.create_character(request, progress),
        progress,
    )
    await post_character(bot, interaction, caller, outcome, open_conversation=True)


async def regenerate_flow(
    bot: CharBot,
    interaction: discord.Interaction[Any],
    character_id: str,
    instruction: str | None,
) -> None:
    """/character regenerate: a new portrait posted as a new card."""
    bot.deps.flows.track()  # shutdown waits for the post, not only the generation
    await defer(interaction, public=True)
    caller = await bot.caller(interaction)
    progress = ProgressReporter(bot, interaction, caller.lang)
    outcome = await guarded(
        bot,
        interaction,
        caller.lang,
        lambda: bot.pipeline.regenerate(
            user_id=caller.user.id,
            character_id=character_id,
            instruction=instruction,
            progress=progress,
        ),
        progress,
    )
    await post_character(bot, interaction, caller, outcome, open_conversation=False)


async def variant_flow(
    bot: CharBot,
    interaction: discord.Interaction[Any],
    *,
    character_id: str,
    instruction: str,
    theme: str | None,
    thread_id: int | None,
) -> None:
    """A variant: drawn, stored, and posted in the character's thread.

    Inside the thread the response itself is the post; elsewhere the reply is private and the
    variant goes to the thread (or, with no thread, into the reply, public)."""
    bot.deps.flows.track()  # shutdown waits for the post, not only the generation
    in_thread = thread_id is not None and interaction.channel_id == thread_id
    await defer(interaction, public=in_thread or thread_id is None)
    caller = await bot.caller(interaction)
    lang = caller.lang
    progress = ProgressReporter(bot, interaction, lang)
    outcome = await guarded(
        bot,
        interaction,
        lang,
        lambda: bot.pipeline.create_variant(
            user_id=caller.user.id,
            character_id=character_id,
            instruction=instruction,
            theme_name=theme,
            progress=progress,
        ),
        progress,
    )
    if outcome.variant is None or outcome.theme is None:  # pragma: no cover - always set
        msg = "a variant outcome without its variant"
        raise RuntimeError(msg)
    filename = image_filename(outcome.mime_type, "variant")
    embed = variant_embed(
        bot.catalog,
        lang,
        outcome.character,
        outcome.theme,
        outcome.variant,
        image_filename=filename,
    )
    files = image_file(outcome.image, outcome.mime_type, "variant")
    content = bot.catalog.t(lang, "variant.created", theme=clip(outcome.theme.name, 50))
    if thread_id is not None and not in_thread:
        try:
            thread = bot.get_partial_messageable(thread_id)
            posted = await thread.send(
                content=content, embed=embed, files=files(), allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException:
            log.info("character thread %s unavailable; replying in place", thread_id)
        else:
            await deliver(
                interaction,
                content=bot.catalog.t(lang, "variant.posted", link=posted.jump_url),
            )
            return
        interaction.extras["public_defer"] = False
    await deliver(interaction, content=content, embed=embed, files=files)


async def import_flow(
    bot: CharBot, interaction: discord.Interaction[Any], attachment: discord.Attachment
) -> None:
    """/character import: read the card, create the character, post it with its thread."""
    from bot.cards import MAX_CARD_BYTES, parse_card
    from bot.errors import InvalidInputError
    from bot.services.importing import import_card

    bot.deps.flows.track()  # shutdown waits for the post, not only the import

    await defer(interaction, public=True)
    caller = await bot.caller(interaction)
    if attachment.size > MAX_CARD_BYTES:
        raise InvalidInputError("That card file is too large.", "invalid.card.too_large")
    try:
        data = await attachment.read()
    except discord.HTTPException:
        raise InvalidInputError(
            "I couldn't download that file.", "invalid.image.download"
        ) from None
    card = await asyncio.to_thread(parse_card, data, attachment.filename)
    character = await import_card(bot.deps.db, bot.storage, caller.user.id, card)
    outcome = Outcome(
        generation_id="",
        character=character,
        image=card.image or b"",
        mime_type=card.image_mime or "image/png",
        quota=None,  # an import uses no quota
    )
    await post_character(bot, interaction, caller, outcome, open_conversation=True, imported=True)
