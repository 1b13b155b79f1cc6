"""Typed settings read from the environment and ``.env``; they fail fast with a clear message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ART_STYLES: tuple[str, ...] = (
    "realistic",
    "anime",
    "cartoon",
    "fantasy",
    "cyberpunk",
    "vintage",
    "minimalist",
)
TIERS: tuple[str, ...] = ("FREE", "PREMIUM", "PRO", "ENTERPRISE")

_PLACEHOLDERS = {"", "changeme", "change-me", "your-token-here", "your_token_here", "xxx", "todo"}


class ConfigError(Exception):
    """The configuration is missing or malformed; the message names the variable to set."""


class Settings(BaseSettings):
    """Every variable of the bot, with the defaults of the design document."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr | None = None
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_dev_guild_id: int | None = None
    message_content_intent: bool = False
    """The operator enabled the privileged Message Content intent in the developer portal:
    every message of a character's owner in its conversation counts, mention or not."""

    database_url: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_max_overflow: int = Field(default=20, ge=0, le=500)
    data_dir: Path = Path("./data")

    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    gemini_image_model: str = "gemini-2.5-flash-image"
    gemini_text_model: str = "gemini-2.5-flash"
    gemini_timeout_seconds: float = Field(default=90.0, gt=0)
    gemini_max_retries: int = Field(default=3, ge=0, le=10)
    # a busy provider (429/503 with Retry-After) is waited out this long; within the 15-minute
    # interaction token, so the member still gets the result in place
    gemini_wait_seconds: float = Field(default=300.0, ge=0, le=840)
    gemini_requests_per_minute: int | None = Field(default=None, ge=1)
    gemini_rate_window_seconds: float = Field(default=60.0, gt=0, le=3600)
    # the likeness score (0-100) below which a new image is drawn once more; 0 = no check
    consistency_threshold: int = Field(default=60, ge=0, le=100)

    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_public_base_url: str | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped from outside the container

    generation_concurrency: int = Field(default=8, ge=0, le=1000)
    """Generations this process's worker runs at once; 0: this process runs none (the
    gateway only, with ``charbot worker`` processes doing the work)."""
    job_heartbeat_seconds: float = Field(default=30.0, gt=0)
    """A generation whose worker has not been heard of for this long is taken up again."""
    generation_max_attempts: int = Field(default=3, ge=1)
    """How often a generation is taken up before it is failed and refunded."""
    shutdown_grace_seconds: float = Field(default=60.0, ge=0)
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: str | None = None
    stale_generation_minutes: int = Field(default=20, ge=1)
    sweep_interval_seconds: int = Field(default=300, ge=5)

    platform_moderator_ids: str | None = None

    quota_free: int = Field(default=3, ge=0)
    quota_premium: int = Field(default=20, ge=0)
    quota_pro: int = Field(default=100, ge=0)
    quota_enterprise: int = Field(default=1000, ge=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "discord_token",
        "gemini_api_key",
        "database_url",
        "s3_bucket",
        "gemini_base_url",
        "s3_endpoint_url",
        "s3_region",
        "s3_public_base_url",
        "discord_dev_guild_id",
        "shard_count",
        "metrics_port",
        "gemini_requests_per_minute",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == "":
            return None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw.startswith(("postgresql://", "postgres://")):
            raw = "postgresql+asyncpg://" + raw.split("://", 1)[1]
        if not raw.startswith("postgresql+asyncpg://"):
            msg = "DATABASE_URL must start with postgresql+asyncpg:// (or postgresql://)"
            raise ValueError(msg)
        return SecretStr(raw)

    @property
    def shard_id_list(self) -> list[int] | None:
        """SHARD_IDS ("0,1") as a list, or None for all shards."""
        if not self.shard_ids:
            return None
        return [int(part) for part in self.shard_ids.split(",") if part.strip()]

    @property
    def platform_moderator_id_set(self) -> frozenset[int]:
        """PLATFORM_MODERATOR_IDS ("123,456") as Discord user ids."""
        if not self.platform_moderator_ids:
            return frozenset()
        return frozenset(int(p) for p in self.platform_moderator_ids.split(",") if p.strip())

    @field_validator("platform_moderator_ids")
    @classmethod
    def _platform_moderator_ids(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            msg = "PLATFORM_MODERATOR_IDS must be comma-separated Discord user ids, e.g. 123,456"
            raise ValueError(msg)
        return ",".join(parts)

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            msg = "SHARD_IDS must be comma-separated shard numbers, e.g. 0,1"
            raise ValueError(msg)
        return ",".join(parts)

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        ids = self.shard_id_list
        if ids is None:
            return self
        if self.shard_count is None:
            msg = "SHARD_IDS needs SHARD_COUNT: set SHARD_COUNT to the total number of shards"
            raise ValueError(msg)
        too_big = [i for i in ids if i >= self.shard_count]
        if too_big:
            msg = (
                f"SHARD_IDS {','.join(map(str, too_big))} not below SHARD_COUNT "
                f"({self.shard_count}): shard ids run from 0 to SHARD_COUNT-1"
            )
            raise ValueError(msg)
        return self

    def quota_for_tier(self, tier: str) -> int:
        """The daily quota a subscription tier gets."""
        return {
            "FREE": self.quota_free,
            "PREMIUM": self.quota_premium,
            "PRO": self.quota_pro,
            "ENTERPRISE": self.quota_enterprise,
        }.get(tier.upper(), self.quota_free)

    def require_token(self) -> str:
        """The Discord token, or a ConfigError that says where to get one.

        Raises:
            ConfigError: DISCORD_TOKEN is unset or a placeholder.
        """
        token = self.discord_token.get_secret_value().strip() if self.discord_token else ""
        if token.lower() in _PLACEHOLDERS:
            msg = (
                "DISCORD_TOKEN is not set. Create an application at "
                "https://discord.com/developers/applications, add a bot, copy its token and "
                "set DISCORD_TOKEN in the environment or in .env."
            )
            raise ConfigError(msg)
        return token

    @property
    def offline_generation(self) -> bool:
        """True when no Gemini key is set: the offline generator is used."""
        return self.gemini_api_key is None or not self.gemini_api_key.get_secret_value().strip()

    def secrets(self) -> list[str]:
        """Every configured secret value, for log scrubbing."""
        out: list[str] = []
        for secret in (self.discord_token, self.gemini_api_key):
            if secret is not None and secret.get_secret_value():
                out.append(secret.get_secret_value())
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            if "@" in url and ":" in url.split("://", 1)[1].split("@", 1)[0]:
                password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
                if password:
                    out.append(password)
        # S3 credentials come from the standard AWS variables, not from Settings fields
        for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            value = os.environ.get(name, "").strip()
            if value:
                out.append(value)
        return out


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one ConfigError naming the variables.

    Raises:
        ConfigError: a variable is malformed.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["loc"]:
                problems.append(f"{str(err['loc'][0]).upper()}: {message}")
            else:  # a check across variables names them in its message
                problems.append(message)
        raise ConfigError("Invalid configuration: " + "; ".join(problems)) from None
