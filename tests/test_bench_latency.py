"""bench.latency's measuring at the fakes: seeded per-create latencies, each create's own Gemini
calls, and the request that made its portrait visible."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bench.portraits import Create, Latencies, PortraitWatch, attribute, description, plan
from tests.fakes.discord.messages import UploadedFile
from tests.fakes.discord.rest import RecordedRequest
from tests.fakes.gemini_server import RecordedRequest as GeminiRequest

PNG = b"\x89PNG\r\n\x1a\n" + b"portrait"


def _create(number: int, token: str, at: float) -> Create:
    return Create(number, SimpleNamespace(token=token, created_at=at))  # type: ignore[arg-type]


def _discord(
    path: str, body: Any, *, files: bool, status: int | None, at: float
) -> RecordedRequest:
    uploads = [UploadedFile("files[0]", "portrait.png", "application/octet-stream", PNG)]
    return RecordedRequest(
        "PATCH" if "webhooks" in path else "POST",
        path,
        body,
        {},
        path,
        files=uploads if files else [],
        status=status,
        received_at=at,
    )


def _gemini(number: int, kind: str, at: float, latency: float) -> GeminiRequest:
    texts = [f"Description: {description(number)}"]
    return GeminiRequest("m", {}, "k", texts=texts, kind=kind, received_at=at, latency=latency)


def test_the_plan_is_seeded_and_the_hook_gives_each_call_its_create_latency() -> None:
    first = plan(range(100), 19, (1.0, 2.0), (5.0, 9.0))
    assert first == plan(range(100), 19, (1.0, 2.0), (5.0, 9.0))
    assert first != plan(range(100), 20, (1.0, 2.0), (5.0, 9.0))
    assert all(1 <= t <= 2 and 5 <= i <= 9 for t, i in first.values())
    assert len({i for _, i in first.values()}) == 100
    hook = Latencies()
    hook.planned.update(first)
    assert hook(_gemini(42, "text", 0, 0)) == first[42][0]
    assert hook(_gemini(42, "image", 0, 0)) == first[42][1]
    assert hook(_gemini(4242, "image", 0, 0)) is None  # not planned: the fake's own latency
    untagged = GeminiRequest("m", {}, "k", texts=["a knight"], kind="text")
    assert hook(untagged) is None


def test_a_create_is_visible_at_its_first_accepted_request_with_an_image() -> None:
    a, b = _create(1, "tok-a", 10.0), _create(2, "tok-b", 10.5)
    fake = SimpleNamespace(requests=[])
    watch = PortraitWatch(fake, [])  # type: ignore[arg-type]
    watch.add(a)
    watch.add(b)
    hook = "/webhooks/1/tok-a/messages/@original"
    fake.requests += [
        _discord(hook, {"content": "drawing"}, files=False, status=200, at=11.0),  # no image
        _discord(hook, {}, files=True, status=429, at=11.5),  # refused
        _discord(hook, {}, files=True, status=None, at=12.0),  # still being answered
        # the other create's portrait as a channel message: its tag is in the embed
        _discord(
            "/channels/9/messages",
            {"embeds": [{"description": f"Built from: {description(2)}"}]},
            files=True,
            status=200,
            at=12.5,
        ),
    ]
    assert not watch.scan()
    assert a.visible is None
    assert b.visible == 12.5
    assert b.route == "POST /channels/9/messages"
    fake.requests[2].status = 200
    fake.requests.append(_discord(hook, {}, files=True, status=200, at=13.0))  # a later edit
    assert watch.scan()
    assert a.visible == 12.0
    assert a.end_to_end == 2.0


def test_a_create_owns_its_tagged_calls_and_its_provider_time_is_their_sum() -> None:
    a = _create(1, "tok-a", 10.0)
    a.visible = 17.0
    gemini = SimpleNamespace(
        requests=[
            _gemini(1, "text", 9.0, 0.5),  # before its command: not its own
            _gemini(7, "text", 10.1, 1.0),  # another create's
            _gemini(1, "text", 10.2, 1.5),
            _gemini(1, "image", 11.8, 5.0),
            GeminiRequest("m", {}, "k", texts=["no tag"], received_at=12.0),
        ]
    )
    orphans = attribute(gemini, [a])  # type: ignore[arg-type]
    assert orphans == 2
    assert a.provider == 6.5
    assert a.overhead == (7.0 - 6.5) / 6.5
    phases = a.phases()
    assert round(phases["to_text_call"], 6) == 0.2
    assert round(phases["text_to_image_call"], 6) == 0.1
    assert round(phases["image_to_visible"], 6) == 0.2
