"""Strategies for whole interactions: a command with generated options, an autocomplete
keystroke, a button press or select pick with a custom_id made from the item's own template
(ids of the caller's rows, another member's rows, fresh or malformed ones), a modal submission
(by its opener or by someone else), a context menu on any user or message.

What hypothesis draws depends only on the surface (fixed for the run); anything that lives in
the world (rows, open modals, messages) is drawn as a :class:`Ref` and made concrete by
:func:`resolve` against the round's :class:`Scene`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tests.fuzzing.surface import (
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    CHAT_INPUT,
    INTEGER,
    MENTIONABLE,
    NUMBER,
    ROLE,
    STRING,
    SUPPORTED_OPTION_TYPES,
    USER,
    USER_COMMAND,
    CommandSpec,
    ItemSpec,
    OptionSpec,
    Surface,
)
from tests.fuzzing.values import (
    CUSTOM_ID_MAX,
    STRING_OPTION_MAX,
    TEXT_INPUT_MAX,
    TOKEN,
    Ref,
    Static,
    ids,
    integers,
    numbers,
    random_uuid,
    ref,
    texts,
    uploads,
)
from tests.fuzzing.world import Plan

LOCALES = [None, None, "en-US", "en-GB", "zh-CN", "zh-TW", "ja", "ko", "fr", "pt-BR"]
MODAL_FIELDS = 4  # values drawn for a modal, given to its text inputs in order


@dataclass
class Scene:
    """What refs resolve to, for one actor, fixed for one round."""

    actor: str
    own_ids: dict[str, list[str]]  # table → the actor's row ids
    other_ids: dict[str, list[str]]  # table → everyone else's
    members: dict[str, list[Any]]  # "A"/"B" → FakeMembers there
    user_ids: list[str]  # users in neither guild, the bot
    roles: dict[str, list[str]]
    channels: list[str]
    messages: list[str]  # stored message ids (context menu targets)
    custom_ids: list[str]  # seen on the bot's messages
    answered_custom_ids: list[str] = field(default_factory=list)  # on its answers to the actor
    crawl: list[tuple[str, list[str]]] = field(default_factory=list)  # (custom_id, options)
    select_options: dict[str, list[str]] = field(default_factory=dict)
    open_modals: dict[str, dict[str, Any]] = field(default_factory=dict)
    modal_classes: dict[str, str] = field(default_factory=dict)  # custom_id → class name


# -- drawing ---------------------------------------------------------------------------------


def pick(items: list[Any]) -> st.SearchStrategy[Any]:
    """One of ``items``, evenly: ``sampled_from`` would favour the first (hypothesis draws small
    indexes far more often), and the first command would be most of the run."""
    return _pick_from(tuple(items))


@cache
def _pick_from(items: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.integers(0, 1 << 20).map(lambda i: items[i % len(items)])


@cache
def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@cache
def _either(*strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategies)


@cache
def _select_values(static: Static) -> st.SearchStrategy[list[Any]]:
    return st.one_of(
        st.lists(ref("option"), min_size=1, max_size=1),
        st.lists(texts(static, min_size=1, max_size=100), max_size=2),
    )


@cache
def _generated_custom_id(item: ItemSpec) -> st.SearchStrategy[str]:
    return st.from_regex(item.pattern, fullmatch=True).filter(lambda s: len(s) <= CUSTOM_ID_MAX)


@cache
def option_value(opt: OptionSpec, static: Static, where: str) -> st.SearchStrategy[Any]:
    """A strategy for one option's value."""
    if opt.choices:
        return st.sampled_from(list(opt.choices))
    if opt.type == STRING:
        lo = opt.min_length if opt.min_length is not None else (1 if opt.required else 0)
        hi = opt.max_length if opt.max_length is not None else STRING_OPTION_MAX
        generated = texts(static, min_size=lo, max_size=hi)
        if opt.autocomplete:
            return st.one_of(ids(opt.name), ids(opt.name), generated)  # built once (cached)
        return generated
    if opt.type == INTEGER:
        return integers(
            None if opt.min_value is None else int(opt.min_value),
            None if opt.max_value is None else int(opt.max_value),
        )
    if opt.type == NUMBER:
        return numbers(opt.min_value, opt.max_value)
    if opt.type == BOOLEAN:
        return st.booleans()
    if opt.type == USER:
        members = [ref(f"member {where}")] if where != "dm" else []
        return st.one_of([*members, ref("user")])
    if opt.type == CHANNEL:
        return ref("channel")
    if opt.type == ROLE:
        return ref(f"role {where}")
    if opt.type == MENTIONABLE:
        return st.one_of(ref(f"member {where}"), ref(f"role {where}"))
    raise LookupError(f"no strategy for option type {opt.type} ({opt.name})")


