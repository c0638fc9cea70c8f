"""Observability: request figures by endpoint, the machine (psutil), processes, and Prometheus text.

The service counts what the handler layer reports (method, route pattern, status, duration) and
reads the rest live from the engine, the cache and the terminals when asked. Prometheus output comes
from prometheus_client through a registry owned by this service, whose one collector turns the same
live figures into metric families at scrape time: there is one source of truth and no global state.
Blocking psutil calls (a CPU sample over an interval, walking the process table) run in an executor.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from . import machine
from .core.clock import iso_from_epoch, utc_now_iso
from .models.system import MetricsSnapshot, SystemMetrics

if TYPE_CHECKING:
    from .core.clock import Uptime
    from .engine import Engine
    from .idempotency import ExecutionCache
    from .settings import Settings
    from .terminal import TerminalManager

MB = machine.MB
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# HTTP methods that get a metrics series of their own; every other shares "OTHER", so a caller
# cannot add series (memory) by making methods up
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
RECENT_DURATIONS = 2048  # requests the p95 is taken over (the latest), so memory stays bounded


@dataclass
class EndpointStats:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0


class Metrics:
    """The agent's figures (requests by endpoint, executions, pools) and the machine's."""

    def __init__(
        self, settings: Settings, engine: Engine, cache: ExecutionCache, terminals: TerminalManager, uptime: Uptime
    ):
        self.settings = settings
        self.engine = engine
        self.cache = cache
        self.terminals = terminals
        self.uptime = uptime
        self.endpoints: dict[tuple[str, str], EndpointStats] = {}
        self.recent: deque[float] = deque(maxlen=RECENT_DURATIONS)  # seconds
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        self._process = psutil.Process()
        psutil.cpu_percent(None)  # prime the non-blocking sampler used by snapshots

    # --- what the handler layer reports ---

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in KNOWN_METHODS:  # any word is a method to HTTP: made-up ones share one series
            method = "OTHER"
        stats = self.endpoints.get((method, route))
        if stats is None:
            stats = self.endpoints[(method, route)] = EndpointStats()
        stats.requests += 1
        stats.seconds += seconds
        self.recent.append(seconds)
        if status >= 400:
            stats.errors += 1

    # --- the snapshot: agent figures, cheap enough for the event loop ---

    def snapshot(self) -> MetricsSnapshot:
        endpoints = {f"{m} {r}": s for (m, r), s in sorted(self.endpoints.items())}
        total_requests = sum(s.requests for s in endpoints.values())
        total_errors = sum(s.errors for s in endpoints.values())
        total_seconds = sum(s.seconds for s in endpoints.values())
        avg_ms = round(1000 * total_seconds / total_requests, 3) if total_requests else 0.0
        cache = self.cache.stats()
        mem = psutil.virtual_memory()
        with self._process.oneshot():
            rss = self._process.memory_info().rss
            threads = self._process.num_threads()
            fds = self._process.num_fds()
        uptime = self.uptime.seconds()
        return {
            "uptime_seconds": round(uptime, 3),
            "uptime": round(uptime, 3),
            "start_time": iso_from_epoch(self.uptime.started_at),
            "total_requests": total_requests,
            "total_errors": total_errors,
            "error_rate": total_errors / total_requests if total_requests else 0.0,
            "avg_duration_ms_overall": avg_ms,
            "requests_total": total_requests,
            "error_count": total_errors,
            "avg_duration_ms": avg_ms,
            "p95_duration_ms": p95_duration_ms(self.recent),
            "requests_by_endpoint": {k: s.requests for k, s in endpoints.items()},
            "errors_by_endpoint": {k: s.errors for k, s in endpoints.items() if s.errors},
            "avg_duration_ms_by_endpoint": {k: round(1000 * s.seconds / s.requests, 3) for k, s in endpoints.items()},
            "active_executions": self.engine.active_executions,
            "total_executions": self.engine.total_executions,
            "contexts": self.engine.context_count(),
            "pool": self.engine.pool_state(),
            "cache": {
                k: cache[k]
                for k in (
                    "size",
                    "max_size",
                    "in_flight",
                    "bytes",
                    "max_bytes",
                    "hits",
                    "misses",
                    "hit_rate",
                    "evictions",
                    "ttl",
                )
            },
            "terminals": self.terminals.stats(),
            "system": {
                "cpu": {"usage_percent": psutil.cpu_percent(None), "cores": psutil.cpu_count() or 0},
                "memory": {
                    "total": mem.total,
                    "used": mem.used,
                    "free": mem.free,
                    "available": mem.available,
                    "usage_percent": mem.percent,
                },
                "disk": machine.disk(self.settings.workspace),
            },
            "process": {
                "pid": os.getpid(),
                "rss_bytes": rss,
                "memory_mb": round(rss / MB, 3),
                "threads": threads,
                "open_fds": fds,
                "count": len(psutil.pids()),
                "running": machine.running_processes(),
            },
            "timestamp": utc_now_iso(),
        }

    # --- the machine: blocking psutil work, run in an executor ---

    async def system(self) -> SystemMetrics:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, machine.describe, self.settings.workspace, self.uptime.seconds())

    async def processes(self) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, machine.processes)

    # --- Prometheus ---

    def prometheus(self) -> bytes:
        return generate_latest(self.registry)


def p95_duration_ms(seconds: deque[float]) -> float:
    """The 95th percentile (nearest rank) of recent request durations, in ms; 0 before any."""
    if not seconds:
        return 0.0
    ordered = sorted(seconds)
    return round(1000 * ordered[max(0, -(-95 * len(ordered) // 100) - 1)], 3)


class _Collector:
    """Turns the service's live figures into metric families each time the registry is scraped."""

    def __init__(self, metrics: Metrics):
        self.m = metrics

    def collect(self) -> Iterator[Any]:
        m = self.m
        requests = CounterMetricFamily(
            "kernelagent_http_requests", "HTTP requests by endpoint and method", labels=["method", "endpoint"]
        )
        errors = CounterMetricFamily(
            "kernelagent_http_errors", "HTTP responses with status >= 400", labels=["method", "endpoint"]
        )
        seconds = CounterMetricFamily(
            "kernelagent_http_request_duration_seconds",
            "Total time spent answering, by endpoint",
            labels=["method", "endpoint"],
        )
        for (method, route), s in sorted(m.endpoints.items()):
            requests.add_metric([method, route], s.requests)
            errors.add_metric([method, route], s.errors)
            seconds.add_metric([method, route], s.seconds)
        yield requests
        yield errors
        yield seconds

        yield _gauge("kernelagent_uptime_seconds", "Seconds since the agent started", m.uptime.seconds())
        yield _gauge("kernelagent_active_executions", "Executions running now", m.engine.active_executions)
        yield CounterMetricFamily("kernelagent_executions", "Executions started", value=m.engine.total_executions)
        yield _gauge("kernelagent_contexts", "Contexts (kernels in use)", m.engine.context_count())
        ready = GaugeMetricFamily("kernelagent_pool_ready_kernels", "Warm kernels ready", labels=["language"])
        target = GaugeMetricFamily("kernelagent_pool_target_kernels", "Warm kernels wanted", labels=["language"])
        for lang, state in m.engine.pool_state().items():
            ready.add_metric([lang], state.get("ready", 0))
            target.add_metric([lang], state.get("target", 0))
        yield ready
        yield target

        c = m.cache
        yield _gauge("kernelagent_cache_entries", "Answers kept in the execution cache", len(c))
        yield _gauge("kernelagent_cache_bytes", "JSON bytes of the answers kept", c.bytes)
        yield CounterMetricFamily("kernelagent_cache_hits", "Keyed requests answered from the cache", value=c.hits)
        yield CounterMetricFamily("kernelagent_cache_misses", "Keyed requests that ran", value=c.misses)
        yield CounterMetricFamily("kernelagent_cache_evictions", "Answers evicted for space", value=c.evictions)

        t = m.terminals.stats()
        yield _gauge("kernelagent_terminals_active", "Open terminals", t["active"])
        yield CounterMetricFamily("kernelagent_terminals_opened", "Terminals opened", value=t["total"])

        mem = psutil.virtual_memory()
        yield _gauge(
            "kernelagent_system_cpu_usage_percent", "Machine CPU use since the last sample", psutil.cpu_percent(None)
        )
        yield _gauge("kernelagent_system_memory_used_bytes", "Machine memory in use", mem.used)
        yield _gauge("kernelagent_system_memory_total_bytes", "Machine memory", mem.total)
        yield _gauge("kernelagent_process_resident_memory_bytes", "Agent process RSS", m._process.memory_info().rss)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)
