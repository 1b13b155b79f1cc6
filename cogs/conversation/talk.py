"""Messages as instructions: which messages in a conversation count (the owner's that mention
the bot or reply to its images; every owner message with the Message Content intent; any in a
DM with the bot), the hint for a reply that arrived empty, another member's suggestion, and an
edit run from its progress reply to the posted variant."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import discord

from bot.errors import DomainError, InvalidInputError, QuotaExceededError
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, localize_error
from bot.services.accounts import auth0_id_for
from bot.services.conversation.instructions import Instruction, read_instruction
from bot.services.conversation.sources import ConversationTarget, conversation_target
from bot.services.generation.model import VariantRequest
from bot.services.scenes import SceneThread, SceneVariantRequest, scene_in_thread
from bot.ui.text import clip
from cogs.conversation.edits import run_edit
from cogs.conversation.suggestions import suggest
from cogs.scenes.edits import run_scene_edit

log = logging.getLogger(__name__)

REFUSAL_QUIET = timedelta(minutes=10)
"""How long a refusal other than the quota is not repeated to the same member."""
MAX_REMEMBERED = 10_000


class Refusals:
    """Refusals already told, per conversation, member and reason: a member who sends faster
    than the quota allows hears it once (until the quota resets), not once per message."""

    def __init__(self) -> None:
        self._until: dict[tuple[int, str, str], datetime] = {}

    def first(self, key: tuple[int, str, str], until: datetime) -> bool:
        """Whether this refusal is news (then it is remembered until ``until``)."""
        now = datetime.now(UTC)
        if self._until.get(key, now) > now:
            return False
        if len(self._until) >= MAX_REMEMBERED:
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[key] = until
        return True


def _replied(message: discord.Message) -> discord.Message | None:
    ref = message.reference
    if ref is None:
        return None
    resolved = ref.resolved
    return resolved if isinstance(resolved, discord.Message) else None


def _has_image(message: discord.Message) -> bool:
    return bool(message.attachments) or any(e.image or e.thumbnail for e in message.embeds)


async def _reply(message: discord.Message, text: str, **fields: Any) -> None:
    try:
        await message.reply(content=clip(text, 2000), allowed_mentions=NO_MENTIONS, **fields)
    except discord.HTTPException:
        log.info("could not reply in conversation %s", message.channel.id, exc_info=True)


async def on_message(client: discord.Client, message: discord.Message, refusals: Refusals) -> str:
    """A message the bot saw: an edit, a suggestion, a hint, or (most often) nothing. Returns
    what became of it (bot, ignored, hint, suggestion, edit, refused)."""
    me = client.user
    if me is None or message.author.bot or message.webhook_id is not None:
        return "bot"
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return "ignored"
    in_dm = isinstance(message.channel, discord.DMChannel)
    if message.guild is None and not in_dm:
        return "ignored"
    deps = deps_of(client)
    every = deps.settings.message_content_intent
    mentioned = any(user.id == me.id for user in message.mentions)
    replied = _replied(message)
    to_bot = replied is not None and replied.author.id == me.id
    if not (in_dm or mentioned or to_bot or every):
        return "ignored"  # not addressed to the bot: nothing is looked up
    target = await conversation_target(
        deps.db,
        message.channel.id,
        replied_message_id=replied.id if replied is not None and to_bot else None,
        replied_has_image=to_bot and replied is not None and _has_image(replied),
    )
    if target is None:
        scene = await scene_in_thread(deps.db, message.channel.id)
        if scene is None:
            return "ignored"
        return await scene_from_message(
            client, message, scene, replied if to_bot else None, refusals
        )
    owner = target.owner_auth0_id == auth0_id_for(message.author.id)
    instruction = read_instruction(message.content, me.id)
    if not instruction.text:
        if to_bot and not mentioned and not message.content and not in_dm and not every:
            key = (message.channel.id, str(message.author.id), "conversation.hint")
            if refusals.first(key, datetime.now(UTC) + REFUSAL_QUIET):  # once, not per reply
                hint = deps.catalog.t(
                    target.owner_language, "conversation.hint", mention=me.mention
                )
                await _reply(message, hint)
            return "hint"
        return "ignored"
    if owner:
        return await edit_from_message(client, message, target, instruction, refusals)
    if mentioned:
        await suggest(deps, message, target, instruction)
        return "suggestion"
    return "ignored"


async def scene_from_message(
    client: discord.Client,
    message: discord.Message,
    scene: SceneThread,
    replied: discord.Message | None,
    refusals: Refusals,
) -> str:
    """A message in a scene's conversation: its owner's instruction makes a scene variant
    (from the variant replied to, else the scene image); others' messages are not taken."""
    me = client.user
    if me is None or scene.owner_auth0_id != auth0_id_for(message.author.id):
        return "ignored"
    instruction = read_instruction(message.content, me.id)
    if not instruction.text:
        return "ignored"
    request = SceneVariantRequest(
        user_id=scene.owner_user_id,
        scene_id=scene.scene_id,
        instruction=instruction.text,
        conversation_id=str(message.channel.id),
        instruction_message_id=str(message.id),
        replied_message_id=str(replied.id) if replied is not None else None,
    )
    try:
        await run_scene_edit(client, message, scene.owner_language, request)
    except DomainError as exc:
        await _refuse(client, message, scene.owner_user_id, scene.owner_language, exc, refusals)
        return "refused"
    return "edit"


async def _refuse(
    client: discord.Client,
    message: discord.Message,
    user_id: str,
    lang: str,
    exc: DomainError,
    refusals: Refusals,
) -> None:
    """Tell a refusal once (until the quota resets, or for a while)."""
    now = datetime.now(UTC)
    until = exc.resets_at if isinstance(exc, QuotaExceededError) else now + REFUSAL_QUIET
    reason = exc.reason_key if isinstance(exc, InvalidInputError) else None
    if refusals.first((message.channel.id, user_id, reason or exc.key), until):
        await _reply(message, localize_error(deps_of(client).catalog, lang, exc))


async def edit_from_message(
    client: discord.Client,
    message: discord.Message,
    target: ConversationTarget,
    instruction: Instruction,
    refusals: Refusals,
) -> str:
    """The owner's instruction: an edit, or a refusal told once ("edit" or "refused")."""
    source = target.source
    request = VariantRequest(
        user_id=target.owner_user_id,
        character_id=target.character_id,
        instruction=instruction.text,
        theme_name=instruction.theme,
        source_variant_id=source.variant_id if source is not None else None,
        from_portrait=source is not None and source.variant_id is None,
        conversation_id=str(message.channel.id),
        instruction_message_id=str(message.id),
    )
    lang = target.owner_language
    try:
        await run_edit(client, message, lang, request)
    except DomainError as exc:
        await _refuse(client, message, target.owner_user_id, lang, exc, refusals)
        return "refused"
    return "edit"
