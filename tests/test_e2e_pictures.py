"""End to end: every card that shows a character, a variant or a gallery entry carries a picture
the member can see, whatever the storage: with local files (the default: no S3_BUCKET) the file
is attached and the embed points at it (pagers replace the attachments page by page); with S3
and no public base URL the embed links a freshly presigned URL."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.storage.images import make_thumbnail
from bot.storage.local import LocalStorage
from db.meta import IMAGE_KEY, THUMBNAIL_KEY
from db.models import Character, CharacterTheme, ThemeVariant, User
from tests.conftest import truncate_all
from tests.e2e import (
    Stack,
    collect_violations,
    custom_ids,
    running_stack,
    wait_final,
    wait_reply,
    wait_update,
)
from tests.factories import make_character, make_theme, make_user

_n = itertools.count(1)
_colours = itertools.count(1)


def png(size: int = 320) -> bytes:
    """A real PNG of its own colour (so every stored file differs)."""
    n = next(_colours)
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256)).save(
        buffer, "PNG"
    )
    return buffer.getvalue()


@pytest.fixture(scope="module")
async def local(database_url, engine, tmp_path_factory):
    """The bot as the README starts it: no S3_BUCKET, so images are files under DATA_DIR."""
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-pictures")) as s:
        await s.start_bot(s3_bucket=None)
        yield s
    await truncate_all(engine)


@pytest.fixture(autouse=True)
def no_violations(local: Stack):
    """Every request the bot sends passes the OpenAPI spec and Discord's limits (an embed that
    points at ``attachment://x`` with no such file attached is one)."""
    collect_violations(local)
    yield
    assert collect_violations(local) == []


def images_dir(stack: Stack) -> Path:
    return stack.data_dir / "images"


async def stored_files(stack: Stack, prefix: str) -> dict[str, Any]:
    """A portrait and its thumbnail written to the bot's local storage: the keys, file URIs
    and bytes, as a generation leaves them."""
    storage = LocalStorage(images_dir(stack))
    image = png()
    thumbnail = await make_thumbnail(image)
    image_key, thumbnail_key = f"{prefix}/{next(_n)}.png", f"{prefix}/{next(_n)}_thumb.webp"
    return {
        "image_url": await storage.put(image_key, image, "image/png"),
        "thumbnail_url": await storage.put(thumbnail_key, thumbnail, "image/webp"),
        "meta": {IMAGE_KEY: image_key, THUMBNAIL_KEY: thumbnail_key},
        "image": image,
        "thumbnail": thumbnail,
    }


async def user_of(session_factory, member, **overrides) -> User:
    async with session_factory.begin() as s:
        return await make_user(s, int(member.id), **overrides)


async def character_with_files(
    stack: Stack, session_factory, user: User, **overrides: Any
) -> tuple[Character, dict[str, Any]]:
    files = await stored_files(stack, "characters")
    columns = {k: files[k] for k in ("image_url", "thumbnail_url", "meta")}
    async with session_factory.begin() as s:
        return await make_character(s, user, **columns, **overrides), files


def shown_files(stack: Stack, message: dict[str, Any], part: str = "image") -> list[bytes]:
    """The bytes behind each embed's image (or thumbnail), checking that each embed points at
    a file attached to the message (the fake resolves ``attachment://<name>`` to its URL)."""
    by_url = {a["url"]: a for a in message["attachments"]}
    found = []
    for embed in message["embeds"]:
        url = embed[part]["url"]
        assert url in by_url, f"{url} is not an attachment of the message"
        found.append(stack.fake.attachment_bytes(url))
    return found


def button(message: dict[str, Any], prefix: str) -> str:
    return next(c for c in custom_ids(message) if c.startswith(prefix))


