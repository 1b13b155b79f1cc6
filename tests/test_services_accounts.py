"""Accounts: one user row per Discord member, race-free, with valid placeholders."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select

from bot.errors import AccountRestrictedError, InvalidInputError
from bot.services import notices
from bot.services.accounts import (
    SettingsChange,
    auth0_id_for,
    ensure_can_generate,
    get_member_with_notices,
    get_or_create_user,
    save_settings,
    update_settings,
    username_candidates,
)
from db.bot_models import ShowcasePost
from db.engine import Database
from db.models import User
from tests.factories import make_character, make_user, next_discord_id

USERNAME = re.compile(r"^[a-zA-Z0-9_]{3,30}$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


async def test_first_use_creates_a_platform_user(session):
    """A member's first use creates a user with the Auth0 Discord id and valid placeholders."""
    did = next_discord_id()
    user = await get_or_create_user(session, did, username_hint="Ava Starlight!", daily_quota=3)
    assert user.auth0_id == f"oauth2|discord|{did}"
    assert EMAIL.match(user.email)
    assert user.username is not None
    assert USERNAME.match(user.username)
    assert user.username.startswith("Ava_Starlight")
    again = await get_or_create_user(session, did, username_hint="other name")
    assert again.id == user.id


@pytest.mark.parametrize("hint", ["名前", "a", "", "x" * 80, "__--__", "ok name with spaces"])
def test_username_candidates_always_match_the_format(hint):
    """Every candidate username matches ^[a-zA-Z0-9_]{3,30}$ whatever the Discord name."""
    for candidate in username_candidates(hint, 123456789012345678):
        assert USERNAME.match(candidate), candidate


async def test_taken_username_gets_a_suffix(session):
    """When someone already has the username, the member gets it with an id suffix."""
    await make_user(session, username="popular")
    did = next_discord_id()
    user = await get_or_create_user(session, did, username_hint="popular")
    assert user.username != "popular"
    assert user.username is not None
    assert user.username.startswith("popular_")


async def test_concurrent_first_uses_create_one_row(session_factory):
    """Twenty first uses of the same member at once, on separate connections, make one row."""
    did = next_discord_id()

    async def first_use() -> str:
        async with session_factory.begin() as s:
            return (await get_or_create_user(s, did, username_hint="racer")).id

    ids = await asyncio.gather(*(first_use() for _ in range(20)))
    assert len(set(ids)) == 1
    async with session_factory() as s:
        count = await s.scalar(
            select(func.count()).select_from(User).where(User.auth0_id == auth0_id_for(did))
        )
    assert count == 1


async def test_suspended_and_banned_accounts_cannot_generate(session):
    """ensure_can_generate refuses suspended and banned accounts and allows active ones."""
    for status in ("suspended", "banned"):
        user = await make_user(session, account_status=status)
        with pytest.raises(AccountRestrictedError) as info:
            ensure_can_generate(user)
        assert status in str(info.value)
    ensure_can_generate(await make_user(session))


async def test_settings_are_validated_and_bad_input_changes_nothing(session):
    """A bad timezone is refused and no other field of the same change is applied."""
    user = await make_user(session)
    with pytest.raises(InvalidInputError) as info:
        await update_settings(
            session, user.id, SettingsChange(language="ja", timezone="Mars/Olympus")
        )
    assert info.value.reason_key == "invalid.timezone"
    await session.refresh(user)
    assert user.preferred_language == "en"
    assert user.timezone == "UTC"
    updated = await update_settings(
        session,
        user.id,
        SettingsChange(
            language="ja",
            timezone="Asia/Tokyo",
            content_filter="strict",
            profile_visibility="public",
            allow_gallery_showcase=True,
        ),
    )
    assert (
        updated.preferred_language,
        updated.timezone,
        updated.content_filter_level,
        updated.profile_visibility,
        updated.allow_gallery_showcase,
    ) == ("ja", "Asia/Tokyo", "strict", "public", True)


@pytest.mark.parametrize(
    "change",
    [
        SettingsChange(language="fr"),
        SettingsChange(content_filter="none"),
        SettingsChange(profile_visibility="everyone"),
        SettingsChange(timezone="../../etc/passwd"),
        SettingsChange(timezone=""),
    ],
)
async def test_each_bad_setting_is_refused(session, change):
    """Unknown language, filter, visibility or timezone values are refused."""
    user = await make_user(session)
    with pytest.raises(InvalidInputError):
        await update_settings(session, user.id, change)


async def test_member_lookup_tells_whether_a_notice_waits(session):
    """One query: unknown member → None; then the row, with a flag that follows the member's
    undelivered notices (another member's notice does not count)."""
    did = next_discord_id()
    assert await get_member_with_notices(session, did) is None
    user = await get_or_create_user(session, did, username_hint="noticed")
    other = await make_user(session)
    await notices.queue_notice(session, other.id, "notice.unpublished", {"name": "B"})
    found = await get_member_with_notices(session, did)
    assert found is not None
    assert found[0].id == user.id
    assert found[1] is False
    await notices.queue_notice(session, user.id, "notice.unpublished", {"name": "A"})
    assert (await get_member_with_notices(session, did))[1] is True  # type: ignore[index]
    await notices.take_notices(session, user.id)
    assert (await get_member_with_notices(session, did))[1] is False  # type: ignore[index]


async def test_save_settings_lists_showcased_characters_only_when_opting_out(session_factory):
    """Saving settings is one unit of work; opting out of the showcase names the member's
    characters that have showcase posts (to remove), any other change names none, and a bad
    value changes nothing."""
    db = Database(session_factory)
    async with session_factory.begin() as s:
        user = await make_user(s, allow_gallery_showcase=True)
        posted = await make_character(s, user, is_public=True)
        await make_character(s, user, is_public=True)
        s.add(ShowcasePost(character_id=posted.id, guild_id=1, channel_id=2, message_id=3))
    with pytest.raises(InvalidInputError):
        await save_settings(db, user.id, SettingsChange(language="ja", timezone="Mars/Olympus"))
    kept = await save_settings(db, user.id, SettingsChange(profile_visibility="public"))
    assert (kept.user.preferred_language, kept.user.profile_visibility) == ("en", "public")
    assert kept.unshow == ()
    opted = await save_settings(db, user.id, SettingsChange(allow_gallery_showcase=False))
    assert opted.user.allow_gallery_showcase is False
    assert opted.unshow == (posted.id,)
