"""The operations endpoint during end-to-end runs: /metrics families and /healthz."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from tests.conftest import truncate_all
from tests.dbutil import create_database, drop_database, plain
from tests.e2e import find_id, running_stack, wait_ephemeral_text, wait_final

FAMILIES = {
    "charbot_interactions": "counter",
    "charbot_interaction_ack_seconds": "histogram",
    "charbot_generations": "counter",
    "charbot_provider_request_seconds": "histogram",
    "charbot_refunds": "counter",
    "charbot_queue_depth": "gauge",
    "charbot_event_loop_lag_seconds": "gauge",
    "charbot_gateway_latency_seconds": "gauge",
    "charbot_database_unreachable": "gauge",
    "charbot_database_outage_seconds": "gauge",
}


async def fetch(port: int, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_endpoint_serves_every_family_after_a_scenario(
    database_url, engine, tmp_path
):
    """After /quota, two creates (one failing), a refused and an accepted button: every family
    is served, with the counts the scenario implies."""
    async with running_stack(database_url, tmp_path) as stack:
        bot = await stack.start_bot(metrics_port=0, metrics_host="127.0.0.1")
        assert bot.ops is not None
        port = bot.ops.port
        assert port
        owner = stack.member("lancelot")
        other = stack.member("agravain")
        quota = await stack.command(owner, "quota")
        await quota.acknowledged(timeout=3)
        made = await wait_final(
            await stack.command(owner, "character create", {"description": "a bold knight"})
        )
        stack.gemini.fail_next("500", times=2)  # the one retry fails too
        failing = await stack.command(owner, "character create", {"description": "a lost knight"})
        await wait_ephemeral_text(failing, timeout=15)
        fav = find_id(made, ":fav")
        refused = await stack.fake.click(other, made, fav)
        await wait_ephemeral_text(refused)
        pressed = await stack.fake.click(owner, made, fav)
        await pressed.acknowledged(timeout=3)
        await asyncio.sleep(0.6)  # let the lag sampler take a sample; finish hooks run

        status, content_type, body = await fetch(port, "/metrics")
    await truncate_all(engine)
    assert status == 200
    assert content_type.startswith("text/plain")
    types = {f.name: f.type for f in text_string_to_metric_families(body)}
    assert {name: types.get(name) for name in FAMILIES} == FAMILIES
    found = samples(body)
    interactions = "charbot_interactions_total"
    assert value(found, interactions, command="quota", outcome="ok") == 1
    assert value(found, interactions, command="character create", outcome="ok") == 1
    assert value(found, interactions, command="character create", outcome="error") == 1
    assert value(found, interactions, command="char:*:fav", outcome="refused") == 1
    assert value(found, interactions, command="char:*:fav", outcome="ok") == 1
    assert value(found, "charbot_interaction_ack_seconds_count") >= 5
    generations = "charbot_generations_total"
    assert value(found, generations, kind="create", outcome="completed") == 1
    assert value(found, generations, kind="create", outcome="failed") == 1
    assert value(found, "charbot_refunds_total", source="pipeline") == 1
    provider = "charbot_provider_request_seconds_count"
    assert value(found, provider, provider="text", outcome="ok") == 1
    assert value(found, provider, provider="text", outcome="error") == 1  # after its retry
    assert value(found, provider, provider="image", outcome="ok") == 1
    assert value(found, "charbot_queue_depth", queue="slots") == 0
    assert value(found, "charbot_queue_depth", queue="interactions") == 0
    assert ("charbot_event_loop_lag_seconds", ()) in found


async def test_healthz_is_200_then_503_when_the_database_or_gateway_is_gone(server_url, tmp_path):
    """/healthz: 200 while connected; 503 naming the database when it refuses connections,
    200 again when it is back; 503 naming the gateway once the bot has disconnected."""
    url = await create_database(server_url, prefix="charbot_health")
    name = make_url(url).database  # the embedded server's URL ends "?host=/…/socket-dir"
    admin = await asyncpg.connect(plain(server_url))
    try:
        await asyncio.to_thread(upgrade, url)
        async with running_stack(url, tmp_path) as stack:
            bot = await stack.start_bot(metrics_port=0, metrics_host="127.0.0.1")
            port = bot.ops.port
            for _ in range(100):  # the bot turns ready a moment after its shard got guilds
                if bot.is_ready():
                    break
                await asyncio.sleep(0.1)
            status, _, body = await fetch(port, "/healthz")
            assert status == 200
            assert json.loads(body) == {"status": "ok", "gateway": "connected", "database": "ok"}

            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            status, _, body = await fetch(port, "/healthz")
            assert status == 503
            assert '"database": "unreachable"' in body
            assert '"gateway": "connected"' in body

            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            status, _, _ = await fetch(port, "/healthz")
            assert status == 200

            await bot.close()
            status, _, body = await fetch(port, "/healthz")
            assert status == 503
            assert '"gateway": "disconnected"' in body
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await admin.close()
        await drop_database(server_url, url)
