"""Which rows are a member's is read from the schema's foreign keys: every table that reaches
users(id) by some chain of keys is in the plan, no table is reached ambiguously without a
decision, and erasing the users row cannot be blocked by a key."""

from __future__ import annotations

from sqlalchemy import text

from bot.services.member_data.plan import (
    DECIDED_PARENTS,
    USERS,
    ForeignKey,
    build_plan,
    member_plan,
)

# every table with a chain of foreign keys to users, computed apart from the plan's own code
_REACHING_USERS = text(
    """
    WITH RECURSIVE fk AS (
        SELECT DISTINCT kcu.table_name::text COLLATE "C" AS tbl,
               ccu.table_name::text COLLATE "C" AS ref
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu
          ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
        JOIN information_schema.constraint_column_usage ccu
          ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
        WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()
    ), reach(tbl) AS (
        SELECT 'users'::text COLLATE "C"
        UNION
        SELECT fk.tbl FROM fk JOIN reach ON fk.ref = reach.tbl
    )
    SELECT tbl FROM reach
    """
)


def _fk(table: str, column: str, ref: str, ref_column: str = "id", on_delete: str = "cascade"):
    return ForeignKey(table, column, ref, ref_column, on_delete)


async def test_every_table_reaching_users_is_covered(session):
    """A table with a key to users (or to a table that has one, at any depth) is exported and
    erased: the plan built from the live schema holds every such table, and none of them is
    reached through two keys without a decision in DECIDED_PARENTS. Fails when a migration
    adds such a table that the plan cannot place."""
    plan = await member_plan(session)
    reaching = set((await session.execute(_REACHING_USERS)).scalars())
    assert reaching - set(plan.tables) == set()
    assert plan.undecided == ()
    for expected in (
        "users",
        "user_profiles",
        "characters",
        "character_themes",
        "theme_variants",
        "generations",
        "character_collections",
        "character_collection_items",
        "user_notices",
        "moderation_actions",
        "showcase_posts",
    ):
        assert expected in plan.tables
    assert set(DECIDED_PARENTS) <= set(plan.tables)


async def test_every_key_into_a_members_rows_cascades_or_sets_null(session):
    """Deleting the users row takes every row of theirs with it (CASCADE) or leaves another's
    row with the reference cleared (SET NULL, e.g. the moderation log); no key blocks it."""
    plan = await member_plan(session)
    assert plan.blocking_keys() == ()
    set_null = {(fk.table, fk.column) for fk in plan.foreign_keys if fk.on_delete == "set null"}
    assert ("moderation_actions", "target_user_id") in set_null
    assert ("moderation_actions", "moderator_user_id") in set_null


async def test_a_table_added_later_is_covered_without_being_listed(session):
    """A table created after the code was written (here inside the test's transaction), with a
    key to users and a child table of its own, is in the plan with both."""
    await session.execute(
        text(
            "CREATE TABLE later_member_things (id text PRIMARY KEY, "
            "owner text NOT NULL REFERENCES users(id) ON DELETE CASCADE)"
        )
    )
    await session.execute(
        text(
            "CREATE TABLE later_member_thing_parts (id text PRIMARY KEY, "
            "thing_id text NOT NULL REFERENCES later_member_things(id) ON DELETE CASCADE)"
        )
    )
    plan = await member_plan(session)
    assert plan.rule("later_member_things").user_columns == ("owner",)
    assert [fk.column for fk in plan.rule("later_member_thing_parts").parents] == ["thing_id"]
    assert plan.tables.index("later_member_things") < plan.tables.index("later_member_thing_parts")


def test_a_table_reached_through_two_keys_needs_a_decision():
    """A new table hanging from two of the member's tables is flagged (and counts through
    both keys until decided); a decided one follows its decision."""
    keys = [
        _fk("characters", "user_id", USERS),
        _fk("character_collections", "user_id", USERS),
        _fk("character_collection_items", "collection_id", "character_collections"),
        _fk("character_collection_items", "character_id", "characters"),
        _fk("pinned", "character_id", "characters"),
        _fk("pinned", "collection_id", "character_collections"),
    ]
    plan = build_plan(keys)
    assert plan.undecided == ("pinned",)
    assert [fk.column for fk in plan.rule("pinned").parents] == ["character_id", "collection_id"]
    items = plan.rule("character_collection_items")
    assert [fk.column for fk in items.parents] == ["collection_id"]
    assert "character_collections" in plan.condition("character_collection_items")
    assert "characters" not in plan.condition("character_collection_items").replace(
        "character_collections", ""
    )


def test_direct_tables_are_decided_by_their_user_columns_only():
    """A record with a key to users is the member's when that key names them (moderator or
    target), never because it names one of their characters."""
    keys = [
        _fk("characters", "user_id", USERS),
        _fk("moderation_actions", "moderator_user_id", USERS, on_delete="set null"),
        _fk("moderation_actions", "target_user_id", USERS, on_delete="set null"),
        _fk("moderation_actions", "target_character_id", "characters", on_delete="set null"),
    ]
    plan = build_plan(keys)
    rule = plan.rule("moderation_actions")
    assert rule.user_columns == ("moderator_user_id", "target_user_id")
    assert rule.parents == ()
    assert plan.undecided == ()


async def test_a_key_that_would_block_erasure_has_its_rows_deleted_first(session):
    """A later table whose key into a member's characters neither cascades nor sets null
    would make deleting the users row fail: erasure deletes the rows pointing at them first."""
    from bot.services.member_data.erase import erase_rows
    from db.models import Character, User
    from tests.factories import make_character, make_user

    await session.execute(
        text(
            "CREATE TABLE later_pins (id text PRIMARY KEY, "
            "character_id text NOT NULL REFERENCES characters(id))"
        )
    )
    user = await make_user(session)
    character = await make_character(session, user)
    await session.execute(text("INSERT INTO later_pins VALUES ('pin', :c)"), {"c": character.id})
    plan = await member_plan(session)
    assert [(fk.table, fk.on_delete) for fk in plan.blocking_keys()] == [
        ("later_pins", "no action")
    ]
    erasure = await erase_rows(session, user.id)
    assert erasure.rows["later_pins"] == 1
    assert await session.scalar(text("SELECT count(*) FROM later_pins")) == 0
    session.expunge_all()
    assert await session.get(User, user.id) is None
    assert await session.get(Character, character.id) is None
