"""A member's own data (PluralKit's standard): everything the bot holds about them, to take
away (:func:`export_member`) or to erase (:func:`erase_member`, then :func:`purge_storage`).

Which rows are theirs is read from the schema's foreign keys (:mod:`.plan`), so tables added by
later migrations are exported and erased without being listed here.
"""

from __future__ import annotations

from bot.services.member_data.archive import (
    EXPORT_LINK_SECONDS,
    ExportFile,
    ExportPackage,
    ExportTooLargeError,
    package_export,
)
from bot.services.member_data.collect import MemberRows, collect_member_rows
from bot.services.member_data.erase import (
    Erasure,
    ErasureBusyError,
    erase_member,
    pending_storage_deletions,
    purge_storage,
    sweep_leftovers,
)
from bot.services.member_data.plan import MemberPlan, member_plan
from bot.storage.base import Storage
from db.engine import Database

__all__ = [
    "EXPORT_LINK_SECONDS",
    "Erasure",
    "ErasureBusyError",
    "ExportFile",
    "ExportPackage",
    "ExportTooLargeError",
    "MemberPlan",
    "MemberRows",
    "collect_member_rows",
    "erase_member",
    "export_member",
    "member_plan",
    "package_export",
    "pending_storage_deletions",
    "purge_storage",
    "sweep_leftovers",
]


async def export_member(
    db: Database, storage: Storage, user_id: str, discord_id: int, limit: int
) -> ExportPackage:
    """The member's rows and images, packed to fit the upload ``limit`` (see
    :func:`package_export`).

    Raises: ExportTooLargeError, StorageError.
    """
    rows = await collect_member_rows(db, user_id, discord_id)
    return await package_export(storage, rows, limit)
