"""Theme recipes (``/theme apply``): a theme's variant instructions, oldest first, to re-run on
another of the member's characters into a theme of the same name.

This use case only reads and checks (one read session); each step is then an ordinary variant
generation, charged and refunded on its own. The quota is checked up front: a recipe longer
than the units left today is refused before anything is charged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.errors import InvalidInputError, NotFoundError
from bot.services.accounts import ensure_can_generate
from bot.services.characters import get_owned_character
from bot.services.quota import status_of
from bot.services.themes.rows import get_owned_theme
from db.engine import Database
from db.meta import Meta
from db.models import ThemeVariant, User

MAX_RECIPE_STEPS = 20
"""The longest recipe one command runs (its progress and results must fit the interaction's
fifteen minutes and one message)."""


@dataclass(frozen=True, slots=True)
class Recipe:
    """What ``/theme apply`` will run: the steps' instructions, oldest first, on the target."""

    theme_name: str
    instructions: list[str]
    target_id: str
    target_name: str | None
    source_character_id: str


async def recipe_for(db: Database, theme_id: str, target_id: str, user_id: str) -> Recipe:
    """The theme's recipe to run on the member's character ``target_id``.

    Raises:
        NotFoundError, NotOwnerError (theme or character not the member's);
        AccountRestrictedError; InvalidInputError (``recipe.same_character``,
        ``invalid.no_image``, ``recipe.empty``, ``recipe.too_long``, ``recipe.quota_short``:
        fewer units left today than steps).
    """
    async with db.read() as session:
        theme = await get_owned_theme(session, theme_id, user_id)
        target = await get_owned_character(session, target_id, user_id)
        if target.id == theme.character_id:
            raise InvalidInputError(
                "Choose another of your characters: the theme already belongs to this one.",
                "recipe.same_character",
            )
        if target.generation_status != "completed" or not Meta(target.meta).image_key:
            raise InvalidInputError(
                "This character has no finished image to edit yet.", "invalid.no_image"
            )
        prompts = await session.scalars(
            select(ThemeVariant.prompt)
            .where(ThemeVariant.theme_id == theme.id)
            .order_by(ThemeVariant.created_at, ThemeVariant.id)
        )
        instructions = [p.strip() for p in prompts if p and p.strip()]
        user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    if not instructions:
        raise InvalidInputError("That theme has no variants to repeat.", "recipe.empty")
    if len(instructions) > MAX_RECIPE_STEPS:
        raise InvalidInputError(
            f"That theme has {len(instructions)} variants; a recipe runs at most "
            f"{MAX_RECIPE_STEPS}.",
            "recipe.too_long",
            steps=len(instructions),
            limit=MAX_RECIPE_STEPS,
        )
    ensure_can_generate(user)
    left = status_of(user).remaining
    if left < len(instructions):
        raise InvalidInputError(
            f"The recipe has {len(instructions)} steps but you have {left} generations left "
            "today. Nothing was charged.",
            "recipe.quota_short",
            steps=len(instructions),
            left=left,
        )
    return Recipe(
        theme_name=theme.name,
        instructions=instructions,
        target_id=target.id,
        target_name=target.name,
        source_character_id=theme.character_id,
    )
