"""What a generation's durable job needs beyond the queue's own row (added by migration 0009):
the request it was accepted with, where its result goes, how often a worker took it up, and
whether its result has been posted (so it is posted once, whoever finishes it).

The queue itself is pgqueuer's table ``pgqueuer``; a job there carries the generation's id as its
payload. A generation's job row goes with the generation (ON DELETE CASCADE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models import NOW


class GenerationJob(Base):
    """One accepted generation, as a worker takes it up (or takes it up again)."""

    __tablename__ = "generation_jobs"

    generation_id: Mapped[str] = mapped_column(
        Text, ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    reference: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The member's reference picture, when the request has one (dropped once it is stored)."""
    reply: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    """Where the result goes: the interaction's application id, token and its expiry, the
    channel (or thread), the guild, the member's language."""
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    worker: Mapped[str | None] = mapped_column(Text)
    """The worker that took it up last."""
    delivered_by: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )
