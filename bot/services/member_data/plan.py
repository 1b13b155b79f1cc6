"""Which rows of the database are a member's: read from the live schema's foreign keys, so a
table that a later migration adds is covered without anyone remembering to list it.

A row is the member's when

- it is their ``users`` row;
- a column of it that references ``users(id)`` holds their id (a table with such a column is
  *direct*: only those columns decide, e.g. a moderation record is theirs when they are its
  moderator or its target, not because it names their character);
- else it references, through one foreign key, a row that is theirs (an *owned* table: themes
  of their characters, variants, items of their collections, showcase posts of their
  characters, …). A table that could be reached through two such keys needs a decision in
  :data:`DECIDED_PARENTS` (an item of *another* member's collection that holds one of their
  characters is that member's row, not theirs); until it has one, every such key counts and
  :attr:`MemberPlan.undecided` names the table (a test fails on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

USERS = "users"

DECIDED_PARENTS: dict[str, str] = {
    # a variant belongs to the character's owner (its theme belongs to the same character)
    "theme_variants": "character_id",
    # an item belongs to the collection's owner, whoever owns the character it lists
    "character_collection_items": "collection_id",
    # a scene's cast belongs to the scene's owner (it may cast others' public characters)
    "scene_characters": "scene_id",
    # a scene's image belongs to the scene (its generation is the same member's)
    "scene_generations": "scene_id",
}
"""For tables reached through more than one owned parent: the column whose parent decides."""

ON_DELETE = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}

_FOREIGN_KEYS = text(
    """
    SELECT src.relname AS tbl, a.attname AS col, dst.relname AS ref, fa.attname AS refcol,
           c.confdeltype::text AS deltype
    FROM pg_constraint c
    JOIN pg_class src ON src.oid = c.conrelid
    JOIN pg_class dst ON dst.oid = c.confrelid
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
    WHERE c.contype = 'f'
      AND cardinality(c.conkey) = 1
      AND c.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
    ORDER BY src.relname, a.attname
    """
)


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """One single-column foreign key of the schema."""

    table: str
    column: str
    ref_table: str
    ref_column: str
    on_delete: str


@dataclass(frozen=True, slots=True)
class TableRule:
    """How to find a member's rows of one table."""

    table: str
    user_columns: tuple[str, ...] = ()
    """Direct: columns referencing users(id); the row is theirs when any holds their id."""
    parents: tuple[ForeignKey, ...] = ()
    """Owned: the foreign keys to their rows of other tables that decide (any of them)."""

    @property
    def is_direct(self) -> bool:
        """Whether the row names the member itself (rather than one of their rows)."""
        return self.table == USERS or bool(self.user_columns)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class MemberPlan:
    """Every table holding rows of a member, in an order where a parent comes before its
    children, with every foreign key of the schema (to redact other members' ids)."""

    rules: tuple[TableRule, ...]
    foreign_keys: tuple[ForeignKey, ...]
    undecided: tuple[str, ...] = ()
    _by_table: dict[str, TableRule] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_table.update({rule.table: rule for rule in self.rules})

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables in plan order (``users`` first)."""
        return tuple(rule.table for rule in self.rules)

    def rule(self, table: str) -> TableRule:
        """The rule of one table. Raises: KeyError."""
        return self._by_table[table]

    def user_columns_of(self, table: str) -> tuple[str, ...]:
        """Every column of ``table`` that references users(id)."""
        return tuple(
            fk.column for fk in self.foreign_keys if fk.table == table and fk.ref_table == USERS
        )

    def condition(self, table: str) -> str:
        """SQL selecting the member's rows of ``table`` (``:uid`` is their user id)."""
        rule = self._by_table[table]
        if table == USERS:
            return '"id" = :uid'
        if rule.user_columns:
            return "(" + " OR ".join(f"{_quote(c)} = :uid" for c in rule.user_columns) + ")"
        parts = [
            f"{_quote(fk.column)} IN (SELECT {_quote(fk.ref_column)} FROM "
            f"{_quote(fk.ref_table)} WHERE {self.condition(fk.ref_table)})"
            for fk in rule.parents
        ]
        return "(" + " OR ".join(parts) + ")"

    def select_rows(self, table: str) -> str:
        """SQL of the member's rows of ``table``, each as JSON text."""
        return (
            f"SELECT row_to_json(t)::text FROM {_quote(table)} AS t WHERE {self.condition(table)}"
        )

    def count_rows(self, table: str) -> str:
        """SQL counting the member's rows of ``table``."""
        return f"SELECT count(*) FROM {_quote(table)} WHERE {self.condition(table)}"

    def delete_rows(self, table: str) -> str:
        """SQL deleting the member's rows of ``table``."""
        return f"DELETE FROM {_quote(table)} WHERE {self.condition(table)}"

    def delete_referencing(self, fk: ForeignKey) -> str:
        """SQL deleting the rows of ``fk.table`` whose ``fk.column`` points at the member's
        rows of ``fk.ref_table``."""
        return (
            f"DELETE FROM {_quote(fk.table)} WHERE {_quote(fk.column)} IN "
            f"(SELECT {_quote(fk.ref_column)} FROM {_quote(fk.ref_table)} "
            f"WHERE {self.condition(fk.ref_table)})"
        )

    def blocking_keys(self) -> tuple[ForeignKey, ...]:
        """Keys into the member's rows that neither cascade nor set null: deleting the users
        row would fail on them, so their rows are deleted first (children first)."""
        owned = set(self.tables)
        return tuple(
            fk
            for fk in self.foreign_keys
            if fk.ref_table in owned and fk.on_delete not in ("cascade", "set null")
        )


