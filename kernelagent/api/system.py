"""Health and agent info."""

from __future__ import annotations

import platform
import socket

from .. import __version__
from ..timeutil import iso_from_epoch, utc_now_iso
from .base import BaseHandler


class HealthHandler(BaseHandler):
    open_endpoint = True

    def get(self) -> None:
        s = self.services
        languages = s.engine.available
        self.write_json({
            "status": "healthy",
            "agent": "kernelagent",
            "version": __version__,
            "uptime": round(s.uptime(), 3),
            "go_version": None,
            "vm_id": socket.gethostname(),
            "languages": languages,
            "pool": s.engine.pool_state(),
            "features": {
                "code_execution": True,
                "file_operations": True,
                "terminal_access": True,
                "websocket_streaming": True,
                "rich_output": True,
                "background_jobs": True,
                "ipython_kernel": "python" in languages,
                "system_metrics": True,
                "execution_cache": True,
                "languages": languages,
            },
            "active_streams": len(s.terminals.active),
            "timestamp": utc_now_iso(),
        })


class InfoHandler(BaseHandler):
    def get(self) -> None:
        s = self.services
        self.write_json({
            "agent": "kernelagent",
            "agent_version": __version__,
            "version": __version__,
            "vm_id": socket.gethostname(),
            "os": platform.system().lower(),
            "platform": platform.platform(),
            "arch": platform.machine(),
            "python_version": platform.python_version(),
            "go_version": None,
            "vm_ip": s.settings.host,
            "ip": s.settings.host,
            "vm_port": s.settings.port,
            "port": s.settings.port,
            "start_time": iso_from_epoch(s.started_at),
            "uptime": round(s.uptime(), 3),
            "workspace": s.settings.workspace,
            "languages": s.engine.available,
            "features": {"code_execution": True, "rich_output": True, "contexts": True,
                         "languages": s.engine.available},
            "endpoints": sorted(path for path, _ in _all_routes()),
            "timestamp": utc_now_iso(),
        })


def _all_routes():
    from ..app import ROUTE_MODULES
    for module in ROUTE_MODULES:
        yield from module.routes


class RootHandler(BaseHandler):
    """GET /: what this agent is and the endpoints it serves."""

    def get(self) -> None:
        self.write_json({
            "agent": "kernelagent",
            "version": __version__,
            "api": "HopX VM Agent API",
            "endpoints": sorted(path for path, _ in _all_routes()),
            "timestamp": utc_now_iso(),
        })


class PingHandler(BaseHandler):
    def get(self) -> None:
        self.write_json({"status": "ok", "message": "pong", "timestamp": utc_now_iso()})


routes = [
    (r"/", RootHandler),
    (r"/health", HealthHandler),
    (r"/info", InfoHandler),
    (r"/ping", PingHandler),
]
