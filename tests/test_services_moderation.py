"""Moderation services, against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import InvalidInputError, NotFoundError
from bot.services import gallery, notices
from bot.services import moderation as svc
from db.bot_models import GuildSettings, ModerationAction, ShowcasePost, UserNotice
from db.models import Character, User
from tests.factories import make_character, make_user

GUILD = 4242


async def showcaser(session, **overrides):
    """A member whose public characters are in the gallery."""
    values = {"allow_gallery_showcase": True, "profile_visibility": "public"}
    values.update(overrides)
    return await make_user(session, **values)


def test_is_moderator_by_permission_or_configured_role():
    """Manage Messages or the configured role makes a moderator; nothing else does."""
    assert svc.is_moderator(manage_messages=True, role_ids=[], moderator_role_id=None)
    assert svc.is_moderator(manage_messages=False, role_ids=[7, 9], moderator_role_id=9)
    assert not svc.is_moderator(manage_messages=False, role_ids=[7], moderator_role_id=9)
    assert not svc.is_moderator(manage_messages=False, role_ids=[7], moderator_role_id=None)
    assert svc.can_configure(manage_guild=True)
    assert not svc.can_configure(manage_guild=False)


def test_discord_id_of_reads_the_auth0_id():
    """The snowflake comes from ``oauth2|discord|<id>``; other accounts have none."""
    assert svc.discord_id_of(User(auth0_id="oauth2|discord|123")) == 123
    assert svc.discord_id_of(User(auth0_id="auth0|abc")) is None
    assert svc.discord_id_of(User(auth0_id=None)) is None


async def test_configure_guild_upserts_only_given_values_and_logs(session):
    """Setup creates the row, a later setup changes only what it names, each is logged."""
    mod = await make_user(session)
    first = await svc.configure_guild(
        session, GUILD, moderator_discord_id=1, moderator_user_id=mod.id, showcase_channel_id=55
    )
    assert (first.showcase_channel_id, first.moderator_role_id) == (55, None)
    second = await svc.configure_guild(
        session, GUILD, moderator_discord_id=1, moderator_user_id=mod.id, moderator_role_id=66
    )
    assert (second.showcase_channel_id, second.moderator_role_id) == (55, 66)
    assert (await session.get(GuildSettings, GUILD)).moderator_role_id == 66
    actions = (
        await session.scalars(
            select(ModerationAction.action).where(ModerationAction.guild_id == GUILD)
        )
    ).all()
    assert actions == ["setup", "setup"]


async def test_unpublish_hides_character_from_gallery_and_records_action(session):
    """A moderator's unpublish makes it private, gone from the gallery, and logged with why."""
    owner = await showcaser(session)
    mod = await make_user(session)
    character = await make_character(session, owner, is_public=True, name="Lancelot")
    assert character.id in [e.character.id for e in (await gallery.browse(session)).items]
    result = await svc.unpublish_character(
        session,
        character.id,
        guild_id=GUILD,
        moderator_discord_id=77,
        moderator_user_id=mod.id,
        reason="  off-topic  ",
    )
    assert result.owner.id == owner.id
    assert result.character.is_public is False
    assert character.id not in [e.character.id for e in (await gallery.browse(session)).items]
    entries = await svc.recent_actions(session, GUILD)
    assert len(entries) == 1
    assert entries[0].action == "unpublish"
    assert entries[0].reason == "off-topic"
    assert entries[0].moderator_discord_id == 77
    assert entries[0].target_character_name == "Lancelot"


async def test_unpublish_refuses_private_unknown_and_empty_reason(session):
    """A private character, an unknown id or a blank reason change nothing and log nothing."""
    owner = await showcaser(session)
    private = await make_character(session, owner)
    public = await make_character(session, owner, is_public=True)
    kwargs = {"guild_id": GUILD, "moderator_discord_id": 1, "moderator_user_id": None}
    with pytest.raises(InvalidInputError) as info:
        await svc.unpublish_character(session, private.id, reason="x", **kwargs)
    assert info.value.reason_key == "mod.not_public"
    with pytest.raises(NotFoundError):
        await svc.unpublish_character(
            session, "00000000-0000-0000-0000-000000000000", reason="x", **kwargs
        )
    with pytest.raises(InvalidInputError):
        await svc.unpublish_character(session, public.id, reason="   ", **kwargs)
    assert (await session.get(Character, public.id)).is_public is True
    assert await svc.recent_actions(session, GUILD) == []


