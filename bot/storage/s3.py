"""S3 storage: images and thumbnails in a bucket, reached through an open aioboto3 client.

The client is opened (and closed) by the composition root, see ``bot.storage.factory``. Every
failure of botocore, aiohttp or the socket becomes a ``StorageError`` whose ``detail`` names
the operation, the object and the S3 error code; credentials never appear in it.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any, cast

import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import create_loader

from bot.errors import StorageError
from bot.storage.held import HeldBytes

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType

#: The longest validity SigV4 allows for a presigned URL (7 days).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

#: Sent with objects whose key carries a UUID: their bytes never change under that key.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"

_UUID_IN_NAME = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError)


def s3_client_config(
    *,
    endpoint_url: str | None = None,
    connect_timeout: float = 10,
    read_timeout: float = 60,
    max_attempts: int = 3,
    max_pool_connections: int = 10,
) -> AioConfig:
    """The client config S3Storage expects: SigV4 (so presigned URLs are SigV4, valid up to
    7 days), timeouts and retries that fail in seconds rather than minutes, and enough
    connections for every generation in flight to upload its image and thumbnail at once.

    An upload carries no checksum the service does not require, and over HTTPS (AWS when no
    ``endpoint_url`` is given) no hash of its body in the signature either: TLS already
    guards the bytes, and each hash was a pass over a 1 MB portrait on the bot's loop. Many
    S3-compatible stores (older MinIO, R2, B2 …) also refuse the checksums botocore adds by
    default. Over plain HTTP the body stays signed."""
    secure = endpoint_url is None or endpoint_url.lower().startswith("https://")
    return AioConfig(
        signature_version="s3v4",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"payload_signing_enabled": False} if secure else None,
    )


@functools.cache
def endpoint_rule_names(service: str, api_version: str) -> frozenset[str]:
    """The endpoint parameters that ``service``'s endpoint rules read (as a reference or in a
    URL template), from the ruleset botocore ships."""
    ruleset = create_loader().load_service_model(service, "endpoint-rule-set-1", api_version)
    text = json.dumps(ruleset["rules"])
    referenced = set(re.findall(r'"ref": "([^"]+)"', text))
    referenced.update(re.findall(r"\{([A-Za-z0-9_]+)[}#]", text))
    return frozenset(referenced)


def resolve_endpoints_by_what_decides_them(client: Any) -> bool:
    """Make ``client`` resolve an S3 request's endpoint once per bucket, not once per object.

    botocore runs its endpoint rules for every request and caches the result by every
    parameter the operation carries, the object's key included; no S3 rule reads the key, but
    every new key missed the cache and ran the rules again: for each upload and each presigned
    URL, four times per portrait (1.2 ms of CPU per portrait, measured). The parameters no rule
    reads are left out, so the cache answers. Returns False (and changes nothing) on a botocore
    without that resolver.
    """
    resolver = getattr(client, "_ruleset_resolver", None)
    definitions = getattr(resolver, "_param_definitions", None)
    if resolver is None or not isinstance(definitions, dict):
        return False
    model = client.meta.service_model
    try:
        read = endpoint_rule_names(model.service_name, model.api_version)
    except (BotoCoreError, KeyError):  # no ruleset shipped for it: leave the client as it is
        return False
    resolver._param_definitions = {k: v for k, v in definitions.items() if k in read}
    return True


def is_immutable_key(key: str) -> bool:
    """Whether the key's file name carries a UUID (so the object is never overwritten)."""
    return _UUID_IN_NAME.search(key.rsplit("/", 1)[-1]) is not None


