"""System and agent figures: /system, /processes, /metrics (JSON and Prometheus text)."""

from __future__ import annotations

from ..observe import PROMETHEUS_CONTENT_TYPE
from ..timeutil import utc_now_iso
from .base import BaseHandler


class SystemHandler(BaseHandler):
    async def get(self) -> None:
        self.write_json(await self.services.metrics.system())


class ProcessesHandler(BaseHandler):
    async def get(self) -> None:
        processes = await self.services.metrics.processes()
        self.write_json({"processes": processes, "count": len(processes), "timestamp": utc_now_iso()})


class MetricsSnapshotHandler(BaseHandler):
    """GET /metrics/snapshot and GET /metrics."""

    def get(self) -> None:
        self.write_json(self.services.metrics.snapshot())


class PrometheusHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Content-Type", PROMETHEUS_CONTENT_TYPE)
        self.finish(self.services.metrics.prometheus())


routes = [
    (r"/system", SystemHandler),
    (r"/processes", ProcessesHandler),
    (r"/metrics", MetricsSnapshotHandler),
    (r"/metrics/snapshot", MetricsSnapshotHandler),
    (r"/metrics/prometheus", PrometheusHandler),
]
