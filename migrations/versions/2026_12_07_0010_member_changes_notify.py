"""Member changes are announced: every committed write to a member's row, their undelivered
notices or their guild blocks sends ``NOTIFY charbot_members, '<user id>'``.

Bot processes keep the member read on every interaction (the ``users`` row, whether a notice
waits, whether they are blocked in a guild) in memory, and drop a member's entry when this
notification arrives (``bot.services.member_cache``). The triggers fire inside the writing
transaction, whoever writes (any bot process, the web platform, an operator's SQL), and
PostgreSQL delivers the notification to every listener once it commits; so no write can be
missed while a process listens, and a process that stops listening stops using its copies.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 11:30:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "charbot_members"
# (table, the column holding the member's user id)
WATCHED = (("users", "id"), ("user_notices", "user_id"), ("guild_blocked_users", "user_id"))


def upgrade() -> None:
    """Upgrade schema."""
    for table, column in WATCHED:
        op.execute(
            f"""
            CREATE FUNCTION charbot_notify_{table}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    PERFORM pg_notify('{CHANNEL}', OLD.{column}::text);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    PERFORM pg_notify('{CHANNEL}', NEW.{column}::text);
                END IF;
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER charbot_notify_member AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION charbot_notify_{table}()"
        )
        # TRUNCATE has no rows: every member's entry goes (the payload '*')
        op.execute(
            f"""
            CREATE FUNCTION charbot_notify_{table}_truncate() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{CHANNEL}', '*');
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER charbot_notify_members_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION charbot_notify_{table}_truncate()"
        )


def downgrade() -> None:
    """Downgrade schema."""
    for table, _ in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS charbot_notify_members_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS charbot_notify_member ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS charbot_notify_{table}_truncate()")
        op.execute(f"DROP FUNCTION IF EXISTS charbot_notify_{table}()")
