"""Moderation services, against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import InvalidInputError, NotFoundError
from bot.services import gallery, guild_moderation, guild_settings, modlog, notices
from bot.services import moderation as svc
from bot.services.accounts import NewMember, get_user_by_discord_id
from db.bot_models import GuildSettings, ModerationAction, ShowcasePost, UserNotice
from db.engine import Database
from db.models import Character, User
from tests.factories import make_character, make_user, next_discord_id

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
    first = await guild_settings.configure_guild(
        session, GUILD, moderator_discord_id=1, moderator_user_id=mod.id, showcase_channel_id=55
    )
    assert (first.showcase_channel_id, first.moderator_role_id) == (55, None)
    second = await guild_settings.configure_guild(
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
    """A platform unpublish makes it private, gone from the gallery, and logged with why in the
    platform scope (shown to platform moderators, not in the guild's own log)."""
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
    assert await modlog.recent_actions(session, GUILD) == []
    entries = await modlog.recent_actions(session, GUILD + 9, platform=True)
    assert len(entries) == 1
    assert (entries[0].action, entries[0].scope) == ("unpublish", "platform")
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
    assert await modlog.recent_actions(session, GUILD, platform=True) == []


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
    entries = await modlog.recent_actions(session, GUILD, platform=True)
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
    """A guild's /mod log shows only that guild's guild-scope actions, newest first, at most
    the limit; a platform moderator's also shows every platform-scope action."""
    owner = await showcaser(session)
    here, there = svc.Moderator(GUILD, 5, None), svc.Moderator(GUILD + 1, 5, None)
    for status in ("blocked", "active", "blocked"):
        await guild_moderation.set_block(session, owner.id, status, here, "r")
    await guild_moderation.set_block(session, owner.id, "active", there, "r")
    await svc.set_user_status(
        session,
        owner.id,
        "banned",
        guild_id=GUILD + 2,
        moderator_discord_id=6,
        moderator_user_id=None,
        reason="r",
    )
    entries = await modlog.recent_actions(session, GUILD, limit=2)
    assert [e.details["to"] for e in entries] == ["blocked", "active"]
    assert {e.scope for e in entries} == {"guild"}
    assert [e.details["to"] for e in await modlog.recent_actions(session, GUILD + 1)] == ["active"]
    everywhere = await modlog.recent_actions(session, GUILD, platform=True)
    assert [(e.scope, e.details["to"]) for e in everywhere] == [
        ("platform", "banned"),
        ("guild", "blocked"),
        ("guild", "active"),
        ("guild", "blocked"),
    ]


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


# -- the use cases: each opens its own unit of work on the Database ---------------------------


async def test_mod_use_cases_commit_each_change_with_its_log_entry(session_factory):
    """/mod setup, unpublish and user through their use cases: each change is committed with
    one log row, and /mod log reads them back newest first; the autocomplete sees only public
    characters."""
    db = Database(session_factory)
    async with session_factory.begin() as s:
        mod = await make_user(s)
        owner = await showcaser(s)
        character = await make_character(s, owner, is_public=True, name="Percival")
    by = svc.Moderator(GUILD, 77, mod.id)
    assert await guild_settings.moderator_role(db, GUILD) is None
    assert await guild_settings.setup_guild(db, by) is None  # nothing given: only a read
    settings = await guild_settings.setup_guild(db, by, moderator_role_id=66)
    assert settings is not None
    assert (settings.showcase_channel_id, settings.moderator_role_id) == (None, 66)
    assert await guild_settings.moderator_role(db, GUILD) == 66
    current = await guild_settings.setup_guild(db, by)
    assert current is not None
    assert current.moderator_role_id == 66

    assert [i for i, _ in await svc.public_character_choices(db, "perci")] == [character.id]
    result = await svc.unpublish(db, character.id, by, "spoilers")
    assert (result.character.is_public, result.owner.id) == (False, owner.id)
    assert await svc.public_character_choices(db, "perci") == []
    change = await svc.change_status(db, _member(svc.discord_id_of(owner)), "suspended", by, "spam")
    assert (change.previous, change.user.account_status) == ("active", "suspended")
    with pytest.raises(svc.SelfModerationError):
        await svc.change_status(db, _member(svc.discord_id_of(mod)), "banned", by, "oops")

    assert [e.action for e in await modlog.moderation_log(db, GUILD)] == ["setup"]
    entries = await modlog.moderation_log(db, GUILD, platform=True)
    assert [e.action for e in entries] == ["set_status", "unpublish", "setup"]
    assert [e.scope for e in entries] == ["platform", "platform", "guild"]
    assert [e.reason for e in entries] == ["spam", "spoilers", None]
    assert {e.moderator_discord_id for e in entries} == {77}
    assert entries[0].target_user_discord_id == svc.discord_id_of(owner)


def _member(discord_id: int | None) -> NewMember:
    assert discord_id is not None
    return NewMember(discord_id, "someone", None, None, 3, None)


async def test_a_refused_status_change_of_a_new_member_leaves_no_user_row(session_factory):
    """/mod user on someone who never used the bot, refused (blank reason): no row is made."""
    db = Database(session_factory)
    async with session_factory.begin() as s:
        mod = await make_user(s)
    stranger = next_discord_id()
    by = svc.Moderator(GUILD, 77, mod.id)
    with pytest.raises(InvalidInputError):
        await svc.change_status(db, _member(stranger), "banned", by, " ")
    async with session_factory() as s:
        assert await get_user_by_discord_id(s, stranger) is None
    change = await svc.change_status(db, _member(stranger), "banned", by, "spam")
    assert change.user.account_status == "banned"


async def test_notice_use_cases_keep_take_and_put_back(session_factory):
    """A kept notice waits; taking it marks it delivered and says the member's language;
    putting it back makes it wait again; a member without notices gets none."""
    db = Database(session_factory)
    async with session_factory.begin() as s:
        owner = await make_user(s, preferred_language="ja")
        other = await make_user(s)
    await notices.keep_notice(db, owner.id, "notice.unpublished", {"name": "B"})
    assert await notices.notice_waiting(db, owner.id)
    assert not await notices.notice_waiting(db, other.id)
    taken = await notices.take_waiting(db, owner.id)
    assert [(n.key, n.params) for n in taken.notices] == [("notice.unpublished", {"name": "B"})]
    assert taken.preferred_language == "ja"
    assert not await notices.notice_waiting(db, owner.id)
    await notices.put_back(db, taken.notices)
    assert await notices.notice_waiting(db, owner.id)
    nothing = await notices.take_waiting(db, other.id)
    assert (nothing.notices, nothing.preferred_language) == ([], None)