async def test_set_status_suspends_then_reactivates_gallery_presence(session):
    """Suspending hides the member's characters from the gallery; reactivating restores them;
    both are logged with from/to."""
    owner = await showcaser(session)
    mod = await make_user(session)
    character = await make_character(session, owner, is_public=True)
    kwargs = {"guild_id": GUILD, "moderator_discord_id": 5, "moderator_user_id": mod.id}
    change = await svc.set_user_status(session, owner.id, "suspended", reason="spam", **kwargs)
    assert change.previous == "active"
    assert change.user.account_status == "suspended"
    assert character.id not in [e.character.id for e in (await gallery.browse(session)).items]
    await svc.set_user_status(session, owner.id, "active", reason="appeal accepted", **kwargs)
    assert character.id in [e.character.id for e in (await gallery.browse(session)).items]
    entries = await svc.recent_actions(session, GUILD)
    assert [(e.details["from"], e.details["to"]) for e in entries] == [
        ("suspended", "active"),
        ("active", "suspended"),
    ]
    assert entries[0].target_user_discord_id == int(owner.auth0_id.rsplit("|", 1)[1])


async def test_set_status_lists_showcased_characters_to_remove(session):
    """Banning returns the member's characters that have showcase posts."""
    owner = await showcaser(session)
    posted = await make_character(session, owner, is_public=True)
    await make_character(session, owner, is_public=True)
    session.add(ShowcasePost(character_id=posted.id, guild_id=GUILD, channel_id=1, message_id=2))
    await session.flush()
    change = await svc.set_user_status(
        session,
        owner.id,
        "banned",
        guild_id=GUILD,
        moderator_discord_id=5,
        moderator_user_id=None,
        reason="abuse",
    )
    assert change.character_ids_to_unshow == (posted.id,)


async def test_set_status_refuses_bad_status_and_self(session):
    """Only active/suspended/banned, and never on oneself."""
    mod = await make_user(session)
    kwargs = {"guild_id": GUILD, "moderator_discord_id": 5, "reason": "x"}
    with pytest.raises(InvalidInputError):
        await svc.set_user_status(session, mod.id, "deleted", moderator_user_id=None, **kwargs)
    with pytest.raises(svc.SelfModerationError):
        await svc.set_user_status(session, mod.id, "banned", moderator_user_id=mod.id, **kwargs)
    assert (await session.get(User, mod.id)).account_status == "active"


async def test_recent_actions_are_per_guild_newest_first(session):
    """/mod log shows only this guild's actions, newest first, at most the limit."""
    owner = await showcaser(session)
    kwargs = {"moderator_discord_id": 5, "moderator_user_id": None, "reason": "r"}
    for status in ("suspended", "banned", "active"):
        await svc.set_user_status(session, owner.id, status, guild_id=GUILD, **kwargs)
    await svc.set_user_status(session, owner.id, "banned", guild_id=GUILD + 1, **kwargs)
    entries = await svc.recent_actions(session, GUILD, limit=2)
    assert [e.details["to"] for e in entries] == ["active", "banned"]


async def test_autocomplete_public_characters_by_name_or_id(session):
    """Only public characters, matched by name (prefix first) or by exact id."""
    owner = await showcaser(session)
    hidden = await make_character(session, owner, name="Zorro Private")
    shown = await make_character(session, owner, is_public=True, name="Zorro Public")
    ids = [i for i, _ in await svc.autocomplete_public_characters(session, "zorro")]
    assert shown.id in ids
    assert hidden.id not in ids
    assert [i for i, _ in await svc.autocomplete_public_characters(session, shown.id)] == [shown.id]


async def test_notices_are_taken_once(session):
    """A queued notice is returned once, then marked delivered; restore makes it pending."""
    owner = await make_user(session)
    await notices.queue_notice(session, owner.id, "notice.unpublished", {"name": "A"})
    assert await notices.has_notices(session, owner.id)
    taken = await notices.take_notices(session, owner.id)
    assert [(n.key, n.params) for n in taken] == [("notice.unpublished", {"name": "A"})]
    assert not await notices.has_notices(session, owner.id)
    assert await notices.take_notices(session, owner.id) == []
    await notices.restore_notices(session, [taken[0].id])
    assert await notices.has_notices(session, owner.id)
    row = (await session.scalars(select(UserNotice).where(UserNotice.user_id == owner.id))).one()
    assert row.delivered_at is None