def _usable(opt: OptionSpec, where: str) -> bool:
    """Whether the option can be given here (roles and members only exist in a guild)."""
    return not (where == "dm" and opt.type in (ROLE, MENTIONABLE))


@st.composite
def command_plan(
    draw: st.DrawFn, surface: Surface, static: Static, actor: str, *, autocomplete: bool = False
) -> Plan:
    # fewest options first: the index hypothesis draws most often lands on a cheap command
    candidates = sorted(
        (c for c in surface.commands if c.kind == CHAT_INPUT),
        key=lambda c: (len(c.options), c.name),
    )
    if autocomplete:
        candidates = [c for c in candidates if any(o.autocomplete for o in c.options)]
    cmd: CommandSpec = draw(pick(candidates))
    places = ["A", "B"] + (["dm"] if cmd.in_dms else [])
    where = draw(pick(places))
    options: dict[str, Any] = {}
    uploaded = {}
    focused = None
    if autocomplete:
        focus = draw(st.sampled_from([o for o in cmd.options if o.autocomplete]))
        focused = focus.name
        options[focus.name] = draw(_either(texts(static, max_size=100), ids(focus.name)))
    for opt in cmd.options:
        if opt.name == focused or not _usable(opt, where):
            continue
        if not opt.required and not draw(st.booleans()):
            continue  # a missing optional option
        if opt.type == ATTACHMENT:
            uploaded[opt.name] = draw(uploads(static))
            continue
        options[opt.name] = draw(option_value(opt, static, where))
    fields = [] if autocomplete else draw(modal_texts(static))
    return Plan(
        kind="autocomplete" if autocomplete else "command",
        actor=actor,
        where=where,
        name=cmd.name,
        options=options,
        uploads=uploaded,
        focused=focused,
        locale=draw(pick(LOCALES)),
        extra={"fields": fields},
    )


@cache
def modal_texts(static: Static) -> st.SearchStrategy[list[str]]:
    """Values for a modal the interaction may open (given to its inputs in order)."""
    text = texts(static, max_size=TEXT_INPUT_MAX)
    return st.lists(text, min_size=MODAL_FIELDS, max_size=MODAL_FIELDS)


@st.composite
def component_plan(draw: st.DrawFn, surface: Surface, static: Static, actor: str) -> Plan:
    item: ItemSpec = draw(pick(surface.items))
    generated = draw(_generated_custom_id(item))
    # a custom_id seen on the bot's messages, or the generated one; its ids swapped or not
    seen = draw(_maybe(ref(f"seen {item.name}")))
    swaps = {
        name: draw(_maybe(ids(f"{name} {item.name}"))) for name in sorted(item.pattern.groupindex)
    }
    values: list[Any] = []
    if item.is_select:
        values = draw(_select_values(static))
    return Plan(
        kind="component",
        actor=actor,
        where=draw(pick(["A", "B", "dm"])),
        name=item.name,
        custom_id=generated,
        values=values,
        select_options=["select"] if item.is_select else [],
        locale=draw(pick(LOCALES)),
        ephemeral_message=draw(st.booleans()),
        extra={"seen": seen, "swaps": swaps, "fields": draw(modal_texts(static))},
    )


@st.composite
def modal_plan(draw: st.DrawFn, static: Static, actor: str) -> Plan:
    fields = [draw(texts(static, max_size=TEXT_INPUT_MAX)) for _ in range(MODAL_FIELDS)]
    return Plan(
        kind="modal",
        actor=actor,
        where=draw(pick(["A", "B"])),
        name="modal",
        locale=draw(pick(LOCALES)),
        extra={"modal": draw(ref("modal")), "fields": fields},
    )


