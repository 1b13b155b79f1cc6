"""Storage backends (S3 through real aioboto3 against moto, local files) and image handling."""

from __future__ import annotations

import hashlib
import io
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aioboto3
import aiohttp
import pytest
from PIL import Image

from bot.config import Settings
from bot.errors import InvalidInputError, StorageError
from bot.storage.factory import open_storage
from bot.storage.images import (
    image_key,
    make_thumbnail,
    png_dimensions,
    sniff_image,
    thumbnail_key,
    validate_reference_image,
    variant_key,
)
from bot.storage.local import LocalStorage
from bot.storage.s3 import (
    IMMUTABLE_CACHE_CONTROL,
    MAX_PRESIGN_SECONDS,
    S3Storage,
    endpoint_rule_names,
    s3_client_config,
)
from tests.fakes.s3 import MotoS3, moto_s3_fixture, unique_bucket

moto_s3 = moto_s3_fixture()

ACCESS_KEY = "AKIATESTSTORAGE00001"
SECRET_KEY = "sEcReT-must-never-appear-in-errors-0123456789"
CHAR_ID = "0b7f9a52-3c1e-4d2a-9f00-1234567890ab"


# ---------------------------------------------------------------- helpers


def _client_ctx(endpoint_url: str) -> Any:
    session = aioboto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        config=s3_client_config(
            endpoint_url=endpoint_url, connect_timeout=2, read_timeout=5, max_attempts=1
        ),
    )


def _image_bytes(
    fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: Any
) -> bytes:
    img = Image.new(mode, size, (200, 30, 60, 128)[: len(mode)] if mode != "L" else 128)
    out = io.BytesIO()
    img.save(out, format=fmt, **save)
    return out.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- S3 fixtures


@pytest.fixture
async def s3_client(moto_s3: MotoS3) -> AsyncIterator[Any]:
    async with _client_ctx(moto_s3.endpoint_url) as client:
        yield client


@pytest.fixture
def bucket(moto_s3: MotoS3) -> str:
    return moto_s3.create_bucket(unique_bucket())


# ---------------------------------------------------------------- S3Storage


async def test_s3_put_stores_bytes_with_content_type_and_returns_public_url(
    moto_s3: MotoS3, s3_client: Any, bucket: str
) -> None:
    """put uploads the bytes with their content type and returns <public base>/<key>."""
    storage = S3Storage(s3_client, bucket, public_base_url="https://cdn.example.com/img/")
    key = image_key(CHAR_ID)
    png = _image_bytes("PNG")

    url = await storage.put(key, png, "image/png")

    assert url == f"https://cdn.example.com/img/{key}"
    assert moto_s3.list_keys(bucket) == [key]
    assert moto_s3.get_object(bucket, key) == (png, "image/png")


def _put_headers(client: Any) -> list[dict[str, str]]:
    """The headers of every PutObject request the client sends from now on, as sent."""
    sent: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(
            {
                k.lower(): v.decode() if isinstance(v, bytes) else str(v)
                for k, v in request.headers.items()
            }
        )

    client.meta.events.register("before-send.s3.PutObject", record)
    return sent


async def test_s3_put_adds_no_checksum_the_store_does_not_require(
    moto_s3: MotoS3, s3_client: Any, bucket: str
) -> None:
    """An upload carries no x-amz-checksum-* header (a pass over the portrait, and refused by
    several S3-compatible stores); over plain HTTP its body is still signed (a real SHA-256 of
    it), and the bytes arrive whole."""
    sent = _put_headers(s3_client)
    storage = S3Storage(s3_client, bucket, public_base_url=None)
    png = _image_bytes("PNG")
    key = image_key(CHAR_ID)
    await storage.put(key, png, "image/png")
    assert len(sent) == 1
    assert not [
        h for h in sent[0] if h.startswith("x-amz-checksum") or h == "x-amz-sdk-checksum-algorithm"
    ]
    assert sent[0]["x-amz-content-sha256"] == hashlib.sha256(png).hexdigest()
    assert moto_s3.get_object(bucket, key) == (png, "image/png")