def build_plan(foreign_keys: list[ForeignKey]) -> MemberPlan:
    """The plan for a schema with these foreign keys."""
    rules: list[TableRule] = [TableRule(USERS)]
    direct: dict[str, list[str]] = {}
    for fk in foreign_keys:
        if fk.ref_table == USERS and fk.ref_column == "id" and fk.table != USERS:
            direct.setdefault(fk.table, []).append(fk.column)
    rules += [TableRule(table, user_columns=tuple(cols)) for table, cols in sorted(direct.items())]
    owned = {rule.table for rule in rules}
    undecided: list[str] = []
    while True:
        reach: dict[str, list[ForeignKey]] = {}
        for fk in foreign_keys:
            if fk.table not in owned and fk.ref_table in owned and fk.ref_table != USERS:
                reach.setdefault(fk.table, []).append(fk)
        if not reach:
            break
        for table, keys in sorted(reach.items()):
            decided = DECIDED_PARENTS.get(table)
            chosen = [fk for fk in keys if fk.column == decided]
            if not chosen:
                chosen = keys
                if len(keys) > 1 or decided is not None:
                    undecided.append(table)
            rules.append(TableRule(table, parents=tuple(chosen)))
            owned.add(table)
    for rule in rules:  # a key into a table owned only in a later round is a choice too
        if rule.is_direct or rule.table in undecided or rule.table in DECIDED_PARENTS:
            continue
        into_owned = [
            fk
            for fk in foreign_keys
            if fk.table == rule.table and fk.ref_table in owned and fk.ref_table != USERS
        ]
        if len(into_owned) > 1:
            undecided.append(rule.table)
    return MemberPlan(tuple(rules), tuple(foreign_keys), tuple(undecided))


async def foreign_keys(session: AsyncSession) -> list[ForeignKey]:
    """Every single-column foreign key of the current schema."""
    rows = (await session.execute(_FOREIGN_KEYS)).all()
    return [
        ForeignKey(
            table=row.tbl,
            column=row.col,
            ref_table=row.ref,
            ref_column=row.refcol,
            on_delete=ON_DELETE.get(str(row.deltype), "no action"),
        )
        for row in rows
    ]


async def member_plan(session: AsyncSession) -> MemberPlan:
    """The plan for the schema the session sees."""
    return build_plan(await foreign_keys(session))
