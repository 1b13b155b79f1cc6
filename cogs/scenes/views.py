"""Scene rendering: the scene's card (title, setting, the cast in order with other members'
characters credited to their owners by name), a scene variant's card, a list page, and the
scene's buttons. Pure: takes data, returns embeds and views."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.i18n import Catalog
from bot.services.scenes import SceneView, is_favorite
from bot.storage.pictures import Picture
from bot.ui.embeds import STYLE_COLOURS, show_image
from bot.ui.text import clip, fit_embed
from db.scene_models import SceneGeneration


def cast_lines(catalog: Catalog, lang: str, view: SceneView) -> str:
    """One line per character, in order; another member's credited by display name."""
    lines = []
    for i, member in enumerate(view.cast, 1):
        name = clip(member.character.name or catalog.t(lang, "character.unnamed"), 80)
        if member.owner_name:
            lines.append(
                catalog.t(
                    lang, "scene.cast_credit", n=i, name=name, owner=clip(member.owner_name, 60)
                )
            )
        else:
            lines.append(catalog.t(lang, "scene.cast_own", n=i, name=name))
    return "\n".join(lines) or "—"


def scene_embed(
    catalog: Catalog,
    lang: str,
    view: SceneView,
    *,
    image_filename: str | None = None,
    picture: Picture | None = None,
    creator: str | None = None,
) -> discord.Embed:
    """The scene's card."""
    t = catalog.t
    scene = view.scene
    style = scene.style_type or "realistic"
    embed = discord.Embed(
        title=clip(scene.title or t(lang, "scene.untitled"), 256),
        description=clip(scene.setting, 1000),
        colour=STYLE_COLOURS.get(style, 0x5865F2),
    )
    embed.add_field(name=t(lang, "scene.cast"), value=clip(cast_lines(catalog, lang, view), 1024))
    embed.add_field(name=t(lang, "field.style"), value=t(lang, f"style.{style}"), inline=True)
    if creator:
        embed.add_field(name=t(lang, "gallery.creator"), value=clip(creator, 100), inline=True)
    if scene.is_public:
        embed.add_field(name=t(lang, "scene.public"), value="🌐", inline=True)
    embed.set_footer(text=t(lang, "scene.footer", id=scene.id))
    show_image(embed, image_filename, picture, scene.image_url)
    return fit_embed(embed)


def scene_variant_embed(
    catalog: Catalog,
    lang: str,
    view: SceneView,
    variant: SceneGeneration,
    *,
    image_filename: str | None = None,
) -> discord.Embed:
    """A scene variant: its instruction and image."""
    scene = view.scene
    embed = discord.Embed(
        title=clip(catalog.t(lang, "scene.variant_title", title=scene.title or scene.setting), 256),
        description=clip(str((variant.meta or {}).get("instruction") or ""), 1000) or None,
        colour=STYLE_COLOURS.get(scene.style_type or "realistic", 0x5865F2),
    )
    embed.set_footer(text=catalog.t(lang, "scene.variant_footer", id=variant.id))
    show_image(embed, image_filename, None, None)
    return fit_embed(embed)


def list_lines(catalog: Catalog, lang: str, views: Sequence[SceneView]) -> str:
    """The member's scenes, one line each: title, the cast, public or not, the id."""
    lines = []
    for view in views:
        scene = view.scene
        title = clip(scene.title or scene.setting, 60)
        cast = clip(", ".join(view.names), 120)
        flags = ("🌐 " if scene.is_public else "") + ("⭐ " if is_favorite(scene) else "")
        lines.append(f"{flags}**{title}** — {cast} · `{scene.id}`")
    return "\n".join(lines)
