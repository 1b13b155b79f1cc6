"""Profiles: what a member shows others (display name, bio, website, profession, stats) and
how they edit it.

``profile_visibility`` decides who may read a profile: ``public`` lets anyone; ``friends`` and
``private`` only the member, because the bot has no friends graph (the same reading as
:mod:`bot.services.gallery`). The ``user_profiles`` row is created on the first edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError, NotFoundError
from bot.services.accounts import get_user_by_discord_id
from bot.services.characters import clean_text, is_valid_id
from db.engine import Database
from db.models import User, UserProfile

MAX_DISPLAY_NAME = 50
MAX_BIO = 500
MAX_WEBSITE = 200
MAX_PROFESSION = 100


class ProfileHiddenError(InvalidInputError):
    """The member's profile is not visible to the viewer."""

    def __init__(self) -> None:
        super().__init__("This member's profile is private.", reason_key="profile.private")


@dataclass(frozen=True, slots=True)
class Profile:
    """A member's profile as a viewer may see it."""

    user_id: str
    display_name: str | None
    username: str | None
    bio: str | None
    website_url: str | None
    profession: str | None
    characters_created: int
    images_generated: int
    visibility: str
    is_self: bool


@dataclass(frozen=True, slots=True)
class ProfileEdit:
    """The modal's fields; an empty field clears it (the display name falls back to the
    username when cleared)."""

    display_name: str | None
    bio: str | None
    website_url: str | None
    profession: str | None


def validate_website(url: str | None) -> str | None:
    """An http(s) URL with a host, at most 200 characters, or None for an empty field.

    Raises: InvalidInputError ("invalid.website" for any other scheme, e.g. ``javascript:``;
    "invalid.website_too_long").
    """
    text = (url or "").strip()
    if not text:
        return None
    if len(text) > MAX_WEBSITE:
        raise InvalidInputError(
            f"The website can be at most {MAX_WEBSITE} characters (it has {len(text)}).",
            reason_key="invalid.website_too_long",
            field="website",
            max=MAX_WEBSITE,
            length=len(text),
        )
    bad = InvalidInputError(
        "The website must be a link starting with http:// or https://.",
        reason_key="invalid.website",
    )
    if any(ch.isspace() or ord(ch) < 32 or ch in "<>\"'`\\" for ch in text):
        raise bad
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise bad from None
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host or "." not in host.strip("."):
        raise bad
    if port == 0:
        raise bad
    return text


def _clean_edit(edit: ProfileEdit) -> ProfileEdit:
    return ProfileEdit(
        display_name=clean_text(
            edit.display_name,
            field="display_name",
            label="display name",
            max_length=MAX_DISPLAY_NAME,
        ),
        bio=clean_text(edit.bio, field="bio", label="bio", max_length=MAX_BIO),
        website_url=validate_website(edit.website_url),
        profession=clean_text(
            edit.profession, field="profession", label="profession", max_length=MAX_PROFESSION
        ),
    )


async def get_profile(session: AsyncSession, target_user_id: str, viewer_user_id: str) -> Profile:
    """The member's profile, when the viewer may see it.

    Raises: NotFoundError("user"), ProfileHiddenError ("profile.private").
    """
    if not is_valid_id(target_user_id):
        raise NotFoundError("user")
    row = (
        await session.execute(
            select(User, UserProfile)
            .outerjoin(UserProfile, UserProfile.user_id == User.id)
            .where(User.id == target_user_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFoundError("user")
    user, profile = row
    visibility = user.profile_visibility or "private"
    is_self = user.id == viewer_user_id
    if not is_self and visibility != "public":
        raise ProfileHiddenError()
    return Profile(
        user_id=user.id,
        display_name=user.display_name,
        username=user.username,
        bio=profile.bio if profile else None,
        website_url=profile.website_url if profile else None,
        profession=profile.profession if profile else None,
        characters_created=int(user.total_characters_created or 0),
        images_generated=int(user.total_images_generated or 0),
        visibility=visibility,
        is_self=is_self,
    )


async def edit_profile(session: AsyncSession, user_id: str, edit: ProfileEdit) -> Profile:
    """Validate every field, then save them (nothing changes when any field is bad).

    Raises: InvalidInputError (display name > 50, bio > 500, profession > 100, website not an
    http(s) URL or > 200), NotFoundError("user").
    """
    clean = _clean_edit(edit)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    user.display_name = clean.display_name or user.username
    values = {"bio": clean.bio, "website_url": clean.website_url, "profession": clean.profession}
    stmt = insert(UserProfile).values(user_id=user_id, **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[UserProfile.user_id], set_={**values, "updated_at": func.now()}
        )
    )
    await session.flush()
    return await get_profile(session, user_id, user_id)


# --- use cases --------------------------------------------------------------------------------


async def own_profile(db: Database, user_id: str) -> Profile:
    """The member's own profile (what /profile show and the edit modal start from).

    Raises: NotFoundError("user").
    """
    async with db.read() as session:
        return await get_profile(session, user_id, user_id)


async def member_profile(db: Database, discord_id: int, viewer_user_id: str) -> Profile | None:
    """Another member's profile as the viewer may see it; None if they never used the bot.

    Raises: ProfileHiddenError ("profile.private").
    """
    async with db.read() as session:
        target = await get_user_by_discord_id(session, discord_id)
        if target is None:
            return None
        return await get_profile(session, target.id, viewer_user_id)


async def save_profile(db: Database, user_id: str, edit: ProfileEdit) -> Profile:
    """Validate and save the member's edit in one transaction (all fields or none).

    Raises: InvalidInputError, NotFoundError("user") (see :func:`edit_profile`).
    """
    async with db.transaction() as session:
        return await edit_profile(session, user_id, edit)
