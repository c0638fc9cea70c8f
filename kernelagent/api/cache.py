"""The execution cache (answers kept per idempotency key): /cache, /cache/stats, /cache/clear."""

from __future__ import annotations

import socket

from .. import __version__
from ..core.clock import utc_now_iso
from ..models.system import CacheCleared, CacheInfo, CacheStats
from .base import BaseHandler
from .routing import Route, op


class CacheStatsHandler(BaseHandler):
    """GET /cache/stats."""

    @op("Execution cache figures", response=CacheStats)
    def get(self) -> CacheStats:
        return self.services.cache.stats()


class CacheClearHandler(BaseHandler):
    """POST /cache/clear."""

    @op("Forget every kept answer", response=CacheCleared)
    def post(self) -> CacheCleared:
        removed = self.services.cache.clear()
        return {"message": "Cache cleared successfully", "entries_removed": removed, "timestamp": utc_now_iso()}


class CacheHandler(BaseHandler):
    """GET /cache: the docs' agent-info shape, with the stats and the kept keys (not their answers)."""

    @op("The cache's figures and kept keys", response=CacheInfo)
    def get(self) -> CacheInfo:
        cache = self.services.cache
        return {
            "agent": "kernelagent",
            "status": "running",
            "version": __version__,
            "vm_id": socket.gethostname(),
            "message": "success",
            "stats": cache.stats(),
            "entries": cache.entries(),
            "timestamp": utc_now_iso(),
        }


routes = [
    Route("/cache", CacheHandler),
    Route("/cache/stats", CacheStatsHandler),
    Route("/cache/clear", CacheClearHandler),
]