async def test_s3_put_sends_the_portrait_without_a_copy_of_it(
    moto_s3: MotoS3, s3_client: Any, bucket: str
) -> None:
    """The body that leaves is a view of the caller's bytes, not a copy: botocore would wrap
    bytes in an io.BytesIO, which aiohttp copies whole when it asks for its length."""
    bodies: list[Any] = []

    def record(request: Any, **_: Any) -> None:
        bodies.append(request.body)

    s3_client.meta.events.register("before-send.s3.PutObject", record)
    storage = S3Storage(s3_client, bucket, public_base_url=None)
    png = _image_bytes("PNG")
    key = image_key(CHAR_ID)
    await storage.put(key, png, "image/png")
    assert len(bodies) == 1
    assert bodies[0].getbuffer().obj is png
    assert moto_s3.get_object(bucket, key) == (png, "image/png")


async def test_s3_put_over_https_does_not_hash_the_body() -> None:
    """Over HTTPS (and to AWS itself) the signature covers no hash of the body: TLS guards it.
    The request is signed and stopped before it leaves (nothing listens there)."""
    session = aioboto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )
    endpoint = "https://s3.invalid.example"
    async with session.client(
        "s3",
        endpoint_url=endpoint,
        config=s3_client_config(endpoint_url=endpoint, connect_timeout=1, max_attempts=1),
    ) as client:
        sent = _put_headers(client)

        def stop(**_: Any) -> None:
            raise _Stopped

        client.meta.events.register("before-send.s3.PutObject", stop)
        with pytest.raises(_Stopped):
            await client.put_object(Bucket="b", Key="k.png", Body=b"x" * 100_000)
    assert sent[0]["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert not [h for h in sent[0] if h.startswith("x-amz-checksum")]


class _Stopped(Exception):
    """Raised where the request would be sent."""


async def test_s3_put_marks_uuid_keys_immutable_only(
    moto_s3: MotoS3, s3_client: Any, bucket: str
) -> None:
    """Objects under UUID keys get a one-year immutable Cache-Control; other keys get none."""
    storage = S3Storage(s3_client, bucket, public_base_url="https://cdn.example.com")
    key = image_key(CHAR_ID)
    await storage.put(key, b"x", "image/png")
    await storage.put("exports/latest.json", b"{}", "application/json")

    assert moto_s3.head_object(bucket, key).get("CacheControl") == IMMUTABLE_CACHE_CONTROL
    assert "CacheControl" not in moto_s3.head_object(bucket, "exports/latest.json")


async def test_s3_put_without_public_base_returns_working_presigned_url(
    s3_client: Any, bucket: str
) -> None:
    """Without a public base URL, put returns a 7-day presigned GET URL that serves the bytes."""
    storage = S3Storage(s3_client, bucket, public_base_url=None)
    key = thumbnail_key(image_key(CHAR_ID))
    webp = _image_bytes("WEBP")

    url = await storage.put(key, webp, "image/webp")

    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == [str(MAX_PRESIGN_SECONDS)]
    assert urlsplit(url).path.endswith(key)
    assert SECRET_KEY not in url
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/webp"
        assert await response.read() == webp


def test_s3_endpoint_rules_do_not_read_the_object_key() -> None:
    """The premise of resolving endpoints per bucket: botocore's S3 rules read the bucket and
    the client's settings, never the key (a botocore whose rules did would fail here)."""
    read = endpoint_rule_names("s3", "2006-03-01")
    assert {"Bucket", "Region", "Endpoint", "ForcePathStyle"} <= read
    assert not {"Key", "Prefix", "CopySource"} & read


async def test_s3_objects_under_new_keys_reuse_their_buckets_endpoint(
    moto_s3: MotoS3, s3_client: Any, bucket: str
) -> None:
    """Uploading and presigning objects under ten new keys runs the endpoint rules at most
    once (before: once per request, the key being part of the cache's key); every object still
    lands in its bucket and its presigned URL serves it."""
    storage = S3Storage(s3_client, bucket, public_base_url=None)
    resolve = s3_client._ruleset_resolver._provider.resolve_endpoint
    png = _image_bytes("PNG")
    await storage.put(image_key(str(uuid.uuid4())), png, "image/png")
    misses = resolve.cache_info().misses

    keys = [image_key(str(uuid.uuid4())) for _ in range(10)]
    urls = [await storage.put(key, png, "image/png") for key in keys]

    assert resolve.cache_info().misses - misses == 0
    assert set(keys) <= set(moto_s3.list_keys(bucket))
    async with aiohttp.ClientSession() as http:
        for key, url in zip(keys, urls, strict=True):
            assert urlsplit(url).path.endswith(key)
            async with http.get(url) as response:
                assert response.status == 200
                assert await response.read() == png


async def test_s3_get_exists_delete_round_trip(s3_client: Any, bucket: str) -> None:
    """get returns what put stored; delete removes it; exists follows; deleting twice is fine."""
    storage = S3Storage(s3_client, bucket, public_base_url=None)
    key = image_key(CHAR_ID)
    assert await storage.exists(key) is False

    await storage.put(key, b"payload", "image/png")
    assert await storage.exists(key) is True
    assert await storage.get(key) == b"payload"

    await storage.delete(key)
    assert await storage.exists(key) is False
    await storage.delete(key)


async def test_s3_get_missing_key_raises_storage_error(s3_client: Any, bucket: str) -> None:
    """Reading a key that was never stored raises StorageError naming NoSuchKey."""
    storage = S3Storage(s3_client, bucket, public_base_url=None)

    with pytest.raises(StorageError) as info:
        await storage.get("characters/nope/missing.png")

    assert "NoSuchKey" in info.value.detail


async def test_s3_missing_bucket_raises_storage_error_without_secret(s3_client: Any) -> None:
    """put/get/delete on a missing bucket raise StorageError whose text holds no secret key."""
    storage = S3Storage(s3_client, unique_bucket("absent"), public_base_url=None)

    for call in (
        storage.put("a/b.png", b"x", "image/png"),
        storage.get("a/b.png"),
        storage.delete("a/b.png"),
    ):
        with pytest.raises(StorageError) as info:
            await call
        assert "NoSuchBucket" in info.value.detail
        for text in (str(info.value), info.value.detail, repr(info.value)):
            assert SECRET_KEY not in text
        assert str(info.value) == "I couldn't save the image. Please try again."


async def test_s3_stopped_server_raises_storage_error_without_secret() -> None:
    """Every operation against a stopped S3 server raises StorageError without the secret key."""
    server = MotoS3()
    server.start()
    endpoint = server.endpoint_url
    server.stop()

    async with _client_ctx(endpoint) as client:
        storage = S3Storage(client, "whatever", public_base_url="https://cdn.example.com")
        for call in (
            storage.put("a/b.png", b"x", "image/png"),
            storage.get("a/b.png"),
            storage.delete("a/b.png"),
            storage.exists("a/b.png"),
            storage.ensure_bucket(),
        ):
            with pytest.raises(StorageError) as info:
                await call
            assert "EndpointConnectionError" in info.value.detail
            assert SECRET_KEY not in info.value.detail
            assert SECRET_KEY not in str(info.value)


async def test_s3_ensure_bucket_creates_once(moto_s3: MotoS3, s3_client: Any) -> None:
    """ensure_bucket creates a missing bucket, then reports it already exists."""
    name = unique_bucket("ensure")
    storage = S3Storage(s3_client, name, public_base_url=None)

    assert await storage.ensure_bucket() is True
    assert moto_s3.bucket_exists(name)
    assert await storage.ensure_bucket() is False


def test_s3_presign_seconds_over_seven_days_is_refused() -> None:
    """presign_seconds beyond SigV4's 7-day maximum is a ValueError at construction."""
    with pytest.raises(ValueError, match="presign_seconds"):
        S3Storage(object(), "b", public_base_url=None, presign_seconds=MAX_PRESIGN_SECONDS + 1)  # type: ignore[arg-type]


# ---------------------------------------------------------------- factory


async def test_open_storage_without_bucket_is_local_under_data_dir(tmp_path: Path) -> None:
    """Without S3_BUCKET, open_storage yields LocalStorage rooted at DATA_DIR/images."""
    settings = Settings(_env_file=None, data_dir=tmp_path, s3_bucket=None)

    async with open_storage(settings) as storage:
        assert isinstance(storage, LocalStorage)
        await storage.put("characters/x/a.png", b"data", "image/png")

    assert (tmp_path / "images" / "characters" / "x" / "a.png").read_bytes() == b"data"


async def test_open_storage_with_bucket_uses_s3_and_env_credentials(
    moto_s3: MotoS3, tmp_path: Path
) -> None:
    """With S3_BUCKET, open_storage yields S3Storage on the endpoint, using env credentials."""
    name = unique_bucket("factory")
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        s3_bucket=name,
        s3_endpoint_url=moto_s3.endpoint_url,
        s3_region="us-east-1",
        s3_public_base_url="https://cdn.example.com",
    )

    async with open_storage(settings, create_bucket=True) as storage:
        assert isinstance(storage, S3Storage)
        url = await storage.put("characters/x/a.png", b"data", "image/png")

    assert url == "https://cdn.example.com/characters/x/a.png"
    assert moto_s3.get_object(name, "characters/x/a.png") == (b"data", "image/png")


