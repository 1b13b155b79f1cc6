"""Fuzz: hypothesis-generated values for every option of every command, every modal field and
every custom_id shape (forged ones pointing at another member's rows included), sent through
the fake Discord to the real bot. Every interaction must be acknowledged within 3 s with a
message from the catalog; no reply may hold a traceback or the generic "unexpected error"; no
row the caller does not own may change (every table, compared before and after each round).

The surface is read from the running bot (its command tree as registered, its DynamicItems,
its modal classes), so what is added later is fuzzed too; the run fails when something has no
strategy or was never reached. Values are drawn by hypothesis (derandomized: CI runs the same
interactions every time) in examples of a few interactions each; a round of examples is sent
by one member, a few at a time, and checked as a whole.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.fuzzing.checks import Tally, Templates, check
from tests.fuzzing.plans import crawl_plans, missing_strategies, plan_strategy, resolve
from tests.fuzzing.rows import Snapshot, unowned_changes
from tests.fuzzing.scene import scene_for, static_of
from tests.fuzzing.surface import CHAT_INPUT, tree_commands
from tests.fuzzing.world import Plan, World

# 10,000 interactions at least: examples of PER_EXAMPLE plans, rounds of ROUND plans.
INTERACTIONS = int(os.environ.get("FUZZ_INTERACTIONS", "10000"))
# CI draws the same interactions every run; FUZZ_SEED=n explores other ones
SEED = os.environ.get("FUZZ_SEED")
PER_EXAMPLE = 8
ROUND = 96

log = logging.getLogger(__name__)


class ErrorLog(logging.Handler):
    """Errors the bot (or discord.py on its behalf) logged during the run."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("bot", "cogs", "db", "discord")):
            exc = record.exc_info[1] if record.exc_info else None
            self.records.append(f"{record.name}: {record.getMessage()[:300]} {exc!r}")


@dataclass
class Run:
    """The fuzz run's state between hypothesis examples."""

    world: World
    templates: Templates
    tally: Tally = field(default_factory=Tally)
    pending: list[Plan] = field(default_factory=list)
    rows: Snapshot = field(default_factory=dict)
    round: int = 0
    scene: Any = None
    timings: dict[str, float] = field(default_factory=dict)

    def timed(self, what: str, started: float) -> None:
        self.timings[what] = self.timings.get(what, 0.0) + time.monotonic() - started

    @property
    def actor(self) -> str:
        names = sorted(self.world.actors)
        return names[self.round % len(names)]

    def next_scene(self) -> None:
        self.scene = scene_for(self.world, self.actor, self.rows)

    def flush(self) -> None:
        """Send the pending round, check every answer and every changed row."""
        if not self.pending:
            return
        world = self.world
        drawn, self.pending = self.pending, []
        plans = []
        for plan in drawn:
            made = resolve(dataclasses.replace(plan, actor=self.actor), self.scene, world.surface)
            if made is None:
                self.tally.skipped += 1
            else:
                plans.append(made)
        started = time.monotonic()
        plans += crawl_plans(self.scene, world.surface)
        outcomes = world.call(world.run_batch(plans))
        self.timed("send", started)
        started = time.monotonic()
        after = world.call(world.snapshot())
        self.timed("snapshot", started)
        started = time.monotonic()
        actor = world.actors[self.actor]
        moderated = {int(world.guilds["B"].id)}
        for change in unowned_changes(self.rows, after, actor.user_id, moderated):
            self.tally.unowned_changes.append(
                f"round {self.round} by {actor.name}: {change.describe()}"
            )
        for outcome in outcomes:
            check(outcome, self.templates, self.tally)
        self.tally.violations += world.fake.take_violations()
        self.rows = after
        self.round += 1
        self.timed("check", started)
        started = time.monotonic()
        self.next_scene()
        self.timed("scene", started)


def figures(tally: Tally, seconds: float, world: World, timings: dict[str, float]) -> str:
    lines = [
        f"fuzz: {tally.sent} interactions in {seconds:.1f} s "
        f"({tally.sent / max(seconds, 1e-9):.1f}/s), {tally.skipped} skipped, "
        f"slowest acknowledgement {tally.max_ack:.2f} s",
        f"  by kind: {dict(sorted(tally.kinds.items()))}",
        f"  answered by callback type: {dict(sorted(tally.answered_by.items()))}",
    ]
    if os.environ.get("FUZZ_VERBOSE"):
        lines += [f"  {n}: {c}" for n, c in sorted(tally.names.items())]
        lines.append(f"  modals submitted: {sorted(world.modal_classes_submitted)}")
        lines.append(f"  time spent: { {k: round(v, 1) for k, v in timings.items()} }")
    for name, items in tally.failures().items():
        lines.append(f"  {name}: {len(items)}")
        lines += [f"    {item}" for item in items[:8]]
    return "\n".join(lines)


def test_fuzz_every_interaction(database_url, data_dir, capsys):
    """10,000 generated interactions: all answered in time, localised, no traceback, no
    unexpected error, no other member's row changed; every command, option, DynamicItem and
    modal reached."""
    world = World(database_url, data_dir)
    run: Run | None = None
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    # discord.py's DEBUG lines (every event and request) would cost more than the bot itself
    chatty = logging.getLogger("discord")
    level = chatty.level
    chatty.setLevel(logging.INFO)
    started = time.monotonic()
    try:
        with world.running():
            surface = world.surface
            assert missing_strategies(surface) == []
            registered = {(c.name, c.kind) for c in surface.commands}
            assert tree_commands(world.bot.tree) <= registered
            run = Run(world, Templates(world.bot.deps.catalog))
            run.rows = world.call(world.snapshot())
            run.next_scene()
            plans = plan_strategy(surface, static_of(world), "")

            @settings(
                max_examples=-(-INTERACTIONS * 5 // (4 * PER_EXAMPLE)),
                derandomize=SEED is None,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )
            @given(data=st.data())
            @seed(int(SEED or 0))
            def example(data: st.DataObject) -> None:
                started = time.monotonic()
                for _ in range(PER_EXAMPLE):
                    run.pending.append(data.draw(plans))
                run.timed("draw", started)
                if len(run.pending) >= ROUND:
                    run.flush()

            example()
            run.flush()
    finally:
        logging.getLogger().removeHandler(errors)
        chatty.setLevel(level)
    seconds = time.monotonic() - started
    assert run is not None
    tally = run.tally
    tally.logged_errors = errors.records
    with capsys.disabled():
        print("\n" + figures(tally, seconds, world, run.timings))

    assert tally.failures() == {}
    assert tally.sent >= INTERACTIONS
    reached = set(tally.names)
    never = [
        f"command {c.name}"
        for c in surface.commands
        if f"command {c.name}" not in reached and c.kind == CHAT_INPUT
    ]
    never += [
        f"option {c.name} {o.name}"
        for c in surface.commands
        for o in c.options
        if f"option {c.name} {o.name}" not in reached
    ]
    never += [
        f"menu {c.name}"
        for c in surface.commands
        if c.kind != CHAT_INPUT and f"menu {c.name}" not in reached
    ]
    never += [f"component {i.name}" for i in surface.items if f"component {i.name}" not in reached]
    # a modal counts once a member was shown it: whether a drawn submission still finds it
    # open depends on the order the round's other interactions settle in
    opened = world.modal_classes_submitted | world.modal_classes_opened
    never += [f"modal {m.__name__}" for m in surface.modals if m.__name__ not in opened]
    assert never == []
