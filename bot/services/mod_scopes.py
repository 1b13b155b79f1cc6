"""The two scopes of moderation: a guild's moderators act in their guild only (``guild``);
platform moderators may also act on the whole platform (``platform``). :func:`check_scope` is
the one rule for who may act where, and with which status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from bot.errors import DomainError, InvalidInputError

MODERATOR_STATUSES: Final = ("active", "suspended", "banned")
"""Account statuses a platform moderator sets (``users.account_status``: everywhere)."""
GUILD_STATUSES: Final = ("active", "blocked")
"""What a guild's moderators set for a member: their use of the bot in that guild."""
PLATFORM_ONLY_STATUSES: Final = ("suspended", "banned")
SCOPES: Final = ("guild", "platform")


class PlatformScopeError(DomainError):
    """A member who is not a platform moderator asked for the platform scope (``scope:platform``,
    or a status that only holds platform-wide)."""

    key = "mod.platform_scope"

    def __init__(self) -> None:
        super().__init__()


def check_scope(scope: str, *, platform_moderator: bool, status: str | None = None) -> None:
    """Whether a moderator may act in ``scope`` (with ``status`` for /mod user).

    The platform scope (and the statuses that only hold there, suspended and banned) belongs
    to platform moderators; ``blocked`` holds in one guild only.

    Raises: PlatformScopeError (not a platform moderator), InvalidInputError (unknown scope or
    status; suspended/banned without ``scope:platform``; blocked with it).
    """
    if scope not in SCOPES:
        raise bad_choice(scope, "scope", SCOPES)
    if status is not None and status not in (*GUILD_STATUSES, *PLATFORM_ONLY_STATUSES):
        raise bad_choice(status, "status", (*GUILD_STATUSES, *PLATFORM_ONLY_STATUSES))
    if (scope == "platform" or status in PLATFORM_ONLY_STATUSES) and not platform_moderator:
        raise PlatformScopeError()
    if status in PLATFORM_ONLY_STATUSES and scope != "platform":
        raise InvalidInputError(
            "Suspended and banned hold on the whole platform: add scope:platform.",
            reason_key="mod.status_needs_platform",
        )
    if status == "blocked" and scope == "platform":
        raise InvalidInputError(
            "Blocked holds in one server; on the whole platform choose suspended or banned.",
            reason_key="mod.blocked_is_guild",
        )


def bad_choice(value: str, what: str, choices: Iterable[str]) -> InvalidInputError:
    """The refusal of a value that is not one of ``choices``."""
    listed = ", ".join(choices)
    return InvalidInputError(
        f"{value!r} is not a valid {what}; choose one of {listed}.",
        "invalid.choice",
        value=value,
        what=what,
        choices=listed,
    )
