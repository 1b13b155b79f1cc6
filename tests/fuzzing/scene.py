"""What a round's refs resolve to: the acting member's rows and everyone else's, the members,
roles, channels and messages of the fake, the custom_ids and select options the bot has put on
its messages, the modals open now."""

from __future__ import annotations

import re
from typing import Any

from tests.fuzzing.plans import Scene
from tests.fuzzing.rows import Owners, Snapshot
from tests.fuzzing.values import Static
from tests.fuzzing.world import World

POOL_MAX = 300
CRAWL_MAX = 12  # new component shapes pressed per round
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+")


def shape(custom_id: str) -> str:
    """A custom_id with its ids taken out: buttons of one kind share a shape."""
    return _IDS.sub("#", custom_id)[:40]


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for comp in components:
        out.append(comp)
        for key in ("components", "accessory", "component"):
            child = comp.get(key)
            out += _walk(child if isinstance(child, list) else [child] if child else [])
    return out


def _crawl(
    world: World, answered: list[str], select_options: dict[str, list[str]]
) -> list[tuple[str, list[str]]]:
    """Buttons and selects of a shape never pressed yet, from the bot's answers to the actor:
    each is pressed once (so a modal behind a button is reached whatever hypothesis draws)."""
    found: list[tuple[str, list[str]]] = []
    for custom_id in answered:
        key = shape(custom_id)
        if key in world.crawled or len(found) >= CRAWL_MAX:
            continue
        world.crawled.add(key)
        found.append((custom_id, select_options.get(custom_id, [])))
    return found


def static_of(world: World) -> Static:
    """Ids fixed for the run (text may mention them)."""
    return Static(
        member_ids=tuple(sorted({m for g in world.guilds.values() for m in g.members})),
        role_ids=tuple(r for g in world.guilds.values() for r in g.roles),
        channel_ids=tuple(c for g in world.guilds.values() for c in g.channel_ids),
    )


def scene_for(world: World, actor_name: str, rows: Snapshot) -> Scene:
    actor = world.actors[actor_name]
    owners = Owners(rows)
    own: dict[str, list[str]] = {}
    other: dict[str, list[str]] = {}
    for table, by_key in rows.items():
        for row in by_key.values():
            row_id = row.get("id")
            if not isinstance(row_id, str):
                continue
            mine = actor.user_id in owners.of(table, row)
            (own if mine else other).setdefault(table, []).append(row_id)
    fake = world.fake
    custom_ids: list[str] = []
    select_options: dict[str, list[str]] = {}
    bot_id = fake.bot_user["id"]
    bot_messages = [m for m in fake.messages.values() if m["author"]["id"] == bot_id]
    for message in bot_messages[-POOL_MAX:]:
        for comp in _walk(message.get("components") or []):
            cid = comp.get("custom_id")
            if not cid:
                continue
            custom_ids.append(cid)
            if comp.get("options"):
                select_options[cid] = [o["value"] for o in comp["options"]]
    answered: list[str] = []  # on the messages that answered the actor: what they would press
    for ix in list(fake.interactions.values())[-POOL_MAX * 4 :]:
        user = (ix.payload.get("member") or {}).get("user") or ix.payload.get("user") or {}
        if user.get("id") != actor.discord_id:
            continue
        for message in ix.messages():
            answered += [
                c["custom_id"] for c in _walk(message.get("components") or []) if c.get("custom_id")
            ]
    members = {key: list(world.guilds[key].members.values()) for key in ("A", "B")}
    in_guilds = {m.id for ms in members.values() for m in ms}
    user_ids = [uid for uid in fake.users if uid not in in_guilds] + [bot_id]
    return Scene(
        actor=actor_name,
        own_ids={t: ids[-POOL_MAX:] for t, ids in own.items()},
        other_ids={t: ids[-POOL_MAX:] for t, ids in other.items()},
        members=members,
        user_ids=user_ids,
        roles={key: list(world.guilds[key].roles) for key in ("A", "B")},
        channels=[cid for g in world.guilds.values() for cid in g.channel_ids],
        messages=list(fake.messages)[-POOL_MAX:],
        custom_ids=sorted(set(custom_ids)),
        answered_custom_ids=sorted(set(answered)),
        crawl=_crawl(world, answered, select_options),
        select_options=select_options,
        open_modals=dict(world.open_modals),
        modal_classes={
            cid: type(modal).__name__
            for cid, modal in world.bot._connection._view_store._modals.items()
            if cid in world.open_modals
        },
    )
