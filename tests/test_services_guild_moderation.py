"""Moderation in two scopes against the real database: who may act where, hiding a character
in one guild, blocking a member in one guild, and the guild's log channel."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.errors import InvalidInputError, NotFoundError
from bot.services import gallery, guild_moderation, guild_settings, modlog, showcase
from bot.services import moderation as svc
from bot.services.accounts import (
    NewMember,
    find_member_here,
    get_member_with_notices,
    resolve_member,
)
from bot.services.mod_scopes import PlatformScopeError, check_scope
from db.bot_models import GuildBlockedUser, GuildHiddenCharacter, ModerationAction, ShowcasePost
from db.engine import Database
from db.models import Character, User
from tests.factories import make_character, make_user, next_discord_id

GUILD_A, GUILD_B = 7001, 7002


async def showcaser(session, **overrides):
    values = {"allow_gallery_showcase": True, "profile_visibility": "public"}
    values.update(overrides)
    return await make_user(session, **values)


def ids(page) -> list[str]:
    return [e.character.id for e in page.items]


def test_the_platform_scope_belongs_to_platform_moderators():
    """scope:platform, suspended and banned need a platform moderator; suspended/banned need
    the platform scope; blocked holds in a guild only; unknown values are refused."""
    check_scope("guild", platform_moderator=False)
    check_scope("guild", platform_moderator=False, status="blocked")
    check_scope("guild", platform_moderator=False, status="active")
    check_scope("platform", platform_moderator=True, status="suspended")
    check_scope("platform", platform_moderator=True, status="active")
    for scope, status in (("platform", None), ("guild", "suspended"), ("guild", "banned")):
        with pytest.raises(PlatformScopeError):
            check_scope(scope, platform_moderator=False, status=status)
    with pytest.raises(InvalidInputError) as needs:
        check_scope("guild", platform_moderator=True, status="banned")
    assert needs.value.reason_key == "mod.status_needs_platform"
    with pytest.raises(InvalidInputError) as guild_only:
        check_scope("platform", platform_moderator=True, status="blocked")
    assert guild_only.value.reason_key == "mod.blocked_is_guild"
    with pytest.raises(InvalidInputError):
        check_scope("galaxy", platform_moderator=True)
    with pytest.raises(InvalidInputError):
        check_scope("guild", platform_moderator=True, status="deleted")


async def test_hiding_in_one_guild_leaves_the_character_public_elsewhere(session):
    """A guild hide takes the character out of that guild's gallery (browse and the member's
    page) only; is_public is untouched; the action is logged in the guild scope; hiding it
    twice is refused."""
    owner = await showcaser(session)
    character = await make_character(session, owner, is_public=True, name="Gawain")
    by = svc.Moderator(GUILD_B, 91, None)
    result = await guild_moderation.hide_character(session, character.id, by, " spoilers ")
    assert result.owner.id == owner.id
    assert (await session.get(Character, character.id)).is_public is True
    assert character.id not in ids(await gallery.browse(session, guild_id=GUILD_B))
    assert character.id in ids(await gallery.browse(session, guild_id=GUILD_A))
    assert character.id in ids(await gallery.browse(session))
    viewer = await make_user(session)
    in_b = await gallery.user_gallery(session, owner.id, viewer.id, guild_id=GUILD_B)
    in_a = await gallery.user_gallery(session, owner.id, viewer.id, guild_id=GUILD_A)
    assert (ids(in_b), ids(in_a)) == ([], [character.id])
    entries = await modlog.recent_actions(session, GUILD_B)
    assert [(e.action, e.scope, e.reason) for e in entries] == [("unpublish", "guild", "spoilers")]
    assert await modlog.recent_actions(session, GUILD_A) == []
    with pytest.raises(InvalidInputError) as twice:
        await guild_moderation.hide_character(session, character.id, by, "again")
    assert twice.value.reason_key == "mod.already_hidden"
    choices_b = await svc.autocomplete_public_characters(session, "Gawain", guild_id=GUILD_B)
    choices_a = await svc.autocomplete_public_characters(session, "Gawain", guild_id=GUILD_A)
    assert (choices_b, [i for i, _ in choices_a]) == ([], [character.id])


async def test_a_refused_hide_changes_nothing(session):
    """A private character, an unknown id, a blank reason or no guild: no row, no log."""
    owner = await showcaser(session)
    private = await make_character(session, owner)
    public = await make_character(session, owner, is_public=True)
    by = svc.Moderator(GUILD_B, 91, None)
    with pytest.raises(InvalidInputError):
        await guild_moderation.hide_character(session, private.id, by, "x")
    with pytest.raises(NotFoundError):
        await guild_moderation.hide_character(
            session, "00000000-0000-0000-0000-000000000000", by, "x"
        )
    with pytest.raises(InvalidInputError):
        await guild_moderation.hide_character(session, public.id, by, "  ")
    with pytest.raises(InvalidInputError):
        await guild_moderation.hide_character(session, public.id, svc.Moderator(None, 1, None), "x")
    assert await session.scalar(select(func.count()).select_from(GuildHiddenCharacter)) == 0
    assert await modlog.recent_actions(session, GUILD_B, platform=True) == []


async def test_blocking_holds_in_one_guild_and_is_read_with_the_member(session):
    """Blocked in B: the member lookup says so in B only (one query, with the notices flag);
    unblocking removes the row; each change is logged with from/to; self-blocks are refused."""
    member = await make_user(session)
    discord_id = svc.discord_id_of(member)
    assert discord_id is not None
    by = svc.Moderator(GUILD_B, 91, None)
    change = await guild_moderation.set_block(session, member.id, "blocked", by, "raids")
    assert (change.previous, change.status) == ("active", "blocked")
    assert (await get_member_with_notices(session, discord_id, GUILD_B))[2] is True  # type: ignore[index]
    assert (await get_member_with_notices(session, discord_id, GUILD_A))[2] is False  # type: ignore[index]
    assert (await get_member_with_notices(session, discord_id))[2] is False  # type: ignore[index]
    assert (await session.get(User, member.id)).account_status == "active"
    again = await guild_moderation.set_block(session, member.id, "blocked", by, "still")
    assert again.previous == "blocked"
    undone = await guild_moderation.set_block(session, member.id, "active", by, "appeal")
    assert undone.previous == "blocked"
    assert await session.get(GuildBlockedUser, (GUILD_B, member.id)) is None
    entries = await modlog.recent_actions(session, GUILD_B)
    assert [(e.details["from"], e.details["to"]) for e in entries] == [
        ("blocked", "active"),
        ("blocked", "blocked"),
        ("active", "blocked"),
    ]
    me = svc.Moderator(GUILD_B, 92, member.id)
    with pytest.raises(svc.SelfModerationError):
        await guild_moderation.set_block(session, member.id, "blocked", me, "oops")
    with pytest.raises(InvalidInputError):
        await guild_moderation.set_block(session, member.id, "banned", by, "x")


async def test_block_use_cases_and_the_read_only_lookup(session_factory):
    """change_block makes the target's row when needed and commits the block with its log row;
    resolve_member and find_member_here see it in that guild only; a refused change (blank
    reason) leaves no user row and no block."""
    db = Database(session_factory)
    stranger = next_discord_id()
    target = NewMember(stranger, "stranger", None, None, 3, None)
    by = svc.Moderator(GUILD_B, 91, None)
    with pytest.raises(InvalidInputError):
        await guild_moderation.change_block(db, target, "blocked", by, " ")
    assert await find_member_here(db, stranger, GUILD_B) == (None, False)
    change = await guild_moderation.change_block(db, target, "blocked", by, "spam")
    user_id = change.user.id
    assert await find_member_here(db, stranger, GUILD_B) == (user_id, True)
    assert await find_member_here(db, stranger, GUILD_A) == (user_id, False)
    user, _, blocked = await resolve_member(db, target, GUILD_B)
    assert (user.id, blocked) == (user_id, True)
    assert (await resolve_member(db, target, GUILD_A))[2] is False
    async with session_factory() as s:
        logged = await s.scalar(
            select(func.count())
            .select_from(ModerationAction)
            .where(ModerationAction.target_user_id == user_id, ModerationAction.scope == "guild")
        )
    assert logged == 1


async def test_showcase_posts_leave_one_guild_and_a_hidden_character_is_not_reposted(
    session_factory,
):
    """take_posts(guild_id=B) removes B's post only; B's showcase channel is not offered for a
    character hidden there, A's still is."""
    db = Database(session_factory)
    async with session_factory.begin() as s:
        owner = await showcaser(s)
        character = await make_character(s, owner, is_public=True)
        for guild in (GUILD_A, GUILD_B):
            s.add(
                ShowcasePost(
                    character_id=character.id, guild_id=guild, channel_id=1, message_id=guild
                )
            )
    taken = await showcase.take_posts(db, character.id, guild_id=GUILD_B)
    assert [p.message_id for p in taken] == [GUILD_B]
    async with session_factory() as s:
        assert await s.get(ShowcasePost, (character.id, GUILD_A)) is not None
    for guild, channel in ((GUILD_A, 11), (GUILD_B, 12)):
        await guild_settings.setup_guild(
            db, svc.Moderator(guild, 1, None), showcase_channel_id=channel
        )
    await guild_moderation.hide(db, character.id, svc.Moderator(GUILD_B, 1, None), "no")
    assert await showcase.channel_to_post(db, GUILD_B, character.id) is None
    assert [p.message_id for p in await showcase.take_posts(db, character.id)] == [GUILD_A]
    assert await showcase.channel_to_post(db, GUILD_A, character.id) == 11


async def test_log_channel_is_set_by_setup_and_read_back(session_factory):
    """setup_guild(log_channel_id=…) keeps the other settings; log_channel reads it; doctor's
    configured channels list it beside the showcase channel."""
    db = Database(session_factory)
    by = svc.Moderator(GUILD_A + 100, 1, None)
    assert await guild_settings.log_channel(db, GUILD_A + 100) is None
    await guild_settings.setup_guild(db, by, showcase_channel_id=31)
    settings = await guild_settings.setup_guild(db, by, log_channel_id=32)
    assert settings is not None
    assert (settings.showcase_channel_id, settings.log_channel_id) == (31, 32)
    assert await guild_settings.log_channel(db, GUILD_A + 100) == 32
    configured = await guild_settings.configured_channels(db, limit=50)
    mine = [(c.channel_id, c.purpose) for c in configured if c.guild_id == GUILD_A + 100]
    assert mine == [(31, "showcase"), (32, "log")]
