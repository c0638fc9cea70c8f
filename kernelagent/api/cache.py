"""The execution cache: /cache/stats, /cache/clear, /cache."""

from __future__ import annotations

import socket

from .. import __version__
from ..timeutil import utc_now_iso
from .base import BaseHandler


class CacheStatsHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(self.services.cache.stats())


class CacheClearHandler(BaseHandler):
    def post(self) -> None:
        removed = self.services.cache.clear()
        self.write_json({"message": "Cache cleared successfully", "entries_removed": removed,
                         "timestamp": utc_now_iso()})


class CacheHandler(BaseHandler):
    """GET /cache: the docs' agent-info shape, with the stats and the kept keys (not their answers)."""

    def get(self) -> None:
        cache = self.services.cache
        self.write_json({
            "agent": "kernelagent",
            "status": "running",
            "version": __version__,
            "vm_id": socket.gethostname(),
            "message": "success",
            "stats": cache.stats(),
            "entries": cache.entries(),
            "timestamp": utc_now_iso(),
        })


routes = [
    (r"/cache", CacheHandler),
    (r"/cache/stats", CacheStatsHandler),
    (r"/cache/clear", CacheClearHandler),
]
