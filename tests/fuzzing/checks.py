"""What every answer must be: acknowledged within Discord's 3 s, a message from the catalog (in
any of its languages), no traceback, not the generic "unexpected error"."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import LANGUAGES, Catalog
from tests.fakes.discord.interactions import ACK_DEADLINE
from tests.fuzzing.world import Outcome

GENERIC_ERROR_KEYS = ("error.unexpected", "error.internal")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\b\w+(Error|Exception): "
)
_MIN_LITERAL = 3
"""Bytes of UTF-8 a template needs besides its placeholders to count: one that is all
placeholder ("{reason}") says nothing of its own, while two CJK characters ("改编 {name}", a
modal title) do, so the length is counted in bytes, not characters."""


def _template_regex(template: str) -> str:
    parts = _PLACEHOLDER.split(template)
    return "(?s:.*?)".join(re.escape(p) for p in parts)


@dataclass
class Templates:
    """Every catalog message, as regexes that match its rendered text in any language."""

    catalog: Catalog
    any_message: re.Pattern[str] = field(init=False)
    generic: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pieces: list[str] = []
        generic: list[str] = []
        for lang in LANGUAGES:
            for key, template in self.catalog.messages(lang).items():
                literal = _PLACEHOLDER.sub("", template).strip()
                if len(literal.encode()) < _MIN_LITERAL:
                    continue
                regex = _template_regex(template)
                pieces.append(regex)
                if key in GENERIC_ERROR_KEYS:
                    generic.append(regex)
        # longest first: a template that is a prefix of another must not win by accident
        pieces.sort(key=len, reverse=True)
        self.any_message = re.compile("|".join(f"(?:{p})" for p in pieces))
        self.generic = re.compile("|".join(f"(?:{p})" for p in generic))

    def localised(self, text: str) -> bool:
        """Whether ``text`` begins with one of the catalog's messages."""
        return self.any_message.match(text) is not None

    def is_generic_error(self, text: str) -> bool:
        return self.generic.search(text) is not None


def texts_of(message: dict[str, Any] | None) -> list[str]:
    """Everything a member reads in a message: content, embed texts, component labels."""
    if not message:
        return []
    out = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        out += [str(embed.get(k) or "") for k in ("title", "description")]
        out += [str((embed.get("footer") or {}).get("text") or "")]
        for f in embed.get("fields") or []:
            out += [str(f.get("name") or ""), str(f.get("value") or "")]
    return [t for t in out if t]


def answer_messages(outcome: Outcome) -> list[dict[str, Any]]:
    """The messages the interaction answered with (reply, updates, followups, a modal)."""
    ix = outcome.ix
    assert ix is not None
    found: list[dict[str, Any]] = list(ix.messages())
    for cb in ix.callbacks:
        data = cb.get("data") or {}
        if cb["type"] in (4, 7) and data:
            found.append(data)
        if cb["type"] == 9:
            found.append({"content": data.get("title", "")})
    return found


@dataclass
class Tally:
    """The figures of the run, and every failure with the interaction that caused it."""

    sent: int = 0
    skipped: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    names: Counter[str] = field(default_factory=Counter)
    answered_by: Counter[str] = field(default_factory=Counter)
    late: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    generic_errors: list[str] = field(default_factory=list)
    not_localised: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unowned_changes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    logged_errors: list[str] = field(default_factory=list)
    max_ack: float = 0.0

    def failures(self) -> dict[str, list[str]]:
        return {
            name: items
            for name, items in (
                ("late answers (over 3 s)", self.late),
                ("unanswered interactions", self.unanswered),
                ("tracebacks in replies", self.tracebacks),
                ("unexpected-error replies", self.generic_errors),
                ("replies not from the catalog", self.not_localised),
                ("callbacks Discord refused", self.rejected),
                ("rows changed that the caller does not own", self.unowned_changes),
                ("Discord request violations", self.violations),
                ("errors logged by the bot", self.logged_errors),
            )
            if items
        }


def check(outcome: Outcome, templates: Templates, tally: Tally) -> None:
    """Check one sent interaction, adding what is wrong to the tally."""
    ix = outcome.ix
    if ix is None:
        tally.skipped += 1
        return
    plan = outcome.plan
    tally.sent += 1
    tally.kinds[plan.kind] += 1
    tally.names[f"{plan.kind} {plan.name}"] += 1
    for option in [*plan.options, *plan.uploads]:
        tally.names[f"option {plan.name} {option}"] += 1
    what = plan.describe()
    if not ix.callbacks:
        tally.unanswered.append(what)
        return
    delay = ix.ack_delay or 0.0
    tally.max_ack = max(tally.max_ack, delay)
    if delay > ACK_DEADLINE:
        tally.late.append(f"{delay:.2f}s {what}")
    if ix.rejected:
        tally.rejected.append(f"{ix.rejected} {what}")
    kind = ix.callbacks[0]["type"]
    tally.answered_by[str(kind)] += 1
    if kind == 8:  # autocomplete choices: data, not a message
        return
    texts = [t for m in answer_messages(outcome) for t in texts_of(m)]
    if kind in (5, 6) and ix.answer_delay is None and not texts:
        # deferred and never followed by anything the member can read
        tally.unanswered.append(f"deferred, then nothing: {what}")
        return
    for text in texts:
        if _TRACEBACK.search(text):
            tally.tracebacks.append(f"{text[:200]!r} {what}")
        if templates.is_generic_error(text):
            tally.generic_errors.append(f"{text[:200]!r} {what}")
    contents = [str(m.get("content") or "") for m in answer_messages(outcome)]
    contents = [c for c in contents if c.strip()]
    for content in contents:
        if not templates.localised(content):
            tally.not_localised.append(f"{content[:200]!r} {what}")
