"""System and agent figures: /system, /processes, /metrics (JSON and Prometheus text)."""

from __future__ import annotations

from ..core.clock import utc_now_iso
from ..metrics import PROMETHEUS_CONTENT_TYPE
from ..models.system import MetricsSnapshot, ProcessList, SystemMetrics
from .base import BaseHandler
from .routing import Route, op


class SystemMetricsHandler(BaseHandler):
    """GET /system: the machine's CPU, memory, disk and more."""

    @op("The machine: CPU, memory, disk, network, OS", response=SystemMetrics)
    async def get(self) -> SystemMetrics:
        return await self.services.metrics.system()


class MachineProcessesHandler(BaseHandler):
    """GET /processes: every process on the machine (jobs are under /execute/processes)."""

    @op("Every process on the machine", response=ProcessList)
    async def get(self) -> ProcessList:
        processes = await self.services.metrics.processes()
        return {"processes": processes, "count": len(processes), "timestamp": utc_now_iso()}


class MetricsSnapshotHandler(BaseHandler):
    """GET /metrics/snapshot and GET /metrics: the agent's own figures."""

    @op("The agent's figures: requests, executions, pools, cache, terminals", response=MetricsSnapshot)
    def get(self) -> MetricsSnapshot:
        return self.services.metrics.snapshot()


class PrometheusHandler(BaseHandler):
    """GET /metrics/prometheus: the same figures in Prometheus' text format."""

    @op("The agent's figures in Prometheus text format", media_type=PROMETHEUS_CONTENT_TYPE)
    def get(self) -> None:
        self.set_header("Content-Type", PROMETHEUS_CONTENT_TYPE)
        self.finish(self.services.metrics.prometheus())


routes = [
    Route("/system", SystemMetricsHandler),
    Route("/processes", MachineProcessesHandler),
    Route("/metrics", MetricsSnapshotHandler),
    Route("/metrics/snapshot", MetricsSnapshotHandler),
    Route("/metrics/prometheus", PrometheusHandler),
]