@st.composite
def menu_plan(draw: st.DrawFn, surface: Surface, actor: str) -> Plan:
    menus = [c for c in surface.commands if c.kind != CHAT_INPUT]
    cmd: CommandSpec = draw(pick(menus))
    where = draw(pick(["A", "B"] + (["dm"] if cmd.in_dms else [])))
    if cmd.kind == USER_COMMAND:
        target = draw(_either(ref(f"member {where}"), ref("user")))
    else:
        target = draw(ref("message"))
    return Plan(
        kind="menu",
        actor=actor,
        where=where,
        name=cmd.name,
        target=target,
        locale=draw(pick(LOCALES)),
    )


def plan_strategy(surface: Surface, static: Static, actor: str) -> st.SearchStrategy[Plan]:
    """Any interaction; commands and presses weighted over the rest."""
    kinds: list[st.SearchStrategy[Plan]] = [
        command_plan(surface, static, actor),
        command_plan(surface, static, actor),
        command_plan(surface, static, actor),
        component_plan(surface, static, actor),
        component_plan(surface, static, actor),
        modal_plan(static, actor),
    ]
    if any(o.autocomplete for c in surface.commands for o in c.options):
        kinds.append(command_plan(surface, static, actor, autocomplete=True))
    if any(c.kind != CHAT_INPUT for c in surface.commands):
        kinds.append(menu_plan(surface, actor))
    return pick(kinds).flatmap(lambda kind: kind)


def missing_strategies(surface: Surface) -> list[str]:
    """Commands with an option of a type no strategy covers; items whose template hypothesis
    cannot generate from."""
    missing = [
        f"{c.name}: option {o.name} of type {o.type}"
        for c in surface.commands
        for o in c.options
        if o.type not in SUPPORTED_OPTION_TYPES
    ]
    for item in surface.items:
        try:
            st.from_regex(item.pattern, fullmatch=True).validate()
        except Exception as exc:
            missing.append(f"{item.name}: template {item.pattern.pattern!r}: {exc}")
    return missing


# -- resolving -------------------------------------------------------------------------------


def _pick(items: list[Any], index: int) -> Any | None:
    return items[index % len(items)] if items else None


def _table_word(table: str) -> str:
    """ "character_themes" → "theme": the word an option or a custom_id group would use."""
    return table.rsplit("_", 1)[-1].removesuffix("s")