async def press(stack: Stack, member, message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    ix = await stack.fake.click(member, message, custom_id)
    await wait_update(ix)
    return stack.fake.message(message["id"])


# -- local storage -----------------------------------------------------------------------------


async def test_local_character_show_attaches_the_stored_portrait(local: Stack, session_factory):
    """A character made with /character create is stored as files; /character show attaches
    the stored portrait and the embed's image is that attachment."""
    member = local.member(f"gawain{next(_n)}")
    created = await wait_final(
        await local.command(member, "character create", {"description": "a knight in green"})
    )
    character_id = created["embeds"][0]["footer"]["text"].rsplit(" ", 1)[-1]
    async with session_factory() as s:
        row = await s.get(Character, character_id)
    assert row is not None
    assert row.image_url is not None
    assert row.image_url.startswith("file://")  # the bot really runs on local files
    stored = (images_dir(local) / row.meta[IMAGE_KEY]).read_bytes()

    shown = await wait_reply(await local.command(member, "character show", {"character": row.id}))
    assert [a["filename"] for a in shown["attachments"]] == ["portrait.png"]
    assert shown_files(local, shown) == [stored]


async def test_local_gallery_pages_attach_one_thumbnail_per_card(local: Stack, session_factory):
    """/gallery browse attaches one file per card under distinct names; Next replaces them with
    the next page's, Previous brings the first page's back."""
    tag = f"pic{next(_n)}"
    member = local.member(f"elaine{tag}")
    user = await user_of(session_factory, member, allow_gallery_showcase=True)
    thumbnails = {}
    for i in range(6):
        row, files = await character_with_files(
            local, session_factory, user, name=f"Card {i} {tag}", is_public=True, tags=[tag]
        )
        thumbnails[row.name] = files["thumbnail"]

    viewer = local.member(f"viewer{tag}")
    first = await wait_reply(await local.command(viewer, "gallery browse", {"tag": tag}))
    assert len(first["embeds"]) == 5
    assert len(first["attachments"]) == 5
    assert len({a["filename"] for a in first["attachments"]}) == 5
    assert shown_files(local, first) == [thumbnails[e["title"]] for e in first["embeds"]]
    first_titles = [e["title"] for e in first["embeds"]]

    second = await press(local, viewer, first, button(first, "gb:n"))
    assert [e["title"] for e in second["embeds"]] != first_titles
    assert len(second["embeds"]) == 1
    assert len(second["attachments"]) == 1  # the first page's files are gone
    assert shown_files(local, second) == [thumbnails[second["embeds"][0]["title"]]]

    back = await press(local, viewer, second, button(second, "gb:p"))
    assert [e["title"] for e in back["embeds"]] == first_titles
    assert shown_files(local, back) == [thumbnails[t] for t in first_titles]


async def test_local_gallery_user_attaches_the_cards_pictures(local: Stack, session_factory):
    """/gallery user (here: one's own) shows the published characters with their pictures
    attached."""
    tag = f"usr{next(_n)}"
    member = local.member(f"bors{tag}")
    user = await user_of(session_factory, member, allow_gallery_showcase=True)
    _, files = await character_with_files(
        local, session_factory, user, name=f"Only {tag}", is_public=True
    )
    shown = await wait_reply(await local.command(member, "gallery user", {"member": member.id}))
    assert shown_files(local, shown) == [files["thumbnail"]]


async def test_local_variant_list_pages_attach_each_variants_image(local: Stack, session_factory):
    """/variant list attaches the variant's image; Next replaces it with the older variant's."""
    member = local.member(f"lancelot{next(_n)}")
    user = await user_of(session_factory, member)
    character, _ = await character_with_files(local, session_factory, user)
    async with session_factory.begin() as s:
        theme: CharacterTheme = await make_theme(s, character, name="Armour")
    images = []
    for prompt in ("older", "newer"):
        files = await stored_files(local, f"variants/{theme.id}")
        async with session_factory.begin() as s:
            s.add(
                ThemeVariant(
                    theme_id=theme.id,
                    character_id=character.id,
                    prompt=prompt,
                    image_url=files["image_url"],
                    thumbnail_url=files["thumbnail_url"],
                    meta=files["meta"],
                )
            )
        images.append(files["image"])
    older, newer = images

    listed = await wait_reply(await local.command(member, "variant list", {"theme": theme.id}))
    assert listed["embeds"][0]["description"] == "newer"
    assert [a["filename"] for a in listed["attachments"]] == ["variant.png"]
    assert shown_files(local, listed) == [newer]

    paged = await press(local, member, listed, button(listed, f"vlist:{theme.id}:n:"))
    assert paged["embeds"][0]["description"] == "older"
    assert len(paged["attachments"]) == 1
    assert shown_files(local, paged) == [older]


async def test_local_collection_show_attaches_a_cover(local: Stack, session_factory):
    """/collection show attaches the first character's thumbnail as the embed's thumbnail."""
    from bot.services.collections import add_to_collection, create_collection

    member = local.member(f"enid{next(_n)}")
    user = await user_of(session_factory, member)
    character, files = await character_with_files(local, session_factory, user)
    async with session_factory.begin() as s:
        collection = await create_collection(s, user.id, "Favourites")
        await add_to_collection(s, collection.id, character.id, user.id)
    shown = await wait_reply(
        await local.command(member, "collection show", {"collection": collection.id})
    )
    assert shown_files(local, shown, "thumbnail") == [files["thumbnail"]]


# -- S3 without a public base URL --------------------------------------------------------------


@pytest.fixture(scope="module")
async def s3(database_url, engine, tmp_path_factory, local):
    """The bot on S3 (moto) with no S3_PUBLIC_BASE_URL: stored URLs are presigned, and expire."""
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-pictures-s3")) as s:
        await s.start_bot()
        yield s


EXPIRED = (
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x%2F20200101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20200101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
)


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, url
        return await response.read()


async def test_s3_cards_link_a_freshly_presigned_url(s3: Stack, session_factory):
    """With S3, /character show and /variant list point the embed at an http(s) URL signed now,
    not at the expired presigned URL stored with the row, and that URL serves the image."""
    member = s3.member(f"percival{next(_n)}")
    user = await user_of(session_factory, member)
    image_key = f"characters/{next(_n)}/portrait.png"
    image = png()
    s3.s3.put_object(s3.bucket, image_key, image, "image/png")
    stale = f"{s3.s3.endpoint_url}/{s3.bucket}/{image_key}{EXPIRED}"
    async with session_factory.begin() as s:
        character = await make_character(
            s, user, image_url=stale, thumbnail_url=None, meta={IMAGE_KEY: image_key}
        )
        theme = await make_theme(s, character, name="Grail")
    variant_key = f"variants/{theme.id}/{next(_n)}.png"
    variant_image = png()
    s3.s3.put_object(s3.bucket, variant_key, variant_image, "image/png")
    async with session_factory.begin() as s:
        s.add(
            ThemeVariant(
                theme_id=theme.id,
                character_id=character.id,
                prompt="holding the grail",
                image_url=f"file:///nowhere/{variant_key}",
                meta={IMAGE_KEY: variant_key},
            )
        )

    shown = await wait_reply(
        await s3.command(member, "character show", {"character": character.id})
    )
    url = shown["embeds"][0]["image"]["url"]
    assert url.startswith(("http://", "https://"))
    assert url != stale
    assert shown["attachments"] == []
    assert await fetch(url) == image

    listed = await wait_reply(await s3.command(member, "variant list", {"theme": theme.id}))
    url = listed["embeds"][0]["image"]["url"]
    assert url.startswith(("http://", "https://"))
    assert await fetch(url) == variant_image
    assert collect_violations(s3) == []