# ---------------------------------------------------------------- LocalStorage


async def test_local_round_trip_with_file_uri(tmp_path: Path) -> None:
    """LocalStorage stores, overwrites, reads, deletes, and returns the file:// URI of the file."""
    storage = LocalStorage(tmp_path / "images")
    key = image_key(CHAR_ID)

    url = await storage.put(key, b"first", "image/png")
    await storage.put(key, b"second", "image/png")

    path = (tmp_path / "images" / key).resolve()
    assert url == path.as_uri()
    assert await storage.get(key) == b"second"
    assert await storage.exists(key) is True
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left
    await storage.delete(key)
    assert await storage.exists(key) is False
    await storage.delete(key)
    with pytest.raises(StorageError):
        await storage.get(key)


@pytest.mark.parametrize(
    "key",
    [
        "../escape.png",
        "a/../../escape.png",
        "/etc/passwd",
        "a/./b.png",
        "",
        "a//b",
        "a\\..\\b",
        "C:/x",
    ],
)
async def test_local_rejects_path_traversal_keys(tmp_path: Path, key: str) -> None:
    """Keys with '..', '.', absolute paths, backslashes or empty segments are refused."""
    storage = LocalStorage(tmp_path / "images")

    with pytest.raises(StorageError) as info:
        await storage.put(key, b"x", "image/png")
    assert "unsafe" in info.value.detail
    with pytest.raises(StorageError):
        await storage.get(key)

    assert not (tmp_path / "escape.png").exists()


