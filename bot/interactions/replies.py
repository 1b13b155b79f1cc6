"""Every reply path: localised error replies, and delivery that survives an expired token.

Errors are answered ephemerally. When a command had deferred publicly ("thinking…"), that
public placeholder is removed first so the error is seen only by the member.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands

from bot.errors import (
    AccountRestrictedError,
    ConflictError,
    DomainError,
    HandedToWorker,
    InvalidInputError,
    NotFoundError,
)
from bot.i18n import Catalog, choose_language
from bot.interactions.admission import first_answer
from bot.interactions.deps import deps_of
from bot.interactions.observe import finished, outcome_of
from bot.interactions.placement import bot_is_member
from bot.services.jobs.reply import TOKEN_LIFETIME, TOKEN_MARGIN, ReplyTarget
from bot.ui.text import CONTENT_MAX, clip
from db.outage import is_unreachable

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
GENERATED = "generation_completed"
"""``extras`` flag: the interaction's generation completed (its unit was rightly used)."""
POSTED = "posted_before_saved"
"""``extras``: the message that shows the interaction's result before it was saved; an error
until then is told by editing it (the result it showed is gone: failed and refunded)."""


def _answering(interaction: discord.Interaction[Any]) -> None:
    """The interaction's answer is about to go out: its admission slot goes to the next one."""
    deps = getattr(interaction.client, "deps", None)
    if deps is not None:
        deps.admission.leave()


def interaction_language(interaction: discord.Interaction[Any]) -> str:
    """The language already chosen for this interaction, else the client's locale."""
    lang = interaction.extras.get("lang")
    if isinstance(lang, str):
        return lang
    return choose_language(None, interaction.locale)


def localize_error(catalog: Catalog, lang: str, error: DomainError) -> str:
    """The member-facing text of a domain error in ``lang``."""
    params = dict(error.params)
    if isinstance(error, AccountRestrictedError):
        status = str(params.get("status", ""))
        if catalog.has(f"mod.status.{status}"):
            params["status"] = catalog.t(lang, f"mod.status.{status}")
    if isinstance(error, NotFoundError):
        what = str(params.get("what", "item"))
        params["what"] = catalog.t(lang, f"thing.{what}") if catalog.has(f"thing.{what}") else what
    if isinstance(error, InvalidInputError | ConflictError) and error.reason_key:
        if catalog.has(error.reason_key):
            return catalog.t(lang, error.reason_key, **params)
        field = params.get("field")
        for suffix in ("too_long", "empty"):
            if field and error.reason_key.endswith(f"_{suffix}"):
                params["field"] = catalog.t(lang, f"field.{field}")
                return catalog.t(lang, f"invalid.field_{suffix}", **params)
        return error.english()
    if catalog.has(error.key):
        return catalog.t(lang, error.key, **params)
    return error.english()


def error_reply(catalog: Catalog, lang: str, error: BaseException) -> tuple[str, str | None]:
    """The text for any error, and a reference id when it is unexpected (to be logged)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, DomainError):
        return localize_error(catalog, lang, error), None
    if is_unreachable(error):  # nothing a use case began was committed, so nothing was charged
        return catalog.t(lang, "error.database_unavailable"), None
    if isinstance(error, app_commands.CommandOnCooldown):
        return catalog.t(lang, "error.cooldown", seconds=max(1, round(error.retry_after))), None
    if isinstance(error, app_commands.BotMissingPermissions):
        return (
            catalog.t(
                lang, "error.bot_permissions", permissions=", ".join(error.missing_permissions)
            ),
            None,
        )
    if isinstance(error, app_commands.MissingPermissions | app_commands.MissingAnyRole):
        return catalog.t(lang, "error.permissions"), None
    if isinstance(error, app_commands.TransformerError):
        return catalog.t(lang, "error.bad_option", value=clip(str(error.value), 100)), None
    if isinstance(error, app_commands.NoPrivateMessage):
        return catalog.t(lang, "error.guild_only"), None
    if isinstance(error, app_commands.CheckFailure):
        return catalog.t(lang, "error.permissions"), None
    if isinstance(error, discord.Forbidden):
        return catalog.t(lang, "error.forbidden"), None
    reference = secrets.token_hex(4)
    return catalog.t(lang, "error.unexpected", ref=reference), reference


async def respond(
    interaction: discord.Interaction[Any], content: str | None = None, **kwargs: Any
) -> None:
    """Answer only the member, whatever the interaction's state: the reply itself, or a
    followup (the first after a private defer fills in its "thinking…" message). A public
    "thinking…" placeholder is removed first, so the answer stays private."""
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    text = clip(content, CONTENT_MAX) if content is not None else None
    _answering(interaction)
    async with first_answer(interaction) as still_open:
        if still_open:
            await interaction.response.send_message(text, ephemeral=True, **kwargs)
            return
    if interaction.extras.get("public_defer"):
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.debug("could not delete the deferred response", exc_info=True)
        interaction.extras["public_defer"] = False
    await interaction.followup.send(
        text if text is not None else discord.utils.MISSING, ephemeral=True, **kwargs
    )


async def answer_failure(interaction: discord.Interaction[Any], text: str) -> None:
    """Say why the interaction failed: in place of a result it already showed (``POSTED``),
    which goes (image, card and buttons), else privately (:func:`respond`)."""
    posted = interaction.extras.pop(POSTED, None)
    if isinstance(posted, discord.Message):
        try:
            await edit_posted(
                interaction,
                posted,
                content=clip(text, CONTENT_MAX),
                embed=None,
                attachments=[],
                view=None,
            )
            return
        except discord.HTTPException:
            log.info("could not replace the shown result with the failure; answering privately")
    await respond(interaction, text)


async def edit_posted(
    interaction: discord.Interaction[Any], message: discord.Message, **fields: Any
) -> None:
    """Edit a message the interaction posted: through its token while it is valid, else with
    the bot's own where it is a member (the token expired during a long save)."""
    fields.setdefault("allowed_mentions", NO_MENTIONS)
    try:
        await message.edit(**fields)
        return
    except discord.HTTPException:
        if not isinstance(message, discord.InteractionMessage) or not bot_is_member(interaction):
            raise
        log.info("could not edit through the interaction's token; editing as the bot")
    client: discord.Client = interaction.client
    channel = client.get_partial_messageable(message.channel.id)
    await channel.get_partial_message(message.id).edit(**fields)