def _row_id(scene: Scene, kind: str, index: int, hint: str = "") -> str:
    """The ``index``-th id of the actor's rows (``own``) or others' (``other``); with a hint,
    rows of the tables the hint names (a third of the time any row, so ids of one kind are
    also given where another is wanted)."""
    by_table = scene.own_ids if kind == "own" else scene.other_ids
    words = hint.lower().replace("_", " ").split()
    named = [t for t in sorted(by_table) if any(_table_word(t) in w for w in words)]
    tables = named if named and index % 3 else sorted(by_table)
    pool = [i for t in tables for i in by_table[t]]
    return str(_pick(pool, index // 3) or random_uuid())


def _id_text(text: str, scene: Scene) -> str:
    def swap(match: Any) -> str:
        return _row_id(scene, match.group(1), int(match.group(2)))

    return TOKEN.sub(swap, text)


def _value(value: Any, scene: Scene, where: str) -> Any:
    if isinstance(value, str):
        return _id_text(value, scene)
    if not isinstance(value, Ref):
        return value
    kind, i = value.kind, value.index
    if kind in ("own", "other"):
        return _row_id(scene, kind, i, value.hint)
    if kind.startswith("member "):
        return _pick(scene.members.get(kind.split()[1], []), i) or _pick(scene.user_ids, i)
    if kind == "user":
        return _pick(scene.user_ids, i)
    if kind == "channel":
        return _pick(scene.channels, i)
    if kind.startswith("role "):
        return _pick(scene.roles.get(kind.split()[1], []), i)
    if kind == "message":
        return _pick(scene.messages, i)
    raise LookupError(kind)


def _custom_id(plan: Plan, item: ItemSpec, scene: Scene) -> str:
    base = plan.custom_id
    seen: Ref | None = plan.extra.get("seen")
    if seen is not None:  # half the time one on the actor's own answers
        pool = scene.answered_custom_ids if seen.index % 2 else scene.custom_ids
        matching = [c for c in pool if item.pattern.fullmatch(c)]
        base = _pick(matching, seen.index // 2) or base
    for name, swap in plan.extra.get("swaps", {}).items():
        match = item.pattern.fullmatch(base)
        if swap is None or match is None or match.start(name) < 0:
            continue
        value = str(_value(swap, scene, plan.where))
        candidate = base[: match.start(name)] + value + base[match.end(name) :]
        if len(candidate) <= CUSTOM_ID_MAX and item.pattern.fullmatch(candidate):
            base = candidate
    return base


def _fit(text: str, lo: int, hi: int) -> str:
    text = text[:hi]
    return text + "x" * max(0, lo - len(text))


def resolve(plan: Plan, scene: Scene, surface: Surface) -> Plan | None:
    """The plan with every ref made concrete (None when it names nothing that exists)."""
    where = plan.where
    if plan.extra.get("fields"):
        drawn = [_id_text(text, scene) for text in plan.extra["fields"]]
        plan = dataclasses.replace(plan, extra={**plan.extra, "fields": drawn})
    if plan.kind in ("command", "autocomplete"):
        options = {k: _value(v, scene, where) for k, v in plan.options.items()}
        if any(v is None for v in options.values()):
            return None
        return dataclasses.replace(plan, options=options)
    if plan.kind == "menu":
        target = _value(plan.target, scene, where)
        if target is None:
            return None
        return dataclasses.replace(plan, target=str(getattr(target, "id", target)))
    if plan.kind == "component":
        item = next(i for i in surface.items if i.name == plan.name)
        custom_id = _custom_id(plan, item, scene)
        options = scene.select_options.get(custom_id, [])
        values = [
            _pick(options, v.index) or "" if isinstance(v, Ref) else _id_text(v, scene)
            for v in plan.values
        ]
        select_options = (options or [*values, "option"]) if item.is_select else []
        return dataclasses.replace(
            plan, custom_id=custom_id, values=values, select_options=select_options
        )
    if plan.kind == "modal":
        # a class first, then one of its open modals: each kind of modal gets its share
        modal_ref: Ref = plan.extra["modal"]
        classes = sorted(set(scene.modal_classes.values()))
        chosen = _pick(classes, modal_ref.index)
        of_class = sorted(c for c, k in scene.modal_classes.items() if k == chosen)
        custom_id = _pick(of_class, modal_ref.index // max(1, len(classes)))
        if custom_id is None or custom_id not in scene.open_modals:
            return None
        fields = fill_modal(scene.open_modals[custom_id], plan.extra["fields"])
        return dataclasses.replace(
            plan, custom_id=custom_id, name=custom_id.split(":", 1)[0], fields=fields
        )
    raise AssertionError(plan.kind)


def fill_modal(modal: dict[str, Any], drawn: list[str]) -> dict[str, str]:
    """The drawn texts given to the modal's text inputs in order, each fitted to its limits."""
    fields = {}
    for n, field_ in enumerate(text_inputs(modal)):
        required = field_.get("required", True)
        lo = int(field_.get("min_length") or (1 if required else 0))
        hi = int(field_.get("max_length") or TEXT_INPUT_MAX)
        fields[field_["custom_id"]] = _fit(drawn[n % len(drawn)], lo, hi)
    return fields


def text_inputs(modal: dict[str, Any]) -> list[dict[str, Any]]:
    """The text inputs of a modal payload (in action rows or labels)."""
    found: list[dict[str, Any]] = []
    for top in modal.get("components") or []:
        inner = top.get("components") or ([top["component"]] if top.get("component") else [])
        found += [c for c in inner if c.get("type") == 4]
    return found


CRAWL_FIELDS = ["fuzz", "a knight", "https://example.com", "smile"]


def crawl_plans(scene: Scene, surface: Surface) -> list[Plan]:
    """A press of every component shape the bot showed the actor and nobody pressed yet (its
    select's first option), a modal it opens answered with plain values."""
    plans = []
    for custom_id, options in scene.crawl:
        item = next((i for i in surface.items if i.pattern.fullmatch(custom_id)), None)
        if item is None:
            continue
        plans.append(
            Plan(
                kind="component",
                actor=scene.actor,
                where="A",
                name=item.name,
                custom_id=custom_id,
                values=options[:1],
                select_options=options if item.is_select else [],
                extra={"fields": CRAWL_FIELDS},
            )
        )
    return plans
