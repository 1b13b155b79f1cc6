"""Who may see a character: the one home of the rule, in SQL and in Python.

A character is publicly visible when it is public and completed, and its owner allows gallery
showcase and is active. A member always sees their own completed characters.

Inside a guild, a character that guild's moderators hid (``guild_hidden_characters``) is not
shown at all (:func:`shown_in_guild`); it stays visible everywhere else.
"""

from __future__ import annotations

from sqlalchemy import Text, and_, exists, literal_column, or_, true
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from db.bot_models import GuildHiddenCharacter
from db.models import Character, User
from db.scene_models import Scene, SceneCharacter

SHOWN_STATUS = "active"

# ``generation_status = 'completed'`` with a literal, so a partial index on completed (or public
# completed) characters can serve listings under generic plans too.
is_completed = Character.generation_status == literal_column("'completed'", Text)


def owner_showcases() -> tuple[ColumnElement[bool], ...]:
    """SQL on a joined ``users`` row: the owner allows showcase and is active."""
    return (User.allow_gallery_showcase.is_(True), User.account_status == SHOWN_STATUS)


def published() -> tuple[ColumnElement[bool], ...]:
    """SQL on ``characters``: public and completed."""
    return (Character.is_public.is_(True), is_completed)


def showcased_join() -> tuple[ColumnElement[bool], ...]:
    """The rule as conditions on ``characters`` joined to its owner (for gallery listings)."""
    return (*published(), *owner_showcases())


def publicly_visible() -> ColumnElement[bool]:
    """The rule on ``characters`` alone (the owner checked in a subquery)."""
    return and_(*published(), exists().where(User.id == Character.user_id, *owner_showcases()))


def visible_to(viewer_user_id: str) -> ColumnElement[bool]:
    """SQL: the viewer's own completed characters, and everyone's publicly visible ones."""
    return or_(and_(Character.user_id == viewer_user_id, is_completed), publicly_visible())


def shown_in_guild(guild_id: int | BindParameter[int] | None) -> ColumnElement[bool]:
    """SQL on ``characters``: not hidden by the moderators of ``guild_id`` (a value, or a
    parameter bound at execution; anything goes outside a guild). Served by the primary key of
    ``guild_hidden_characters``."""
    if guild_id is None:
        return true()
    return ~exists().where(
        GuildHiddenCharacter.guild_id == guild_id,
        GuildHiddenCharacter.character_id == Character.id,
    )


def is_publicly_visible(character: Character, owner: User | None) -> bool:
    """The rule on loaded rows."""
    return bool(
        character.is_public
        and character.generation_status == "completed"
        and owner is not None
        and owner.allow_gallery_showcase
        and (owner.account_status or SHOWN_STATUS) == SHOWN_STATUS
    )


def scene_in_gallery(guild_id: int | None = None) -> ColumnElement[bool]:
    """SQL on ``scenes``: public and completed, its creator showcasing and active, and every
    character in it still publicly visible or the creator's own (and, inside a guild, none
    hidden by that guild's moderators). So unpublishing or deleting a character takes others'
    scenes with it out of the gallery; the creator's own list is not affected."""
    cast_ok = or_(Character.user_id == Scene.user_id, publicly_visible())
    blocked = ~exists().where(
        SceneCharacter.scene_id == Scene.id,
        Character.id == SceneCharacter.character_id,
        ~and_(cast_ok, shown_in_guild(guild_id)),
    )
    return and_(
        Scene.is_public.is_(True),
        Scene.generation_status == literal_column("'completed'", Text),
        exists().where(User.id == Scene.user_id, *owner_showcases()),
        blocked,
    )