async def test_local_rejects_symlink_escaping_root(tmp_path: Path) -> None:
    """A symlink inside the store that points outside it cannot be written through."""
    root = tmp_path / "images"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    storage = LocalStorage(root)

    with pytest.raises(StorageError) as info:
        await storage.put("link/x.png", b"x", "image/png")
    assert "outside" in info.value.detail

    assert list(outside.iterdir()) == []


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
async def test_validate_accepts_supported_images(fmt: str, mime: str) -> None:
    """Real PNG, JPEG, WebP and GIF images are accepted and returned unchanged with their MIME."""
    data = _image_bytes(fmt, (300, 200))

    assert sniff_image(data) == mime
    assert await validate_reference_image(data) == (data, mime)


async def test_validate_rejects_text_posing_as_png() -> None:
    """A text file (even one starting with the PNG signature) is not an image."""
    for data in (b"hello, I am a text file named photo.png\n", b"\x89PNG\r\n\x1a\nnot really"):
        with pytest.raises(InvalidInputError) as info:
            await validate_reference_image(data)
        assert info.value.reason_key == "invalid.image.not_image"


async def test_validate_rejects_truncated_png() -> None:
    """A PNG cut in half fails the full decode."""
    data = _image_bytes("PNG", (400, 400), mode="RGB", compress_level=0)

    with pytest.raises(InvalidInputError) as info:
        await validate_reference_image(data[: len(data) // 2])

    assert info.value.reason_key == "invalid.image.not_image"


async def test_validate_rejects_over_ten_megabytes() -> None:
    """Anything over 10 MB is refused by size, before decoding."""
    data = _image_bytes("PNG") + b"\x00" * (10 * 1024 * 1024)

    with pytest.raises(InvalidInputError) as info:
        await validate_reference_image(data)

    assert info.value.reason_key == "invalid.image.too_large"
    assert info.value.params["max_mb"] == 10
    assert "10 MB" in str(info.value)


async def test_validate_rejects_side_over_4096() -> None:
    """A real 5000 px wide image is refused for its dimensions."""
    data = _image_bytes("PNG", (5000, 8))

    with pytest.raises(InvalidInputError) as info:
        await validate_reference_image(data)

    assert info.value.reason_key == "invalid.image.dimensions_too_large"
    assert info.value.params["width"] == 5000


async def test_validate_rejects_decompression_bomb() -> None:
    """A tiny PNG whose header claims a huge size is refused without decoding it."""
    limit_before = Image.MAX_IMAGE_PIXELS
    bomb = _bomb_png(100_000, 100_000)
    assert len(bomb) < 200
    assert png_dimensions(bomb) == (100_000, 100_000)

    for kwargs in ({}, {"max_side": 1_000_000}):
        with pytest.raises(InvalidInputError) as info:
            await validate_reference_image(bomb, **kwargs)
        assert info.value.reason_key == "invalid.image.too_many_pixels"

    assert limit_before == Image.MAX_IMAGE_PIXELS


async def test_validate_rejects_bomb_below_side_limit_by_pixel_count() -> None:
    """With a generous side limit, the pixel cap (Pillow's bomb threshold) still refuses."""
    with pytest.raises(InvalidInputError) as info:
        await validate_reference_image(_bomb_png(20_000, 20_000), max_side=50_000)

    assert info.value.reason_key == "invalid.image.too_many_pixels"


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
async def test_validate_rejects_unsupported_format(fmt: str) -> None:
    """Real BMP and TIFF images are refused as unsupported formats, naming the format."""
    with pytest.raises(InvalidInputError) as info:
        await validate_reference_image(_image_bytes(fmt))

    assert info.value.reason_key == "invalid.image.unsupported_format"
    assert info.value.params["format"] == fmt
    assert fmt in str(info.value)


@pytest.fixture(params=["libvips", "pillow"])
def thumbnailer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each thumbnail test runs with libvips (when its wheel is installed) and with Pillow."""
    from bot.storage import vips

    if request.param == "libvips" and not vips.AVAILABLE:
        pytest.skip("pyvips is not installed")
    monkeypatch.setattr(vips, "AVAILABLE", request.param == "libvips")
    return str(request.param)


@pytest.mark.parametrize(("size", "expected"), [((800, 400), (256, 128)), ((300, 900), (85, 256))])
async def test_thumbnail_is_webp_with_256_longer_side(
    size: tuple[int, int], expected: tuple[int, int], thumbnailer: str
) -> None:
    """make_thumbnail returns a WebP whose longer side is 256 px, aspect ratio kept."""
    thumb = await make_thumbnail(_image_bytes("JPEG", size))

    assert sniff_image(thumb) == "image/webp"
    with Image.open(io.BytesIO(thumb)) as img:
        assert img.format == "WEBP"
        assert img.size == expected


async def test_thumbnail_of_a_small_image_is_not_enlarged(thumbnailer: str) -> None:
    thumb = await make_thumbnail(_image_bytes("PNG", (64, 40)))
    with Image.open(io.BytesIO(thumb)) as img:
        assert img.format == "WEBP"
        assert img.size == (64, 40)


async def test_thumbnail_keeps_transparency(thumbnailer: str) -> None:
    """An RGBA source yields an RGBA thumbnail with its transparent pixels still transparent."""
    source = Image.new("RGBA", (512, 512), (255, 0, 0, 0))
    source.paste((0, 0, 255, 255), (0, 0, 256, 512))
    buffer = io.BytesIO()
    source.save(buffer, format="PNG")

    thumb = await make_thumbnail(buffer.getvalue())

    with Image.open(io.BytesIO(thumb)) as img:
        assert img.mode == "RGBA"
        assert img.size == (256, 256)
        assert img.getpixel((250, 128))[3] == 0  # type: ignore[index]
        assert img.getpixel((5, 128))[3] == 255  # type: ignore[index]


async def test_thumbnail_applies_exif_orientation(thumbnailer: str) -> None:
    """A landscape JPEG tagged 'rotate 90°' (orientation 6) becomes a portrait thumbnail."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _image_bytes("JPEG", (400, 200), exif=exif.tobytes())

    thumb = await make_thumbnail(data)

    with Image.open(io.BytesIO(thumb)) as img:
        assert img.size == (128, 256)


async def test_thumbnail_of_non_image_is_invalid_input(thumbnailer: str) -> None:
    """make_thumbnail on bytes that are not an image raises InvalidInputError."""
    with pytest.raises(InvalidInputError) as info:
        await make_thumbnail(b"definitely not an image")

    assert info.value.reason_key == "invalid.image.not_image"


@pytest.mark.parametrize(
    ("mode", "size"),
    [("I;16", (600, 300)), ("L", (1024, 1024)), ("P", (300, 500)), ("CMYK", (512, 256))],
)
async def test_thumbnail_of_any_depth_or_colour_space_is_8_bit_rgb(
    thumbnailer: str, mode: str, size: tuple[int, int]
) -> None:
    """16-bit, grey, palette and CMYK sources all give an 8-bit RGB WebP of the same size with
    either thumbnailer, and a PNG truncated mid-image is refused as not an image."""
    source = Image.linear_gradient("L").resize(size).convert(mode)
    buffer = io.BytesIO()
    source.save(buffer, format="JPEG" if mode == "CMYK" else "PNG")

    thumb = await make_thumbnail(buffer.getvalue())

    with Image.open(io.BytesIO(thumb)) as img:
        assert img.mode == "RGB"
        longer = max(size)
        assert img.size == (round(size[0] * 256 / longer), round(size[1] * 256 / longer))
        assert img.getpixel((img.width // 2, img.height // 2)) != (0, 0, 0)
    with pytest.raises(InvalidInputError):
        await make_thumbnail(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def test_keys_follow_the_character_folder_layout() -> None:
    """Image, thumbnail and variant keys live under characters/<id>/ with fresh UUID names."""
    key = image_key(CHAR_ID)
    folder, name = key.rsplit("/", 1)
    assert folder == f"characters/{CHAR_ID}"
    assert name.endswith(".png")
    assert len(name) == 36 + 4
    assert image_key(CHAR_ID) != key
    assert image_key(CHAR_ID, "JPG").endswith(".jpg")

    assert thumbnail_key(key) == f"{folder}/{name[:-4]}_thumb.webp"

    variant = variant_key(CHAR_ID, "Summer Vibes! ☀")
    assert variant.startswith(f"characters/{CHAR_ID}/variants/summer-vibes-")
    assert variant.endswith(".png")
    assert variant_key(CHAR_ID, "☀☀").startswith(f"characters/{CHAR_ID}/variants/")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "x" * 65])
def test_keys_refuse_unsafe_character_ids(bad: str) -> None:
    """A character id that could escape its folder is a ValueError."""
    with pytest.raises(ValueError, match="unsafe"):
        image_key(bad)