async def update(interaction: discord.Interaction[Any], **kwargs: Any) -> None:
    """Edit the message a component is on, whether or not the press was deferred."""
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    _answering(interaction)
    async with first_answer(interaction) as still_open:
        if still_open:
            await interaction.response.edit_message(**kwargs)
            return
    await interaction.edit_original_response(**kwargs)


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Tell the member what went wrong (never a traceback); log the unexpected with context.
    An error that says the database cannot be reached is counted towards the outage and
    logged as such (one line per interval with a count, by the log's repeat filter)."""
    deps = deps_of(interaction.client)
    lang = interaction_language(interaction)
    text, reference = error_reply(deps.catalog, lang, error)
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, HandedToWorker):  # queued: the worker posts the result
        return
    outage = not isinstance(original, DomainError) and deps.db.outage.saw(original)
    if outage:
        deps.db.outage.answered_with_error()
        if interaction.extras.get(GENERATED):  # "nothing was charged" would not be true
            text = deps.catalog.t(lang, "error.database_unavailable_after_generation")
        log.warning(
            "interaction answered during a database outage: %s",
            type(original).__name__,
            exc_info=original,
        )
    elif reference is not None:
        command = interaction.command.qualified_name if interaction.command else None
        custom_id = (interaction.data or {}).get("custom_id") if interaction.data else None
        log.error(
            "unexpected error ref=%s command=%s custom_id=%s user=%s guild=%s",
            reference,
            command,
            custom_id,
            interaction.user.id,
            interaction.guild_id,
            exc_info=original,
        )
    else:
        log.info(
            "refused %s for user=%s: %s",
            interaction.command.qualified_name if interaction.command else "component",
            interaction.user.id,
            type(original).__name__,
        )
    if reference is not None and POSTED in interaction.extras:
        text = deps.catalog.t(lang, "error.unexpected_refunded", ref=reference)
    try:
        await answer_failure(interaction, text)
    except Exception:  # noqa: BLE001 - Discord refused, or the bot is shutting down
        log.warning("could not deliver an error reply to user=%s", interaction.user.id)
    finished(interaction, outcome_of(error, expected=reference is None and not outage))


async def reporting(
    interaction: discord.Interaction[Any], action: Callable[[], Awaitable[None]]
) -> None:
    """Run a component or modal action; any error becomes the member's reply, as for commands
    (discord.py would only log it)."""
    try:
        await action()
    except Exception as exc:  # noqa: BLE001 - every error becomes a reply here, and is logged
        await report_error(interaction, exc)
    else:
        finished(interaction, "ok")


def reply_target(interaction: discord.Interaction[Any], lang: str) -> ReplyTarget:
    """Where a worker posts the interaction's generation when its flow is gone."""
    return ReplyTarget(
        application_id=interaction.application_id,
        token=interaction.token,
        token_expires_at=interaction.created_at.timestamp() + TOKEN_LIFETIME.total_seconds(),
        channel_id=interaction.channel_id,
        guild_id=interaction.guild_id,
        lang=lang,
    )


def token_alive(interaction: discord.Interaction[Any]) -> bool:
    """Whether the interaction token can still be used (15 minutes, with a margin)."""
    age = datetime.now(UTC) - interaction.created_at
    return age < TOKEN_LIFETIME - TOKEN_MARGIN


async def deliver(
    interaction: discord.Interaction[Any],
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    files: Callable[[], list[discord.File]] | None = None,
) -> discord.Message:
    """Put the result into the deferred response, or, once the token has expired, post it in
    the channel with the bot's own token (``files`` is a factory: a file is read once)."""
    _answering(interaction)
    if token_alive(interaction):
        try:
            message = await interaction.edit_original_response(
                content=content,
                embed=embed,
                view=view or discord.utils.MISSING,
                attachments=files() if files else discord.utils.MISSING,
                allowed_mentions=NO_MENTIONS,
            )
            interaction.extras["public_defer"] = False
            return message
        except discord.NotFound:
            log.info("interaction response gone; posting in the channel instead")
        except discord.HTTPException as exc:
            if exc.status != 401 or not bot_is_member(interaction):
                raise
            log.info("interaction token expired; posting in the channel instead")
    if not bot_is_member(interaction):  # only the interaction's own messages reach there
        msg = "the interaction's token expired where the bot is not a member"
        raise TimeoutError(msg)
    client: discord.Client = interaction.client
    channel = client.get_partial_messageable(interaction.channel_id or 0)
    text = f"<@{interaction.user.id}> {content or ''}".strip()
    return await channel.send(
        content=text,
        embed=embed or discord.utils.MISSING,
        view=view or discord.utils.MISSING,
        files=files() if files else discord.utils.MISSING,
        allowed_mentions=NO_MENTIONS,
    )
