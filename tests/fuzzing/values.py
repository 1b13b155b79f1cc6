"""Hypothesis strategies for the values a member can type or send: text with unicode edge
cases, markdown and mention injection, ids of other members' rows, malformed ids, extreme
numbers and attachments of every wrong kind."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st
from PIL import Image

# Discord's own limits: a string option's value, a text input's value.
STRING_OPTION_MAX = 6000
TEXT_INPUT_MAX = 4000
SAFE_INTEGER = 2**53  # Discord's integer options are bounded by ±2^53
CUSTOM_ID_MAX = 100


@dataclass(frozen=True)
class Ref:
    """A value drawn as "the ``index``-th of ``kind``", made concrete when the round's plans are
    resolved against the world (so what hypothesis draws never depends on the world's state)."""

    kind: str  # "own" | "other" | "member A" | "user" | "channel" | "role B" | "message" | …
    index: int
    hint: str = ""  # what the value names ("character", "theme id"): rows of that table first


@cache  # strategies are built once: building them is most of hypothesis' cost
def ref(kind: str, hint: str = "") -> st.SearchStrategy[Ref]:
    return st.integers(0, 1 << 16).map(lambda i: Ref(kind, i, hint))


# A row id inside generated text: as long as the uuid that replaces it.
TOKEN = re.compile("\ue000(own|other)(\\d+)\ue002*\ue001")


def token(kind: str, index: int) -> str:
    return f"\ue000{kind}{index}".ljust(35, "\ue002") + "\ue001"


@dataclass(frozen=True)
class Static:
    """Ids that do not change during the run: members, roles, channels of the guilds."""

    member_ids: tuple[str, ...] = ()
    role_ids: tuple[str, ...] = ()
    channel_ids: tuple[str, ...] = ()


@cache
def ids(hint: str = "") -> st.SearchStrategy[Any]:
    """A row id: the caller's own, another member's, a fresh uuid, or a malformed one."""
    return st.one_of(ref("own", hint), ref("other", hint), st.uuids().map(str), MALFORMED_IDS)


def _png(size: tuple[int, int] = (4, 4), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (3, 3)).save(buffer, "GIF")
    return buffer.getvalue()


def _card(fields: dict[str, Any]) -> bytes:
    return json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": fields}).encode()


MALFORMED_IDS = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "null",
        "None",
        "undefined",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
        "------------------------------------",
        "' OR '1'='1",
        "%",
        "_",
        "\\",
        "\x00",
        "a" * 36,
        "1" * 40,
        "🧙" * 36,
        "../../etc/passwd",
        str(2**63),
        str(-(2**63)),
    ]
)


@cache
def injections(static: Static) -> st.SearchStrategy[str]:
    """Markdown, mentions and control characters aimed at the rendering and the pings."""
    fixed = [
        "@everyone",
        "@here",
        "@everyone @here hello",
        "**bold** __under__ *it* ~~strike~~ ||spoiler||",
        "`code` ```py\nprint('x')\n```",
        "> quote\n# heading\n- item",
        "[link](https://example.com) <https://example.com>",
        "\u200b",
        "\u202e reversed",
        "\u0000",
        "\r\n\t",
        "{name} {0} %s %(x)s {{}}",
        "<script>alert(1)</script>",
        "'; DROP TABLE users; --",
        "Ｚａｌｇｏ ̷̢̛̛ͅ t̸̨̛e̷x̸t̴",
        "👨‍👩‍👧‍👦🏳️‍🌈🧑🏿‍🚀",
        "𝕌𝕟𝕚𝕔𝕠𝕕𝕖 𝒕𝒆𝒙𝒕",
        "日本語のテキスト、中文文本，한국어 텍스트",
        "https://",
        "javascript:alert(1)",
        "http://localhost:1/../",
    ]
    return st.one_of(
        st.sampled_from(fixed),
        st.sampled_from(static.member_ids).map(lambda i: f"<@{i}> <@!{i}>"),
        st.sampled_from(static.role_ids).map(lambda i: f"<@&{i}>"),
        st.sampled_from(static.channel_ids).map(lambda i: f"<#{i}>"),
        st.builds(token, st.sampled_from(["own", "other"]), st.integers(0, 1 << 16)),
    )


def _fit(text: str, min_size: int, max_size: int) -> str:
    text = text[:max_size]
    if len(text) < min_size:
        text += "x" * (min_size - len(text))
    return text


