"""The operations endpoint (METRICS_PORT): ``/metrics`` for Prometheus and ``/healthz``.

``/healthz`` answers 200 when the gateway is connected and the database answers ``SELECT 1``
within a short timeout, else 503; the JSON body says which check failed and, during a database
outage, since when the bot has not reached it. The endpoint also runs the event-loop lag
sampler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.ops.metrics import BotMetrics
from db.outage import Outage

log = logging.getLogger(__name__)

LAG_INTERVAL = 0.5


@dataclass(frozen=True)
class Health:
    """The result of the checks."""

    gateway: bool
    database: bool

    @property
    def ok(self) -> bool:
        """Both checks passed."""
        return self.gateway and self.database


class OpsServer:
    """A small aiohttp server bound to ``host:port`` (port 0 = any free port; see ``port``)."""

    def __init__(
        self,
        metrics: BotMetrics,
        *,
        gateway_connected: Callable[[], bool],
        database_ok: Callable[[], Awaitable[bool]],
        host: str,
        port: int,
        outage: Outage | None = None,
    ) -> None:
        self.metrics = metrics
        self._outage = outage
        self._gateway_connected = gateway_connected
        self._database_ok = database_ok
        self.host = host
        self._wanted_port = port
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._sampler: asyncio.Task[None] | None = None

    async def check(self) -> Health:
        """Run both checks."""
        return Health(gateway=self._gateway_connected(), database=await self._database_ok())

    async def start(self) -> None:
        """Serve, and start sampling the event loop's lag."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self._wanted_port).start()
        self.port = int(self._runner.addresses[0][1])
        self._sampler = asyncio.create_task(self._sample_lag())
        log.info("metrics and /healthz on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop serving and sampling."""
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        health = await self.check()
        body = {
            "status": "ok" if health.ok else "unavailable",
            "gateway": "connected" if health.gateway else "disconnected",
            "database": "ok" if health.database else "unreachable",
        }
        outage = self._outage
        if outage is not None and outage.down and outage.since is not None:
            body["database_unreachable_since"] = outage.since.isoformat(timespec="seconds")
            body["database_outage_seconds"] = f"{outage.seconds:.1f}"
        return web.json_response(body, status=200 if health.ok else 503)

    async def _sample_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            self.metrics.loop_lag.set(max(0.0, loop.time() - before - LAG_INTERVAL))
