"""Profile services, against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import InvalidInputError, NotFoundError
from bot.services import profiles as svc
from db.engine import Database
from db.models import User, UserProfile
from tests.factories import make_user, next_discord_id

EDIT = svc.ProfileEdit(
    display_name="Morgan",
    bio="I draw knights.",
    website_url="https://morgan.example/art",
    profession="Illustrator",
)


async def test_first_edit_creates_the_profile_row(session):
    """The user_profiles row appears on the first edit, with every field saved."""
    user = await make_user(session)
    assert (await session.scalar(select(UserProfile).where(UserProfile.user_id == user.id))) is None
    profile = await svc.edit_profile(session, user.id, EDIT)
    assert (profile.display_name, profile.bio, profile.website_url, profile.profession) == (
        "Morgan",
        "I draw knights.",
        "https://morgan.example/art",
        "Illustrator",
    )
    row = await session.scalar(select(UserProfile).where(UserProfile.user_id == user.id))
    assert row.bio == "I draw knights."
    again = await svc.edit_profile(
        session, user.id, svc.ProfileEdit(display_name="M", bio="", website_url="", profession="")
    )
    assert (again.display_name, again.bio, again.website_url, again.profession) == (
        "M",
        None,
        None,
        None,
    )
    rows = (await session.scalars(select(UserProfile).where(UserProfile.user_id == user.id))).all()
    assert len(rows) == 1


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT://example.com/%0aalert(1)",
        "data:text/html,hi",
        "ftp://example.com",
        "https://",
        "https://exa mple.com",
        "http://localhost",
        "https://example.com:99999/",
        "//example.com",
    ],
)
async def test_edit_rejects_non_http_urls_and_changes_nothing(session, url):
    """Anything but an http(s) link with a real host is refused; no field is saved."""
    user = await make_user(session, display_name="Before")
    with pytest.raises(InvalidInputError) as info:
        await svc.edit_profile(
            session,
            user.id,
            svc.ProfileEdit(display_name="After", bio="b", website_url=url, profession="p"),
        )
    assert info.value.reason_key == "invalid.website"
    assert (await session.get(User, user.id)).display_name == "Before"
    assert (await session.scalar(select(UserProfile).where(UserProfile.user_id == user.id))) is None


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("display_name", "x" * 51, "invalid.display_name_too_long"),
        ("bio", "x" * 501, "invalid.bio_too_long"),
        ("profession", "x" * 101, "invalid.profession_too_long"),
        ("website_url", "https://example.com/" + "x" * 181, "invalid.website_too_long"),
    ],
)
async def test_edit_enforces_lengths(session, field, value, key):
    """Display name ≤ 50, bio ≤ 500, profession ≤ 100, website ≤ 200."""
    user = await make_user(session)
    values = {"display_name": "a", "bio": "b", "website_url": "", "profession": "c", field: value}
    with pytest.raises(InvalidInputError) as info:
        await svc.edit_profile(session, user.id, svc.ProfileEdit(**values))
    assert info.value.reason_key == key


async def test_edit_accepts_limits_exactly(session):
    """Values exactly at the limits are accepted."""
    user = await make_user(session)
    profile = await svc.edit_profile(
        session,
        user.id,
        svc.ProfileEdit(
            display_name="d" * 50,
            bio="b" * 500,
            website_url="https://example.com/" + "x" * 180,
            profession="p" * 100,
        ),
    )
    assert len(profile.website_url) == 200


async def test_profile_visibility_decides_who_sees_it(session):
    """Public profiles are seen by anyone; private and friends only by the member."""
    viewer = await make_user(session)
    public = await make_user(
        session, profile_visibility="public", total_characters_created=4, total_images_generated=9
    )
    private = await make_user(session, profile_visibility="private")
    friends = await make_user(session, profile_visibility="friends")
    seen = await svc.get_profile(session, public.id, viewer.id)
    assert (seen.characters_created, seen.images_generated, seen.is_self) == (4, 9, False)
    for hidden in (private, friends):
        with pytest.raises(svc.ProfileHiddenError):
            await svc.get_profile(session, hidden.id, viewer.id)
        assert (await svc.get_profile(session, hidden.id, hidden.id)).is_self is True
    with pytest.raises(NotFoundError):
        await svc.get_profile(session, "00000000-0000-0000-0000-000000000000", viewer.id)


async def test_use_cases_show_and_save_profiles_in_their_own_units_of_work(session_factory):
    """own_profile, member_profile and save_profile each open their own session: a member never
    seen is None, a private member is refused, a bad edit saves nothing, a good one is kept."""
    db = Database(session_factory)
    async with session_factory.begin() as s:
        viewer = await make_user(s)
        hidden = await make_user(s, profile_visibility="private")
        shown = await make_user(s, profile_visibility="public")
    hidden_discord_id = int(hidden.auth0_id.rsplit("|", 1)[1])
    shown_discord_id = int(shown.auth0_id.rsplit("|", 1)[1])
    assert await svc.member_profile(db, next_discord_id(), viewer.id) is None
    with pytest.raises(svc.ProfileHiddenError):
        await svc.member_profile(db, hidden_discord_id, viewer.id)
    with pytest.raises(InvalidInputError):
        await svc.save_profile(
            db, shown.id, svc.ProfileEdit("Sam", "bio", "javascript:alert(1)", None)
        )
    assert (await svc.own_profile(db, shown.id)).bio is None
    saved = await svc.save_profile(db, shown.id, EDIT)
    assert (saved.display_name, saved.is_self) == ("Morgan", True)
    seen = await svc.member_profile(db, shown_discord_id, viewer.id)
    assert seen is not None
    assert (seen.bio, seen.profession, seen.is_self) == ("I draw knights.", "Illustrator", False)
    assert (await svc.own_profile(db, hidden.id)).is_self is True