def _describe(exc: BaseException) -> str:
    """A log-safe description of an S3 failure: the error code, never request details."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        code = error.get("Code", "?")
        message = str(error.get("Message", ""))[:200]
        return f"{code} (HTTP {status}){': ' + message if message else ''}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Storage:
    """The Storage protocol on an S3 bucket (AWS, MinIO, R2, moto ...).

    ``put`` returns ``f"{public_base_url}/{key}"`` when a public base URL (a CDN or a public
    bucket) is configured, else a presigned GET URL valid for ``presign_seconds``. Presigned
    URLs expire, so production deployments should set S3_PUBLIC_BASE_URL; ``url()`` signs a
    fresh one for a stored key. Open the client with ``config=s3_client_config()``: botocore
    otherwise presigns S3 URLs with the legacy SigV2 scheme.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        public_base_url: str | None,
        presign_seconds: int = MAX_PRESIGN_SECONDS,
    ) -> None:
        if not 1 <= presign_seconds <= MAX_PRESIGN_SECONDS:
            msg = f"presign_seconds must be between 1 and {MAX_PRESIGN_SECONDS}"
            raise ValueError(msg)
        self._client = client
        resolve_endpoints_by_what_decides_them(client)
        self._bucket = bucket
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._presign_seconds = presign_seconds

    @property
    def bucket(self) -> str:
        """The bucket objects are stored in."""
        return self._bucket

    def _fail(self, operation: str, key: str, exc: BaseException) -> StorageError:
        return StorageError(f"S3 {operation} s3://{self._bucket}/{key} failed: {_describe(exc)}")

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Upload ``data`` with its content type and return its URL.

        Raises:
            StorageError: the upload (or signing the URL) failed.
        """
        try:
            body = HeldBytes(data)  # botocore would make it an io.BytesIO, which is copied
            if is_immutable_key(key):
                await self._client.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    CacheControl=IMMUTABLE_CACHE_CONTROL,
                )
            else:
                await self._client.put_object(
                    Bucket=self._bucket, Key=key, Body=body, ContentType=content_type
                )
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise self._fail("put", key, exc) from exc
        return await self.url(key)

    async def url(self, key: str) -> str:
        """The public URL of ``key``, or a freshly presigned GET URL.

        Raises:
            StorageError: signing failed (no credentials, say).
        """
        if self._public_base_url is not None:
            return f"{self._public_base_url}/{key}"
        try:
            return await self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=self._presign_seconds,
            )
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise self._fail("presign", key, exc) from exc

    async def temporary_url(self, key: str, seconds: int) -> str:
        """A GET URL of ``key`` that stops working after ``seconds`` (the public URL instead,
        when the bucket is public: it never expires).

        Raises:
            StorageError: signing failed.
        """
        if self._public_base_url is not None:
            return f"{self._public_base_url}/{key}"
        seconds = max(1, min(int(seconds), MAX_PRESIGN_SECONDS))
        try:
            return await self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=seconds
            )
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise self._fail("presign", key, exc) from exc

    async def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (all pages).

        Raises:
            StorageError: S3 is unreachable or refuses the listing.
        """
        keys: list[str] = []
        token: str | None = None
        try:
            while True:
                if token is None:
                    page = await self._client.list_objects_v2(Bucket=self._bucket, Prefix=prefix)
                else:
                    page = await self._client.list_objects_v2(
                        Bucket=self._bucket, Prefix=prefix, ContinuationToken=token
                    )
                keys += [item["Key"] for item in page.get("Contents", []) if "Key" in item]
                if not page.get("IsTruncated"):
                    return keys
                token = page.get("NextContinuationToken")
                if not token:
                    return keys
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise self._fail("list", prefix, exc) from exc

    async def get(self, key: str) -> bytes:
        """Download an object.

        Raises:
            StorageError: the object is missing or S3 is unreachable.
        """
        try:
            response = await self._client.get_object(Bucket=self._bucket, Key=key)
            async with response["Body"] as body:
                return await body.read()
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise self._fail("get", key, exc) from exc

    async def delete(self, key: str) -> None:
        """Delete an object; a missing key is not an error.

        Raises:
            StorageError: the bucket is missing or S3 is unreachable.
        """
        try:
            await self._client.delete_object(Bucket=self._bucket, Key=key)
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise self._fail("delete", key, exc) from exc

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored (False for a missing key or bucket).

        Raises:
            StorageError: S3 is unreachable or refuses access.
        """
        try:
            await self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                return False
            raise self._fail("head", key, exc) from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._fail("head", key, exc) from exc
        return True

    async def ensure_bucket(self) -> bool:
        """Create the bucket when it does not exist (for development and tests).

        Returns True when it was created. Raises: StorageError.
        """
        try:
            await self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            if _error_code(exc) not in _NOT_FOUND_CODES:
                raise self._fail("head-bucket", "", exc) from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._fail("head-bucket", "", exc) from exc
        else:
            return False
        region = self._client.meta.region_name
        try:
            if region and region != "us-east-1":
                await self._client.create_bucket(
                    Bucket=self._bucket,
                    CreateBucketConfiguration={
                        "LocationConstraint": cast("BucketLocationConstraintType", region)
                    },
                )
            else:
                await self._client.create_bucket(Bucket=self._bucket)
        except ClientError as exc:
            if _error_code(exc) in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                return False
            raise self._fail("create-bucket", "", exc) from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._fail("create-bucket", "", exc) from exc
        return True
