"""Generations as durable jobs: pgqueuer's queue (its own tables, types, function and trigger,
as pgqueuer 1.6 installs them) and generation_jobs (the request a generation was accepted with,
where its result goes, its attempts, whether its result was posted).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
from sqlalchemy.dialects import postgresql
from sqlalchemy.util import await_only

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _script(sql: str) -> None:
    """Several statements (one a function body) in one go: asyncpg's simple query protocol,
    inside the migration's transaction."""
    raw = op.get_bind().connection.driver_connection
    await_only(raw.execute(sql))


def upgrade() -> None:
    """Upgrade schema."""
    _script(QueryBuilderEnvironment().build_install_query(create_schema=False))
    op.create_table(
        "generation_jobs",
        sa.Column("generation_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reference", sa.LargeBinary(), nullable=True),
        sa.Column(
            "reply",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("queue_job_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("delivered_by", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generations.id"],
            name=op.f("generation_jobs_generation_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("generation_id", name=op.f("generation_jobs_pkey")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("generation_jobs")
    _script(QueryBuilderEnvironment().build_uninstall_query())
