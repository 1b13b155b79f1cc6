"""The ids Discord gave the bot's slash commands, so replies can mention them: learned when
the commands are synced, or fetched once when this start did not sync."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

_NESTED = (
    discord.AppCommandOptionType.subcommand,
    discord.AppCommandOptionType.subcommand_group,
)


def _leaves(prefix: str, options: Iterable[Any]) -> Iterable[str]:
    """The qualified names of the subcommands under a command or group."""
    for option in options:
        if isinstance(option, app_commands.AppCommandGroup) and option.type in _NESTED:
            name = f"{prefix} {option.name}"
            if option.type is discord.AppCommandOptionType.subcommand:
                yield name
            else:
                yield from _leaves(name, option.options)


class CommandIds:
    """The ids Discord assigned to the bot's slash commands, by the name a member runs
    (``quota``, ``character create``); groups themselves cannot be run, so they have none."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = asyncio.Lock()

    @property
    def known(self) -> bool:
        """Whether the ids were learned."""
        return bool(self._ids)

    def learn(self, commands: Iterable[app_commands.AppCommand]) -> None:
        """Remember the ids of the commands Discord returned (a sync's or a fetch's answer)."""
        ids: dict[str, int] = {}
        for command in commands:
            if command.type is not discord.AppCommandType.chat_input:
                continue  # context menus cannot be mentioned
            leaves = list(_leaves(command.name, command.options))
            for name in leaves or [command.name]:
                ids[name] = command.id
        self._ids = ids

    def names(self) -> list[str]:
        """Every runnable command name with a known id."""
        return list(self._ids)

    def mention(self, name: str) -> str:
        """``</name:id>``, or ``/name`` while the id is unknown."""
        command_id = self._ids.get(name)
        return f"</{name}:{command_id}>" if command_id is not None else f"/{name}"

    async def ensure(self, tree: app_commands.CommandTree[Any], guild_id: int | None) -> None:
        """Fetch the ids once when none are known (the set was unchanged, so not synced);
        a failure is logged and mentions stay plain until the next try."""
        if self._ids:
            return
        async with self._lock:
            if self._ids:
                return
            guild = discord.Object(id=guild_id) if guild_id else None
            try:
                self.learn(await tree.fetch_commands(guild=guild))
            except discord.HTTPException as exc:
                log.warning("could not fetch the command ids for mentions: %s", exc)
