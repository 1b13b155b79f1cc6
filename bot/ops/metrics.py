"""Prometheus metrics of one bot instance, in a registry of its own (several bots can share a
process, as in tests). Nothing here knows Discord: the bot feeds interactions in, the pipeline
feeds generations and provider calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
PROVIDER_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

Latencies = Callable[[], Iterable[tuple[int, float]]]


class _GatewayLatency(Collector):
    """Reads each shard's heartbeat latency at scrape time (unknown values are left out)."""

    def __init__(self, latencies: Latencies) -> None:
        self._latencies = latencies

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "charbot_gateway_latency_seconds",
            "Gateway heartbeat latency of each shard this process runs",
            labels=["shard"],
        )
        for shard, latency in self._latencies():
            if math.isfinite(latency):
                family.add_metric([str(shard)], latency)
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


class BotMetrics:
    """Every metric family of the bot."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.interactions = Counter(
            "charbot_interactions",
            "Interactions handled, by command (or component) and outcome (ok, refused, error)",
            ["command", "outcome"],
            registry=r,
        )
        self.ack_latency = Histogram(
            "charbot_interaction_ack_seconds",
            "Seconds from an interaction's creation to the bot's first response to it",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.generations = Counter(
            "charbot_generations",
            "Generations run, by kind (create, regenerate, variant) and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.provider_latency = Histogram(
            "charbot_provider_request_seconds",
            "Seconds per provider call (text or image), by outcome (ok, error)",
            ["provider", "outcome"],
            buckets=PROVIDER_BUCKETS,
            registry=r,
        )
        self.rate_limit_wait = Histogram(
            "charbot_provider_rate_limit_wait_seconds",
            "Seconds a provider call waited for the shared requests-per-minute budget",
            buckets=(0.0, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0),
            registry=r,
        )
        self.refunds = Counter(
            "charbot_refunds",
            "Quota units given back for failed generations, by source (pipeline, sweep)",
            ["source"],
            registry=r,
        )
        self.conversation_messages = Counter(
            "charbot_conversation_messages",
            "Messages the bot saw, by what became of them: bot (from a bot or webhook), "
            "ignored (not meant for a character), hint, suggestion, edit, refused, error",
            ["outcome"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "charbot_queue_depth",
            "Waiting: generations for a free slot (slots) or for the provider budget (rate_limit); "
            "acknowledged interactions for their turn to work (interactions)",
            ["queue"],
            registry=r,
        )
        self.database_unreachable = Gauge(
            "charbot_database_unreachable",
            "1 while this process cannot reach the database (an outage), else 0",
            registry=r,
        )
        self.database_outage_seconds = Gauge(
            "charbot_database_outage_seconds",
            "How long the current database outage has lasted (0 when there is none)",
            registry=r,
        )
        self.jobs_taken = Counter(
            "charbot_generation_jobs_taken",
            "Generation jobs a worker took up, by worker and whether it was a retry (its "
            "earlier worker stopped)",
            ["worker", "retry"],
            registry=r,
        )
        self.job_queue = Gauge(
            "charbot_generation_job_queue",
            "The generation queue in PostgreSQL, as last read: jobs waiting (queued), taken "
            "up (running), and the oldest wait in seconds (oldest_age_seconds)",
            ["what"],
            registry=r,
        )
        self.loop_lag = Gauge(
            "charbot_event_loop_lag_seconds",
            "How late the event loop woke a periodic sampler, last sample",
            registry=r,
        )

    def track_queues(
        self,
        slots: Callable[[], int],
        rate_limit: Callable[[], int],
        interactions: Callable[[], int] = lambda: 0,
    ) -> None:
        """Read the queue depths at scrape time: generations waiting for a slot, provider calls
        waiting for the shared budget, acknowledged interactions waiting to do their work."""
        self.queue_depth.labels("slots").set_function(slots)
        self.queue_depth.labels("rate_limit").set_function(rate_limit)
        self.queue_depth.labels("interactions").set_function(interactions)

    def track_database(self, down: Callable[[], bool], seconds: Callable[[], float]) -> None:
        """Read at scrape time whether the database is unreachable, and for how long."""
        self.database_unreachable.set_function(lambda: 1.0 if down() else 0.0)
        self.database_outage_seconds.set_function(seconds)

    def track_gateway(self, latencies: Latencies) -> None:
        """Read the shards' gateway latencies at scrape time."""
        self.registry.register(_GatewayLatency(latencies))

    # -- the generation pipeline's side -------------------------------------------------------

    def provider_call(self, provider: str, seconds: float, *, ok: bool) -> None:
        """One provider call finished (``provider`` is text or image)."""
        self.provider_latency.labels(provider, "ok" if ok else "error").observe(seconds)

    def rate_limited(self, seconds: float) -> None:
        """A provider call waited ``seconds`` for the shared budget."""
        self.rate_limit_wait.observe(seconds)

    def generation_finished(self, kind: str, outcome: str) -> None:
        """A generation ended (completed, failed or cancelled)."""
        self.generations.labels(kind, outcome).inc()

    def refunded(self, units: int = 1, source: str = "pipeline") -> None:
        """Quota units were given back."""
        if units:
            self.refunds.labels(source).inc(units)

    def job_taken(self, worker: str, *, retry: bool) -> None:
        """A worker took up a generation job (again, when ``retry``)."""
        self.jobs_taken.labels(worker, "yes" if retry else "no").inc()

    def job_queue_read(self, depth: int, running: int, oldest_seconds: float) -> None:
        """What the generation queue held when it was last read."""
        self.job_queue.labels("queued").set(depth)
        self.job_queue.labels("running").set(running)
        self.job_queue.labels("oldest_age_seconds").set(oldest_seconds)

    def conversation_message(self, outcome: str) -> None:
        """A message was handled (or ignored) by the conversation feature."""
        self.conversation_messages.labels(outcome).inc()

    # -- exposition -----------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
