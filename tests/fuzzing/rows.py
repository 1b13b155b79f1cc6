"""Every row of every table, before and after a batch, and who each changed row belongs to:
a row is a member's when a chain of foreign keys leads from it to their ``users`` row (found
from the models' metadata, so tables added later are covered)."""

from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

import db
from db.base import Base

# Shared machinery, not anyone's data.
NOT_MEMBER_DATA = {"bot_state", "provider_request_slots", "alembic_version"}

Key = tuple[Any, ...]
Snapshot = dict[str, dict[Key, dict[str, Any]]]


def tables() -> list[Table]:
    """Every table of the models (every module of ``db`` imported)."""
    for module in pkgutil.walk_packages(db.__path__, "db."):
        importlib.import_module(module.name)
    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_MEMBER_DATA]


def _key(table: Table, row: dict[str, Any]) -> Key:
    columns = list(table.primary_key.columns) or list(table.columns)
    return tuple(json.dumps(row.get(c.name), sort_keys=True) for c in columns)


async def snapshot(engine: AsyncEngine) -> Snapshot:
    """Every row of every member-data table, as JSON values keyed by primary key."""
    out: Snapshot = {}
    async with engine.connect() as conn:
        for table in tables():
            result = await conn.execute(text(f'SELECT to_jsonb(t) FROM "{table.name}" t'))
            rows = [r[0] for r in result]
            out[table.name] = {_key(table, row): row for row in rows}
    return out


@dataclass(frozen=True)
class Change:
    table: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def describe(self) -> str:
        verb = "added" if self.before is None else "deleted" if self.after is None else "changed"
        row = self.after if self.after is not None else self.before
        assert row is not None
        shown = dict(row)
        if self.before is not None and self.after is not None:
            shown = {
                k: f"{self.before.get(k)!r} -> {v!r}"
                for k, v in self.after.items()
                if self.before.get(k) != v
            }
            shown["id"] = row.get("id")
        text_ = json.dumps(shown, default=str, ensure_ascii=False)
        return f"{self.table} {verb}: {text_[:500]}"


def changes(before: Snapshot, after: Snapshot) -> list[Change]:
    found: list[Change] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, {}), after.get(name, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                found.append(Change(name, old.get(key), new.get(key)))
    return found


class Owners:
    """Whose rows these are: the user ids a row reaches through foreign keys."""

    def __init__(self, *snapshots: Snapshot) -> None:
        self._tables = {t.name: t for t in tables()}
        self._snapshots = snapshots
        self._index: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}

    def _find(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        index = self._index.get((table, column))
        if index is None:
            index = self._index[(table, column)] = {}
            for snap in self._snapshots:
                for row in snap.get(table, {}).values():
                    key = row.get(column)
                    if key is not None:
                        index.setdefault(json.dumps(key, sort_keys=True), []).append(row)
        return index.get(json.dumps(value, sort_keys=True), [])

    def of(self, table_name: str, row: dict[str, Any], _depth: int = 0) -> set[str]:
        if table_name == "users":
            return {str(row["id"])}
        table = self._tables.get(table_name)
        if table is None or _depth > 6:
            return set()
        owners: set[str] = set()
        for column in table.columns:
            value = row.get(column.name)
            if value is None:
                continue
            for fk in column.foreign_keys:
                target = fk.column
                if target.table.name == "users" and target.name == "id":
                    owners.add(str(value))
                    continue
                for parent in self._find(target.table.name, target.name, value):
                    owners |= self.of(target.table.name, parent, _depth + 1)
        return owners


def unowned_changes(
    before: Snapshot, after: Snapshot, actor_user_id: str, moderated_guilds: set[int]
) -> list[Change]:
    """The changes that are neither the actor's rows nor rows of a guild the actor moderates."""
    owners = Owners(before, after)
    bad: list[Change] = []
    for change in changes(before, after):
        rows = [r for r in (change.before, change.after) if r is not None]
        if any(actor_user_id in owners.of(change.table, r) for r in rows):
            continue
        guild_ids = {r.get("guild_id") for r in rows if r.get("guild_id") is not None}
        if guild_ids and all(int(g) in moderated_guilds for g in guild_ids):
            continue
        bad.append(change)
    return [c for c in bad if not _made_for_the_actors_row(c, changes(before, after), bad, owners)]


def _made_for_the_actors_row(
    change: Change, every: list[Change], bad: list[Change], owners: Owners
) -> bool:
    """A member's ``users`` row made by an action of the actor's that points at it (``/mod
    user`` on someone who never used the bot makes their row, as DESIGN.md says)."""
    if change.table != "users" or change.before is not None or change.after is None:
        return False
    new_id = change.after["id"]
    for other in every:
        if other in bad or other.after is None or other.table == "users":
            continue
        table = owners._tables.get(other.table)
        if table is None:
            continue
        for column in table.columns:
            if other.after.get(column.name) != new_id:
                continue
            if any(fk.column.table.name == "users" for fk in column.foreign_keys):
                return True
    return False
