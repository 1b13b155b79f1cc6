"""/account delete's confirmation modal and what follows it: the member's rows erased, then
their showcase posts and stored objects removed."""

from __future__ import annotations

import logging
import unicodedata
from typing import TYPE_CHECKING, Any

import discord

from bot.interactions.acknowledge import acknowledge
from bot.interactions.deps import Deps, deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureModal
from bot.services.accounts import find_user_id
from bot.services.member_data import Erasure, erase_member, purge_storage
from bot.ui.text import clip

if TYPE_CHECKING:
    from bot.i18n import Catalog

log = logging.getLogger(__name__)

CONFIRM_MAX = 40


def normalised(word: str) -> str:
    """A typed word as compared: NFKC (full-width letters count), trimmed, case folded."""
    return unicodedata.normalize("NFKC", word).strip().casefold()


class AccountDeleteModal(FeatureModal):
    """Type the word shown (in the member's language) to erase the account; anything else
    changes nothing. Open to a member blocked in the guild: their data stays theirs."""

    open_to_blocked = True

    def __init__(self, catalog: Catalog, lang: str, *, discord_id: int) -> None:
        t = catalog.t
        # one modal per member: discord.py keys open modals by the member and custom_id
        super().__init__(
            title=clip(t(lang, "account.delete_title"), 45),
            custom_id=f"account:delete:{discord_id}",
            timeout=900,
        )
        self.lang = lang
        self.discord_id = discord_id
        self.word = t(lang, "account.delete_word")
        self.confirm: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "account.delete_label", word=self.word), 45),
            placeholder=clip(t(lang, "account.delete_placeholder"), 100),
            max_length=CONFIRM_MAX,
            required=True,
            custom_id="confirm",
        )
        self.add_item(self.confirm)

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Erase the account when the word matches; say that nothing changed otherwise."""
        deps = deps_of(interaction.client)
        t = deps.catalog.t
        typed = str(self.confirm.value or "")
        if interaction.user.id != self.discord_id or normalised(typed) != normalised(self.word):
            await respond(
                interaction,
                t(self.lang, "account.delete_mismatch", word=self.word),
                allowed_mentions=NO_MENTIONS,
            )
            return
        await acknowledge(interaction, ephemeral=True, thinking=True)
        user_id = await find_user_id(deps.db, interaction.user.id)
        if user_id is None:
            await respond(interaction, t(self.lang, "account.delete_nothing"))
            return
        erasure = await erase_member(deps.db, user_id)
        deps.users.forget(interaction.user.id)
        log.info("account erased user=%s rows=%d", user_id, sum(erasure.rows.values()))
        removed = await remove_posts(interaction.client, erasure)
        _, failed = await purge_storage(deps.db, deps.storage, erasure.storage_entries)
        await respond(
            interaction,
            erased_text(deps, self.lang, erasure, removed, failed),
            allowed_mentions=NO_MENTIONS,
        )


async def remove_posts(client: discord.Client, erasure: Erasure) -> int:
    """Delete the member's showcase messages; one already gone or out of reach is logged."""
    removed = 0
    for post in erasure.showcase_posts:
        try:
            await client.http.delete_message(post.channel_id, post.message_id)
        except discord.NotFound:
            removed += 1  # already gone
        except discord.HTTPException as exc:
            log.warning(
                "could not delete showcase message %s in channel %s: %s",
                post.message_id,
                post.channel_id,
                exc.status,
            )
        else:
            removed += 1
    return removed


def erased_text(deps: Deps, lang: str, erasure: Erasure, posts: int, failed: int) -> str:
    """What the member reads once their account is gone."""
    t = deps.catalog.t
    text = t(
        lang,
        "account.deleted",
        characters=erasure.characters,
        variants=erasure.variants,
        posts=posts,
    )
    if failed:
        text += "\n" + t(lang, "account.deleted_storage_pending")
    if len(erasure.showcase_posts) > posts:
        text += "\n" + t(
            lang, "account.deleted_posts_left", count=len(erasure.showcase_posts) - posts
        )
    return text
