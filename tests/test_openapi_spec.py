"""The OpenAPI spec the fake Discord validates against: pinned, checksummed, self-sufficient."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests import openapi_spec
from tests.openapi_spec import PINNED_SHA256, PLATFORM_COPY, locate, pinned_json, sha256


def test_committed_copy_has_the_pinned_checksum():
    """tests/data/discord-openapi.json.gz unpacks to the pinned bytes: an OpenAPI 3.1 document."""
    data = pinned_json()
    assert data is not None, "tests/data/discord-openapi.json.gz is missing or not gzip"
    assert sha256(data) == PINNED_SHA256
    spec = json.loads(data)
    assert spec["openapi"].startswith("3.1")
    assert "/interactions/{interaction_id}/{interaction_token}/callback" in spec["paths"]


def test_the_suite_validates_against_the_pinned_copy_wherever_it_runs():
    """No ../shared needed: the spec is found, and it is the pinned copy, unpacked to the cache."""
    spec = locate()
    assert spec.path is not None
    assert spec.path.is_relative_to(openapi_spec.CACHE)
    assert sha256(spec.path.read_bytes()) == PINNED_SHA256
    assert PINNED_SHA256[:12] in spec.source


@pytest.mark.skipif(
    not PLATFORM_COPY.is_file(),
    reason="../shared/discord-api-spec/openapi.json is absent: nothing to compare the pinned "
    "copy with (the tests use the pinned copy)",
)
def test_committed_copy_equals_the_platform_copy():
    """When the platform's copy is there, the pinned one is the same document."""
    assert sha256(PLATFORM_COPY.read_bytes()) == PINNED_SHA256, (
        "../shared has another spec: `python -m tests.openapi_spec refresh` pins it"
    )


def test_a_corrupt_copy_falls_back_to_the_platform_copy_then_skips_with_one_line(
    tmp_path, monkeypatch
):
    """Pinned copy with other bytes -> ../shared's copy; neither -> one line on how to get it."""
    corrupt = tmp_path / "discord-openapi.json.gz"
    corrupt.write_bytes(gzip.compress(b'{"openapi": "3.1.0", "paths": {}}'))
    platform = tmp_path / "shared" / "openapi.json"
    platform.parent.mkdir()
    platform.write_text('{"openapi": "3.1.0", "paths": {}}')
    monkeypatch.setattr(openapi_spec, "PINNED", corrupt)
    monkeypatch.setattr(openapi_spec, "PLATFORM_COPY", platform)

    found = openapi_spec.locate.__wrapped__()
    assert found.path == platform
    assert "../shared" in found.source

    platform.unlink()
    found = openapi_spec.locate.__wrapped__()
    assert found.path is None
    assert "\n" not in found.source
    assert "tests/data/discord-openapi.json.gz" in found.source
    assert "github.com/discord/discord-api-spec" in found.source


def test_refresh_pins_a_new_document_reproducibly(tmp_path):
    """`refresh` compresses byte-for-byte reproducibly and rewrites the checksum in the module."""
    source = tmp_path / "openapi.json"
    source.write_text('{"openapi": "3.1.0", "paths": {"/x": {}}}')
    module = tmp_path / "openapi_spec.py"
    module.write_text(Path(openapi_spec.__file__).read_text())
    pinned = tmp_path / "pinned.json.gz"

    digest = openapi_spec.refresh(source, "ab" * 20, pinned=pinned, module=module)
    first = pinned.read_bytes()
    openapi_spec.refresh(source, pinned=pinned, module=module)

    assert pinned.read_bytes() == first
    assert gzip.decompress(first) == source.read_bytes()
    assert f'PINNED_SHA256 = "{digest}"' in module.read_text()
    assert f'PINNED_COMMIT = "{"ab" * 20}"' in module.read_text()
    assert digest != PINNED_SHA256

    source.write_text("not json")
    with pytest.raises(json.JSONDecodeError):
        openapi_spec.refresh(source, pinned=pinned, module=module)
