"""The /settings panel and applying a settings change: one private message with a select per
setting (language, content filter, profile visibility, gallery showcase, remixes).

Each select is a DynamicItem whose custom_id names only the setting (``settings:<field>``); a
pick applies to whoever picked it, so the panel is stateless, survives restarts and can never
change another member's settings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.i18n import choose_language
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, update
from bot.interactions.routing import FeatureSelect
from bot.services.accounts import SettingsChange, save_settings
from bot.ui.text import fit_embed
from cogs.gallery.showcase import remove_showcase_posts
from db.models import CONTENT_FILTERS, LANGUAGES, VISIBILITIES, User

if TYPE_CHECKING:
    from bot.i18n import Catalog

LANGUAGE_NAMES = {"en": "English", "zh": "中文", "ja": "日本語", "ko": "한국어"}
FIELDS = ("lang", "filter", "vis", "show", "remix")


async def apply_settings(
    interaction: discord.Interaction[Any], change: SettingsChange
) -> tuple[User, str, bool]:
    """Apply a change for the member (from the options or the panel); their row, the
    language to answer in from now on, and whether they allow remixes. Opting out of the
    showcase removes their posts."""
    member = await caller(interaction)
    saved = await save_settings(deps_of(interaction.client).db, member.user.id, change)
    for character_id in saved.unshow:
        await remove_showcase_posts(interaction.client, character_id)
    lang = choose_language(saved.user.preferred_language, interaction.locale)
    interaction.extras["lang"] = lang
    interaction.extras.pop("caller", None)
    return saved.user, lang, saved.allow_remix


def change_for(field: str, value: str) -> SettingsChange:
    """The settings change one select pick stands for."""
    if field == "lang":
        return SettingsChange(language=value)
    if field == "filter":
        return SettingsChange(content_filter=value)
    if field == "vis":
        return SettingsChange(profile_visibility=value)
    if field == "remix":
        return SettingsChange(allow_remix=value == "on")
    return SettingsChange(allow_gallery_showcase=value == "on")


def settings_embed(
    catalog: Catalog, lang: str, user: User, *, allow_remix: bool = True
) -> discord.Embed:
    """The member's current settings."""
    t = catalog.t
    embed = discord.Embed(title=t(lang, "settings.title"), colour=0x5865F2)
    language = user.preferred_language or "en"
    embed.add_field(
        name=t(lang, "settings.language"),
        value=LANGUAGE_NAMES.get(language, language),
        inline=True,
    )
    embed.add_field(
        name=t(lang, "settings.content_filter"),
        value=t(lang, f"settings.filter.{user.content_filter_level or 'moderate'}"),
        inline=True,
    )
    embed.add_field(
        name=t(lang, "settings.profile_visibility"),
        value=t(lang, f"settings.visibility.{user.profile_visibility or 'private'}"),
        inline=True,
    )
    embed.add_field(
        name=t(lang, "settings.gallery_showcase"),
        value=t(lang, "settings.on" if user.allow_gallery_showcase else "settings.off"),
        inline=True,
    )
    embed.add_field(
        name=t(lang, "settings.remixes"),
        value=t(lang, "settings.on" if allow_remix else "settings.off"),
        inline=True,
    )
    embed.add_field(name=t(lang, "settings.timezone"), value=user.timezone or "UTC", inline=True)
    embed.set_footer(text=t(lang, "settings.hint"))
    return fit_embed(embed)


def _options(
    field: str, catalog: Catalog, lang: str, user: User, allow_remix: bool
) -> list[discord.SelectOption]:
    t = catalog.t
    if field == "remix":
        return [
            discord.SelectOption(
                label=t(lang, "settings.remix.on"), value="on", default=allow_remix
            ),
            discord.SelectOption(
                label=t(lang, "settings.remix.off"), value="off", default=not allow_remix
            ),
        ]
    if field == "lang":
        current = user.preferred_language or "en"
        return [
            discord.SelectOption(label=LANGUAGE_NAMES[code], value=code, default=code == current)
            for code in LANGUAGES
        ]
    if field == "filter":
        current = user.content_filter_level or "moderate"
        return [
            discord.SelectOption(
                label=t(lang, f"settings.filter.{v}"), value=v, default=v == current
            )
            for v in CONTENT_FILTERS
        ]
    if field == "vis":
        current = user.profile_visibility or "private"
        return [
            discord.SelectOption(
                label=t(lang, f"settings.visibility.{v}"), value=v, default=v == current
            )
            for v in VISIBILITIES
        ]
    on = bool(user.allow_gallery_showcase)
    return [
        discord.SelectOption(label=t(lang, "settings.showcase.on"), value="on", default=on),
        discord.SelectOption(label=t(lang, "settings.showcase.off"), value="off", default=not on),
    ]


_PLACEHOLDERS = {
    "lang": "settings.language",
    "filter": "settings.content_filter",
    "vis": "settings.profile_visibility",
    "show": "settings.gallery_showcase",
    "remix": "settings.remixes",
}


class SettingsSelect(FeatureSelect, template=r"settings:(?P<field>lang|filter|vis|show|remix)"):
    """One setting's select on the panel: a pick applies it for whoever picked."""

    def __init__(self, field: str, select: discord.ui.Select[Any] | None = None) -> None:
        super().__init__(
            select or discord.ui.Select(custom_id=f"settings:{field}", min_values=1, max_values=1)
        )
        self.field = field

    @classmethod
    def make(
        cls, field: str, catalog: Catalog, lang: str, user: User, allow_remix: bool = True
    ) -> SettingsSelect:
        """The select of one setting, showing the member's current choice."""
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"settings:{field}",
            placeholder=catalog.t(lang, _PLACEHOLDERS[field]),
            options=_options(field, catalog, lang, user, allow_remix),
            min_values=1,
            max_values=1,
        )
        return cls(field, select)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SettingsSelect:
        select = item if isinstance(item, discord.ui.Select) else None
        return cls(match["field"], select)

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Save the pick, then redraw the panel (in the new language after a language pick)."""
        data: dict[str, Any] = dict(interaction.data or {})
        values: list[str] = list(self.item.values or data.get("values") or [])
        if not values:
            await acknowledge(interaction)
            return
        await acknowledge(interaction, directly=True)  # before any database work
        user, lang, remix = await apply_settings(interaction, change_for(self.field, values[0]))
        catalog = deps_of(interaction.client).catalog
        await update(
            interaction,
            embed=settings_embed(catalog, lang, user, allow_remix=remix),
            view=settings_view(catalog, lang, user, allow_remix=remix),
            allowed_mentions=NO_MENTIONS,
        )


def settings_view(
    catalog: Catalog, lang: str, user: User, *, allow_remix: bool = True
) -> discord.ui.View:
    """The five selects, each showing the member's current choice."""
    view = discord.ui.View(timeout=None)
    for field in FIELDS:
        view.add_item(SettingsSelect.make(field, catalog, lang, user, allow_remix))
    return view
