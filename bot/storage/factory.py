"""Opens the configured storage for the composition root: S3 when S3_BUCKET is set, else files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aioboto3

from bot.config import Settings
from bot.storage.base import Storage
from bot.storage.local import LocalStorage
from bot.storage.s3 import S3Storage, s3_client_config


@asynccontextmanager
async def open_storage(
    settings: Settings, *, create_bucket: bool = False
) -> AsyncIterator[Storage]:
    """Yield the storage the settings describe, closing the S3 client on exit.

    With S3_BUCKET set: an ``S3Storage`` on an aioboto3 client for S3_ENDPOINT_URL and
    S3_REGION, credentials from the standard AWS variables (or profile / instance role).
    ``create_bucket`` creates a missing bucket (development only). Without S3_BUCKET: a
    ``LocalStorage`` under ``DATA_DIR/images``.

    Raises:
        StorageError: ``create_bucket`` was asked for and S3 refused it.
    """
    if not settings.s3_bucket:
        yield LocalStorage(settings.data_dir / "images")
        return
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        config=s3_client_config(
            endpoint_url=settings.s3_endpoint_url,
            max_pool_connections=max(10, 2 * settings.generation_concurrency),
        ),
    ) as client:
        storage = S3Storage(client, settings.s3_bucket, public_base_url=settings.s3_public_base_url)
        if create_bucket:
            await storage.ensure_bucket()
        yield storage