@cache
def texts(
    static: Static, *, min_size: int = 0, max_size: int = STRING_OPTION_MAX
) -> st.SearchStrategy[str]:
    """Text within ``[min_size, max_size]``: unicode of every category, whitespace, injections,
    row ids, and strings at the limit."""
    max_size = max(max_size, min_size)
    short_max = min(max_size, 60)
    unicode_text = st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=short_max
    )
    at_limit = st.sampled_from(["A", "é", "字", "🧙", "\u0301", " ", "\n"]).map(
        lambda c: c * max_size
    )
    parts = st.one_of(
        unicode_text,
        unicode_text,
        st.sampled_from(["", " ", "   ", "\n", "\t", "\u3000", "\u00a0"]),
        injections(static),
        at_limit,
        st.from_regex(re.compile(r"[a-z ]{1,40}"), fullmatch=True),
    )
    return st.lists(parts, min_size=1, max_size=3).map(
        lambda ps: _fit("".join(ps), min_size, max_size)
    )


@cache
def integers(lo: int | None, hi: int | None) -> st.SearchStrategy[int]:
    """Integers in the declared range, edges included (Discord keeps them within ±2^53)."""
    lo = -SAFE_INTEGER if lo is None else int(lo)
    hi = SAFE_INTEGER if hi is None else int(hi)
    edges = [v for v in (lo, hi, 0, 1, -1, 2**31, -(2**31), 2**63 - 1) if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


@cache
def numbers(lo: float | None, hi: float | None) -> st.SearchStrategy[float]:
    lo = -float(SAFE_INTEGER) if lo is None else float(lo)
    hi = float(SAFE_INTEGER) if hi is None else float(hi)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@dataclass(frozen=True)
class Upload:
    """An attachment as sent: file name, bytes, declared content type and (when set) the size
    Discord reports, which may disagree with the bytes."""

    filename: str
    data: bytes
    content_type: str
    claimed_size: int | None = None


_PNG = _png()
_UPLOADS = [
    Upload("portrait.png", _PNG, "image/png"),
    Upload("big.png", _png((600, 400)), "image/png"),
    Upload("tiny.png", _png((1, 1), "L"), "image/png"),
    Upload("alpha.png", _png((5, 5), "RGBA"), "image/png"),
    Upload("anim.gif", _gif(), "image/gif"),
    Upload("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg"),
    Upload("not-an-image.png", b"hello, I am text", "image/png"),
    Upload("empty.png", b"", "image/png"),
    Upload("truncated.png", _PNG[:20], "image/png"),
    Upload("notes.txt", "plain text ✓".encode(), "text/plain"),
    Upload("archive.zip", b"PK\x03\x04" + b"\x00" * 30, "application/zip"),
    Upload("program.exe", b"MZ" + b"\x00" * 62, "application/octet-stream"),
    Upload("huge.png", _PNG, "image/png", claimed_size=11 * 1024 * 1024),
    Upload("huge.json", b"{}", "application/json", claimed_size=25 * 1024 * 1024),
    Upload("noext", _PNG, ""),
    Upload("card.json", b"{not json", "application/json"),
    Upload("card.json", b"[]", "application/json"),
    Upload("card.json", b"null", "application/json"),
    Upload("card.json", _card({}), "application/json"),
    Upload("card.json", json.dumps({"spec": "chara_card_v3"}).encode(), "application/json"),
    Upload("card.json", "\ufeff{}".encode(), "application/json"),
    Upload("card.json", b"\xff\xfe\x00", "application/json"),
    Upload("card.json", b"[" * 5000, "application/json"),
]


@cache
def uploads(static: Static) -> st.SearchStrategy[Upload]:
    """Attachments of the right and every wrong kind: fake images, oversize, empty, cards with
    generated fields."""
    card_fields = st.fixed_dictionaries(
        {},
        optional={
            "name": texts(static, max_size=300),
            "description": texts(static, max_size=3000),
            "personality": texts(static, max_size=500),
            "scenario": texts(static, max_size=300),
            "first_mes": texts(static, max_size=300),
            "tags": st.lists(texts(static, max_size=40), max_size=30),
            "extensions": st.dictionaries(st.text(max_size=10), st.integers(), max_size=3),
        },
    )
    generated_card = card_fields.map(lambda f: Upload("card.json", _card(f), "application/json"))
    v1_card = st.fixed_dictionaries(
        {"name": texts(static, max_size=200), "description": texts(static, max_size=500)}
    ).map(lambda f: Upload("card.json", json.dumps(f).encode(), "application/json"))
    return st.one_of(st.sampled_from(_UPLOADS), generated_card, v1_card)


def random_uuid() -> str:
    return str(uuid.uuid4())


def sampled(items: Sequence[Any]) -> st.SearchStrategy[Any]:
    """``sampled_from`` that tolerates an empty pool (nothing)."""
    return st.sampled_from(list(items)) if items else st.nothing()
