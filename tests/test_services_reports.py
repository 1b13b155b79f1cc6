"""Reports and the report queue, against the real database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.errors import ConflictError, InvalidInputError
from bot.services import report_queue, reports
from bot.services.moderation import Moderator
from bot.services.report_queue import ReportClosedError
from db.bot_models import CharacterReport, GuildSettings, ModerationAction
from db.engine import Database
from db.models import Character
from tests.factories import make_character, make_user

GUILD = 5151


async def _world(session_factory):
    """An owner with a gallery character, a private one, two members, and a moderator."""
    async with session_factory.begin() as s:
        owner = await make_user(s, allow_gallery_showcase=True)
        shown = await make_character(s, owner, name="Shown", is_public=True)
        hidden = await make_character(s, owner, name="Hidden", is_public=False)
        alice = await make_user(s)
        bob = await make_user(s)
        moderator = await make_user(s)
    return owner, shown, hidden, alice, bob, moderator


async def _file(db, character, reporter, reason="spam", guild_id=GUILD):
    return await reports.file_report(
        db,
        character_id=character.id,
        reporter_user_id=reporter.id,
        guild_id=guild_id,
        reason=reason,
    )


async def _count(session_factory, model, *where) -> int:
    async with session_factory() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_report_is_filed_once_while_open_and_names_the_log_channel(session_factory):
    """A member reports a gallery character (reason trimmed, log channel read); a second
    report of theirs while it is open is refused and adds nothing; another member may report."""
    db = Database(session_factory)
    _, shown, _, alice, bob, _ = await _world(session_factory)
    async with session_factory.begin() as s:
        s.add(GuildSettings(guild_id=GUILD, log_channel_id=777))
    filed = await _file(db, shown, alice, "  rude words  ")
    assert (filed.character_id, filed.character_name, filed.reason) == (
        shown.id,
        "Shown",
        "rude words",
    )
    assert filed.log_channel_id == 777
    with pytest.raises(ConflictError) as refused:
        await _file(db, shown, alice, "again")
    assert refused.value.reason_key == "reports.duplicate"
    with pytest.raises(ConflictError):
        await reports.check_reportable(db, shown.id, alice.id)
    await reports.check_reportable(db, shown.id, bob.id)
    other = await _file(db, shown, bob, guild_id=None)
    assert other.log_channel_id is None
    assert await _count(session_factory, CharacterReport) == 2


async def test_own_private_unknown_characters_and_bad_reasons_are_refused(session_factory):
    """Your own character, one not in the gallery, an unknown id and an empty or too long
    reason are refused (an unknown id just like a private character); nothing is written."""
    db = Database(session_factory)
    owner, shown, hidden, alice, _, _ = await _world(session_factory)
    cases = [
        (shown, owner, "spam", "reports.own"),
        (hidden, alice, "spam", "reports.not_public"),
        (shown, alice, "   ", "invalid.reason_empty"),
        (shown, alice, "x" * 501, "invalid.reason_too_long"),
    ]
    for character, reporter, reason, key in cases:
        with pytest.raises(InvalidInputError) as refused:
            await _file(db, character, reporter, reason)
        assert refused.value.reason_key == key
    for unknown in ("no such id!", "0" * 36):  # refused like a private one: no oracle
        with pytest.raises(InvalidInputError) as refused:
            await reports.check_reportable(db, unknown, alice.id)
        assert refused.value.reason_key == "reports.not_public"
    assert await _count(session_factory, CharacterReport) == 0


async def test_the_queue_is_oldest_first_and_pages_both_ways(session_factory):
    """Open reports come oldest first, one a page; Next and Previous walk them; closed ones
    are not shown; a page past the end shows the first page."""
    db = Database(session_factory)
    owner, shown, _, alice, bob, moderator = await _world(session_factory)
    async with session_factory.begin() as s:
        second = await make_character(s, owner, name="Second", is_public=True)
    first = await _file(db, shown, alice, "first")
    middle = await _file(db, second, alice, "middle")
    last = await _file(db, shown, bob, "last")
    queue = await report_queue.open_queue(db)
    assert queue.open_total == 3
    assert [r.id for r in queue.page.items] == [first.id]
    assert queue.page.items[0].open_on_character == 2
    assert queue.page.prev_cursor is None
    page2 = await report_queue.open_queue(db, queue.page.next_cursor)
    assert [r.reason for r in page2.page.items] == ["middle"]
    page3 = await report_queue.open_queue(db, page2.page.next_cursor)
    assert [r.id for r in page3.page.items] == [last.id]
    assert page3.page.next_cursor is None
    back = await report_queue.open_queue(db, page3.page.prev_cursor)
    assert [r.id for r in back.page.items] == [middle.id]
    by = Moderator(GUILD, 1, moderator.id)
    await report_queue.dismiss_report(db, middle.id, by)
    beyond = await report_queue.open_queue(db, page2.page.next_cursor)
    assert [r.id for r in beyond.page.items] == [last.id]
    assert beyond.page.prev_cursor is not None  # the first report is still before it
    await report_queue.dismiss_report(db, last.id, by)
    past_the_end = await report_queue.open_queue(db, page2.page.next_cursor)
    assert [r.id for r in past_the_end.page.items] == [first.id]
    assert past_the_end.open_total == 1
    with pytest.raises(InvalidInputError):
        await report_queue.open_queue(db, "not-a-cursor")


async def test_dismiss_closes_one_report_and_logs_it_once(session_factory):
    """Dismiss closes the report as dismissed and logs dismiss_report (platform); pressing
    it again, or on a made-up id, is refused and logs nothing more."""
    db = Database(session_factory)
    owner, shown, _, alice, bob, moderator = await _world(session_factory)
    report = await _file(db, shown, alice)
    await _file(db, shown, bob)
    by = Moderator(GUILD, 99, moderator.id)
    done = await report_queue.dismiss_report(db, report.id, by)
    assert (done.outcome, done.closed, done.unpublished) == ("dismissed", 1, None)
    for again in (report.id, "0" * 36, "x" * 80):
        with pytest.raises(ReportClosedError):
            await report_queue.dismiss_report(db, again, by)
    async with session_factory() as s:
        row = await s.get(CharacterReport, report.id)
        actions = (await s.scalars(select(ModerationAction))).all()
        assert (await s.get(Character, shown.id)).is_public is True
    assert (row.status, row.resolved_by_discord_id) == ("dismissed", 99)
    assert row.resolved_at is not None
    assert [(a.action, a.scope, a.target_character_id, a.target_user_id) for a in actions] == [
        ("dismiss_report", "platform", shown.id, owner.id)
    ]
    assert await _count(session_factory, CharacterReport, CharacterReport.status == "open") == 1


async def test_unpublish_hides_the_character_and_closes_all_its_reports(session_factory):
    """Unpublish sets is_public false, closes every open report of the character as
    unpublished (others untouched), logs one platform unpublish, and says whom to tell."""
    db = Database(session_factory)
    owner, shown, _, alice, bob, moderator = await _world(session_factory)
    async with session_factory.begin() as s:
        other = await make_character(s, owner, name="Other", is_public=True)
    report = await _file(db, shown, alice, "gore")
    await _file(db, shown, bob)
    untouched = await _file(db, other, alice)
    done = await report_queue.unpublish_reported(db, report.id, Moderator(GUILD, 7, moderator.id))
    assert (done.outcome, done.closed, done.reason) == ("unpublished", 2, "gore")
    assert done.unpublished is not None
    assert done.unpublished.owner.id == owner.id
    async with session_factory() as s:
        assert (await s.get(Character, shown.id)).is_public is False
        statuses = dict((await s.execute(select(CharacterReport.id, CharacterReport.status))).all())
        actions = (await s.scalars(select(ModerationAction))).all()
    assert statuses[untouched.id] == "open"
    assert sorted(statuses.values()) == ["open", "unpublished", "unpublished"]
    assert [(a.action, a.scope, a.reason) for a in actions] == [("unpublish", "platform", "gore")]


async def test_unpublish_of_a_character_already_private_closes_its_reports(session_factory):
    """When the character left the gallery meanwhile, Unpublish still closes its reports and
    logs the decision, with no owner to tell."""
    db = Database(session_factory)
    _, shown, _, alice, _, moderator = await _world(session_factory)
    report = await _file(db, shown, alice)
    async with session_factory.begin() as s:
        (await s.get(Character, shown.id)).is_public = False
    done = await report_queue.unpublish_reported(db, report.id, Moderator(GUILD, 7, moderator.id))
    assert (done.unpublished, done.closed) == (None, 1)
    assert (
        await _count(session_factory, ModerationAction, ModerationAction.action == "unpublish") == 1
    )


async def test_two_moderators_resolving_at_once_log_exactly_once(session_factory):
    """Dismiss and Unpublish pressed together on one report: exactly one wins and is logged;
    the other is told the report is closed."""
    db = Database(session_factory)
    owner, _, _, alice, _, moderator = await _world(session_factory)
    for _round in range(3):
        async with session_factory.begin() as s:
            fresh = await make_character(s, owner, is_public=True)
        report = await _file(db, fresh, alice)
        results = await asyncio.gather(
            report_queue.dismiss_report(db, report.id, Moderator(GUILD, 1, moderator.id)),
            report_queue.unpublish_reported(db, report.id, Moderator(GUILD, 2, moderator.id)),
            report_queue.dismiss_report(db, report.id, Moderator(GUILD, 3, moderator.id)),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1
        assert all(isinstance(e, ReportClosedError) for e in lost)
        logged = await _count(
            session_factory, ModerationAction, ModerationAction.target_character_id == fresh.id
        )
        assert logged == 1


async def test_two_reports_submitted_at_once_by_one_member_make_one_row(session_factory):
    """The same member's two submissions racing: one report, the other refused as a
    duplicate (the partial unique index decides, not a read before the write)."""
    db = Database(session_factory)
    _, shown, _, alice, _, _ = await _world(session_factory)
    results = await asyncio.gather(
        *(_file(db, shown, alice, f"take {i}") for i in range(4)), return_exceptions=True
    )
    filed = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(filed) == 1
    assert all(isinstance(e, ConflictError) for e in refused)
    assert await _count(session_factory, CharacterReport) == 1
