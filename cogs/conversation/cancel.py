"""The Cancel button under every progress message (create, regenerate, variant, conversation):
only the generation's member may press it; a waiting generation leaves the queue and a running
one is abandoned, failed and refunded; one already finished says so."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.i18n import Catalog
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import respond
from bot.interactions.routing import FeatureButton


class CancelButton(FeatureButton, template=r"gen:(?P<id>[0-9a-f-]{36}):cancel"):
    """``gen:<generation id>:cancel``."""

    def __init__(self, generation_id: str, *, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or None,
                emoji="✖️",
                style=discord.ButtonStyle.danger,
                custom_id=f"gen:{generation_id}:cancel",
            )
        )
        self.generation_id = generation_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CancelButton:
        return cls(match["id"])

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Cancel the presser's generation (anyone else is refused, nothing changes) and say
        what became of it."""
        await acknowledge(interaction, directly=True)
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        answer = await deps.pipeline.cancel(self.generation_id, member.user.id)
        await respond(interaction, deps.catalog.t(member.lang, f"cancel.{answer}"))


def cancel_view(catalog: Catalog, lang: str, generation_id: str) -> discord.ui.View:
    """The Cancel button alone, for a progress message."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(generation_id, label=catalog.t(lang, "button.cancel")))
    return view
