"""One way through a component: every persistent button and select, and every modal, reaches
its feature the same way — its ``handle`` runs inside :func:`replies.reporting`, so the outcome
is logged and counted once and any error becomes the member's localised reply.

A feature defines its components as subclasses (with their own ``template``) in its package;
paged lists subclass :class:`PagerButton`, which acknowledges, renders the page and updates the
message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, Self

import discord
from discord.ext import commands

from bot.i18n import Catalog
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import Caller, caller, checked
from bot.interactions.deps import Deps, deps_of
from bot.interactions.replies import NO_MENTIONS, reporting, update
from bot.ui.text import button_label

_NEVER = r"(?!)"  # the bases match no custom_id: only their subclasses are registered


class FeatureCog(commands.Cog):
    """A feature's cog: its commands, and the dependencies it is handed by the composition root
    (read from the client it is added to, so the command tree can also be built without them)."""

    def __init__(self, client: commands.Bot) -> None:
        self.client = client

    @property
    def deps(self) -> Deps:
        """Everything the feature uses (settings, database, storage, catalog, …)."""
        return deps_of(self.client)


class FeatureButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_NEVER):
    """A persistent button: its custom_id carries the ids, so it works after a restart and on
    any process; a press runs :meth:`handle` (unless the member is blocked in the guild)."""

    open_to_blocked: ClassVar[bool] = False
    """True for a button a member blocked in the guild may still press (their own account)."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await checked(interaction, open_to_blocked=self.open_to_blocked)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self.handle(interaction))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """What a press does (acknowledging it is the handler's first step)."""
        raise NotImplementedError


class ConfirmButton(FeatureButton, template=_NEVER):
    """Yes or no under a "really delete?" prompt, as ``<prefix>:<id>:yes|no``: no leaves
    everything as it was; yes runs :meth:`confirmed`. Subclasses set ``prefix`` and a
    template ``<prefix>:(?P<id>…):(?P<answer>yes|no)``."""

    prefix: ClassVar[str]

    def __init__(self, target_id: str, confirm: bool, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or ("Delete" if confirm else "Cancel"),
                style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
                custom_id=f"{self.prefix}:{target_id}:{'yes' if confirm else 'no'}",
            )
        )
        self.target_id = target_id
        self.confirm = confirm

    @classmethod
    def make(cls, catalog: Catalog, lang: str, target_id: str, *, confirm: bool) -> Self:
        """The Delete (confirm) or Cancel button, labelled in the member's language."""
        return cls(
            target_id, confirm, catalog.t(lang, "button.delete" if confirm else "button.cancel")
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(match["id"], match["answer"] == "yes", button_label(item))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        await acknowledge(interaction, directly=True)  # before any database work
        member = await caller(interaction)
        if not self.confirm:
            text = deps_of(interaction.client).catalog.t(member.lang, "delete.cancelled")
            await update(interaction, content=text, view=None)
            return
        await self.confirmed(interaction, member)

    async def confirmed(self, interaction: discord.Interaction[Any], member: Caller) -> None:
        """Delete the target, and say so by updating the prompt."""
        raise NotImplementedError


class FeatureSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=_NEVER):
    """A persistent select; a choice runs :meth:`handle` (unless the member is blocked)."""

    open_to_blocked: ClassVar[bool] = False

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await checked(interaction, open_to_blocked=self.open_to_blocked)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self.handle(interaction))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """What a choice does."""
        raise NotImplementedError


class FeatureModal(discord.ui.Modal):
    """A modal whose submission is handled like a command: its outcome is recorded and any
    error becomes the member's localised reply; a member blocked in the guild is refused."""

    open_to_blocked: ClassVar[bool] = False
    """True for a modal of what a blocked member may still use (``/account``'s)."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await checked(interaction, open_to_blocked=self.open_to_blocked)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self.handle(interaction))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Handle the submitted values."""
        raise NotImplementedError


def arrow(forward: bool) -> str:
    """The label of a pager button whose own label was lost."""
    return "→" if forward else "←"


def pager_label(item: discord.ui.Item[Any], forward: bool) -> str:
    """The label the pressed pager button carried (an arrow when it had none)."""
    return button_label(item) or arrow(forward)


class PagerButton(FeatureButton, template=_NEVER):
    """Previous/Next of a paged list; the cursor (and what the list shows) ride in the custom_id.

    ``custom_id`` None means it would not fit: the button is shown disabled under ``fallback``.
    """

    def __init__(
        self,
        custom_id: str | None,
        *,
        forward: bool,
        label: str,
        enabled: bool,
        fallback: str = "",
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or arrow(forward),
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id or fallback,
                disabled=not enabled or custom_id is None,
            )
        )
        self.forward = forward

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        await acknowledge(interaction, directly=True)  # before any database work
        await update(interaction, allowed_mentions=NO_MENTIONS, **await self.page(interaction))

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        """The message's new content (``update`` keyword arguments: embed(s), view, content)."""
        raise NotImplementedError


def pager_view(
    make: Callable[..., PagerButton],
    prev_cursor: str | None,
    next_cursor: str | None,
    previous_label: str,
    next_label: str,
) -> discord.ui.View:
    """Previous and Next: ``make(cursor, forward=…, label=…)`` builds each button."""
    view = discord.ui.View(timeout=None)
    view.add_item(make(prev_cursor, forward=False, label=previous_label))
    view.add_item(make(next_cursor, forward=True, label=next_label))
    return view
