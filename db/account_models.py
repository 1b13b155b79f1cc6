"""Tables that let a member erase their account for real: stored objects still to delete, and
the little a deleted account leaves behind so deleting cannot reset today's quota or lift a
suspension (added by migration 0007)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models import NOW


class StorageDeletion(Base):
    """A stored object (or every object under a key prefix) that must go because its rows are
    gone. Written in the transaction that deletes the rows; removed once storage confirms the
    deletion; retried by the periodic sweep until then."""

    __tablename__ = "storage_deletions"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    is_prefix: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )


class AccountCarryover(Base):
    """What survives a deleted account, keyed by a hash of the Discord identity (never the id
    itself): today's used quota (until that day is over), and a suspension or ban and the
    servers' blocks (for as long as they last), applied to the account the next use creates."""

    __tablename__ = "account_carryover"

    identity_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    daily_used: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_reset_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    timezone: Mapped[str | None] = mapped_column(Text)
    account_status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'active'")
    )
    guild_blocks: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )
