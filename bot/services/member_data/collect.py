"""Reading every row of a member (``/account export``): one consistent snapshot, as JSON-ready
values, with other members' identities withheld.

What a row may name of someone else: a row of the member that references another member (a
moderation record of which they are the target names its moderator; an item of their
collection lists another member's public character) keeps the *reference* to the other row's
id, and only that: a column referencing ``users(id)`` that holds another member's id, and a
``*discord_id`` column or a JSON key such as ``suggestedBy`` (who suggested a variant) that
holds another Discord id, are written as null. Nothing is read from the other member's own
rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.member_data.plan import MemberPlan, member_plan
from db.engine import Database
from db.meta import STORAGE_KEY_FIELDS

_IDENTITY_KEY = re.compile(r"(?i:discord_?id)$|By$")
EXPORT_FORMAT = "charbot.member-export"
EXPORT_VERSION = 1
WITHHELD_NOTE = (
    "Columns naming another member (their user id or Discord id) are null: another member's "
    "data is not yours to export. References to other rows (a public character in your "
    "collection, say) keep that row's id only."
)


@dataclass(frozen=True)
class MemberRows:
    """A member's rows by table (plan order), and the stored objects their rows name."""

    user_id: str
    discord_id: int
    tables: dict[str, list[dict[str, Any]]]
    image_keys: tuple[str, ...]
    folders: tuple[str, ...]
    """Storage folders of theirs (``characters/<id>/``, ``scenes/<id>/``)."""

    @property
    def row_count(self) -> int:
        """How many rows in all."""
        return sum(len(rows) for rows in self.tables.values())

    def document(self, now: datetime | None = None) -> dict[str, Any]:
        """The export's JSON document (without the images' part)."""
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": (now or datetime.now(UTC)).isoformat(),
            "member": {"discord_id": str(self.discord_id), "user_id": self.user_id},
            "note": WITHHELD_NOTE,
            "tables": self.tables,
        }


def _sort_key(row: dict[str, Any]) -> tuple[str, str]:
    stamp = row.get("created_at") or row.get("added_at") or ""
    return str(stamp), json.dumps(row.get("id", row), sort_keys=True, default=str)


def _names_someone(key: str) -> bool:
    """Whether a column or JSON key holds a member's Discord id (``moderator_discord_id``, a
    variant's ``suggestedBy``)."""
    return _IDENTITY_KEY.search(key) is not None


def _withhold(value: Any, discord_id: int) -> Any:
    """``value`` (JSON) with every Discord id of someone else under an identity key nulled."""
    if isinstance(value, dict):
        return {
            k: (
                None
                if _names_someone(k) and v is not None and str(v) != str(discord_id)
                else _withhold(v, discord_id)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_withhold(v, discord_id) for v in value]
    return value


def _redact(
    plan: MemberPlan, table: str, row: dict[str, Any], user_id: str, discord_id: int
) -> dict[str, Any]:
    for column in plan.user_columns_of(table):
        if row.get(column) not in (None, user_id):
            row[column] = None
    return dict(_withhold(row, discord_id))


FOLDERS: dict[str, str] = {"characters": "characters/{id}/", "scenes": "scenes/{id}/"}
"""Tables whose rows own a storage folder (every object under it is theirs)."""


def folders_of(tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The storage folders of the member's rows (their characters' and scenes')."""
    return [
        pattern.format(id=row["id"])
        for table, pattern in FOLDERS.items()
        for row in tables.get(table, [])
        if isinstance(row.get("id"), str) and row["id"]
    ]


def stored_keys(tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every storage key the rows' ``metadata`` names (image, thumbnail, reference)."""
    keys: list[str] = []
    for rows in tables.values():
        for row in rows:
            meta = row.get("metadata")
            if isinstance(meta, dict):
                keys += [
                    meta[name]
                    for name in STORAGE_KEY_FIELDS
                    if isinstance(meta.get(name), str) and meta[name]
                ]
    return list(dict.fromkeys(keys))


async def read_member_rows(
    session: AsyncSession, plan: MemberPlan, user_id: str, discord_id: int
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the member, table by table (redacted, sorted by creation)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in plan.tables:
        found = (await session.execute(text(plan.select_rows(table)), {"uid": user_id})).scalars()
        rows = [_redact(plan, table, json.loads(raw), user_id, discord_id) for raw in found]
        tables[table] = sorted(rows, key=_sort_key)
    return tables


async def collect_member_rows(db: Database, user_id: str, discord_id: int) -> MemberRows:
    """Every row the bot holds about the member, read in one repeatable-read snapshot (a
    read-only transaction: the autocommit reads would see each table at another moment)."""
    async with db.transaction() as session:
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        plan = await member_plan(session)
        tables = await read_member_rows(session, plan, user_id, discord_id)
    return MemberRows(
        user_id=user_id,
        discord_id=discord_id,
        tables=tables,
        image_keys=tuple(stored_keys(tables)),
        folders=tuple(folders_of(tables)),
    )
