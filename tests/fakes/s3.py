"""A real S3 endpoint for tests: moto's threaded server on 127.0.0.1 with a free port.

Usage from any test module or conftest::

    from tests.fakes.s3 import moto_s3_fixture
    moto_s3 = moto_s3_fixture()          # a session-scoped fixture named "moto_s3"

While the server runs, the process has dummy AWS credentials in its environment (so
``aioboto3.Session()`` with the default chain, as the bot's factory uses, signs requests) and
shared config/credential files are pointed at /dev/null so a developer's ~/.aws profile is
never read. ``stop()`` restores the previous environment exactly.

moto keeps its state per process, not per server: use a fresh bucket name per test
(``unique_bucket()``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def unique_bucket(prefix: str = "test") -> str:
    """A bucket name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class MotoS3:
    """moto's S3 server in a thread, plus a synchronous boto3 client to inspect it."""

    region = "us-east-1"

    def __init__(self) -> None:
        self._server: ThreadedMotoServer | None = None
        self._saved_env: dict[str, str | None] = {}
        self._endpoint_url: str | None = None
        self._client: Any = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        if self._endpoint_url is None:
            msg = "MotoS3 is not started"
            raise RuntimeError(msg)
        return self._endpoint_url

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    def start(self) -> None:
        """Set the dummy credentials and start the server on a free loopback port."""
        if self._server is not None:
            return
        self._saved_env = {name: os.environ.get(name) for name in DUMMY_ENV}
        for name, value in DUMMY_ENV.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{host}:{port}"
        self._client = boto3.client(
            "s3",
            endpoint_url=self._endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    def stop(self) -> None:
        """Stop the server and restore the environment as it was before ``start()``."""
        if self._server is None:
            return
        self._server.stop()
        self._server = None
        self._client = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def _boto(self) -> Any:
        if self._client is None:
            msg = "MotoS3 is not started"
            raise RuntimeError(msg)
        return self._client

    def create_bucket(self, name: str) -> str:
        """Create a bucket and return its name."""
        self._boto().create_bucket(Bucket=name)
        return name

    def make_public(self, bucket: str) -> str:
        """Let anyone read the bucket's objects (a bucket policy, as a public bucket behind
        S3_PUBLIC_BASE_URL has); returns its public base URL (path-style)."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
        self._boto().put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        return f"{self.endpoint_url}/{bucket}"

    def bucket_exists(self, name: str) -> bool:
        """Whether the bucket exists."""
        names = {b["Name"] for b in self._boto().list_buckets().get("Buckets", [])}
        return name in names

    def list_keys(self, bucket: str) -> list[str]:
        """Every key in the bucket, sorted."""
        keys: list[str] = []
        paginator = self._boto().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def put_object(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """Store an object directly (to arrange a test)."""
        self._boto().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def get_object(self, bucket: str, key: str) -> tuple[bytes, str]:
        """An object's bytes and content type."""
        response = self._boto().get_object(Bucket=bucket, Key=key)
        return response["Body"].read(), response.get("ContentType", "")

    def head_object(self, bucket: str, key: str) -> dict[str, Any]:
        """An object's metadata (ContentType, CacheControl, ContentLength ...)."""
        return dict(self._boto().head_object(Bucket=bucket, Key=key))


def moto_s3_fixture(
    scope: Any = "session", name: str = "moto_s3"
) -> Callable[[], Iterator[MotoS3]]:
    """A pytest fixture (default: session-scoped, named ``moto_s3``) yielding a started MotoS3."""

    @pytest.fixture(scope=scope, name=name)
    def _moto_s3() -> Iterator[MotoS3]:
        server = MotoS3()
        server.start()
        try:
            yield server
        finally:
            server.stop()

    return _moto_s3
