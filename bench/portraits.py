"""For ``bench.latency``: each create's own Gemini calls and the moment its portrait became
visible, both read at the fakes, so nothing in the bot is hooked.

Every create's description carries a tag (``LT0042``). The fake Gemini's text answer echoes
the description into the image prompt, so both of a create's Gemini calls carry the tag: a
latency hook (``FakeGemini.latency_for``) gives each call the create's planned latency, and
the calls' recorded latencies sum to the create's provider time. At the fake Discord, the
first accepted request with an image attachment that belongs to the create (by the
interaction's token in its path, or by the tag in its body: a channel message) is the
portrait becoming visible; it is stamped when its body had arrived (``received_at``).
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.discord.rest import RecordedRequest
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.gemini_server import RecordedRequest as GeminiRequest

TAG = re.compile(r"\bLT(\d{4})\b")
IMAGE_NAMES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def tag(number: int) -> str:
    return f"LT{number:04d}"


def description(number: int) -> str:
    """A create's description, tagged with its number."""
    return f"a tired space pirate {tag(number)} with a mechanical arm and a patched coat"


def plan(
    numbers: range, seed: int, text: tuple[float, float], image: tuple[float, float]
) -> dict[int, tuple[float, float]]:
    """(text, image) latency per create number, uniform in the given ranges, drawn in order
    from ``random.Random(seed)``: the same for every run and both sides."""
    rng = random.Random(seed)
    return {n: (rng.uniform(*text), rng.uniform(*image)) for n in numbers}


class Latencies:
    """The fake Gemini's latency hook: a tagged call gets its create's planned latency."""

    def __init__(self) -> None:
        self.planned: dict[int, tuple[float, float]] = {}

    def __call__(self, request: GeminiRequest) -> float | None:
        found = TAG.search(request.text)
        if found is None or int(found.group(1)) not in self.planned:
            return None  # the fake's own text_latency / image_latency
        text, image = self.planned[int(found.group(1))]
        return image if request.kind == "image" else text


@dataclass
class Create:
    """One measured create: its command, its provider calls, its portrait."""

    number: int
    ix: FakeInteraction
    visible: float | None = None  # when the request with its portrait had arrived
    route: str = ""  # that request's route
    calls: list[GeminiRequest] = field(default_factory=list)

    @property
    def command(self) -> float:
        return self.ix.created_at

    @property
    def provider(self) -> float:
        """The sum of its Gemini calls' latencies, as the fake applied them."""
        return sum(c.latency for c in self.calls) if self.calls else math.nan

    @property
    def end_to_end(self) -> float:
        return math.nan if self.visible is None else self.visible - self.command

    @property
    def overhead(self) -> float:
        """(visible − command − provider) / provider."""
        return (self.end_to_end - self.provider) / self.provider

    def phases(self) -> dict[str, float]:
        """Where the time outside the provider went: before the text call arrived, between
        the text answer and the image call, and from the image answer to the portrait."""
        text = [c for c in self.calls if c.kind == "text"]
        image = [c for c in self.calls if c.kind == "image"]
        if len(text) != 1 or len(image) != 1 or self.visible is None:
            return {}
        t, i = text[0], image[0]
        return {
            "to_text_call": t.received_at - self.command,
            "text_to_image_call": i.received_at - (t.received_at + t.latency),
            "image_to_visible": self.visible - (i.received_at + i.latency),
        }

    def record(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "end_to_end": self.end_to_end,
            "provider": self.provider,
            "calls": [(c.kind, c.latency) for c in self.calls],
            "route": self.route,
            **self.phases(),
        }


def _has_image(request: RecordedRequest) -> bool:
    return any(
        f.content_type.startswith("image/")
        or f.filename.lower().endswith(IMAGE_NAMES)
        or f.data[:8] == b"\x89PNG\r\n\x1a\n"
        for f in request.files
    )


class PortraitWatch:
    """Scans the fake Discord's requests as they are answered; ``scan()`` is true once every
    create's portrait was seen (use it as ``fake.wait_until(watch.scan)``)."""

    def __init__(self, fake: FakeDiscord, creates: list[Create]) -> None:
        self.fake = fake
        self.creates = creates
        self._by_token = {c.ix.token: c for c in creates}
        self._by_tag = {tag(c.number): c for c in creates}
        self._next = len(fake.requests)
        self._pending: list[RecordedRequest] = []

    def add(self, create: Create) -> None:
        self.creates.append(create)
        self._by_token[create.ix.token] = create
        self._by_tag[tag(create.number)] = create

    def scan(self) -> bool:
        requests = self.fake.requests
        self._pending.extend(requests[self._next :])
        self._next = len(requests)
        still: list[RecordedRequest] = []
        for request in self._pending:
            if request.status is None:
                still.append(request)  # not answered yet
            elif 200 <= request.status < 300 and request.files and _has_image(request):
                self._look(request)
        self._pending = still
        return all(c.visible is not None for c in self.creates)

    def _look(self, request: RecordedRequest) -> None:
        create = next((c for t, c in self._by_token.items() if t in request.path), None)
        if create is None and isinstance(request.body, dict):
            found = TAG.search(json.dumps(request.body))
            create = self._by_tag.get(found.group(0)) if found else None
        if create is not None and create.visible is None:
            create.visible = request.received_at
            create.route = f"{request.method} {request.route}"


def attribute(gemini: FakeGemini, creates: list[Create], since: int = 0) -> int:
    """Give each create its own Gemini calls (by tag, made after its command) among the
    requests from index ``since`` on; the number of those that belong to no create."""
    by_tag = {tag(c.number): c for c in creates}
    orphans = 0
    for request in gemini.requests[since:]:
        found = TAG.search(request.text)
        create = by_tag.get(found.group(0)) if found else None
        if create is not None and request.received_at >= create.command:
            create.calls.append(request)
        elif create is None and found is not None:
            continue  # another phase's create
        else:
            orphans += 1
    return orphans
