"""What the agent is: /, /health (the one open route), /info, /ping, /openapi.json."""

from __future__ import annotations

import platform
import socket
from typing import Any

from .. import __version__
from ..core.clock import iso_from_epoch, utc_now_iso
from ..models.system import Health, Info, Pong, Root
from .base import BaseHandler
from .openapi import document
from .routing import Route, op


class SystemHandler(BaseHandler):
    """Handlers that describe the agent: they read the route table from the application."""

    def endpoints(self) -> list[str]:
        return sorted(r.path for r in self.application.settings["routes"])


class HealthHandler(SystemHandler):
    """GET /health: readiness, languages and warm pools; no token needed."""

    open_endpoint = True

    @op("Health, languages and warm kernel pools (no token needed)", response=Health)
    def get(self) -> Health:
        s = self.services
        languages = s.engine.available
        return {
            "status": "healthy",
            "agent": "kernelagent",
            "version": __version__,
            "uptime": round(s.uptime.seconds(), 3),
            "uptime_seconds": round(s.uptime.seconds(), 3),
            "go_version": None,
            "vm_id": socket.gethostname(),
            "languages": languages,
            "pool": s.engine.pool_state(),
            "kernel_modes": s.engine.kernel_modes(),
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
                "desktop": s.desktop.available,
            },
            "desktop": s.desktop.health(),
            "active_streams": s.terminals.stats()["active"],
            "timestamp": utc_now_iso(),
        }


class InfoHandler(SystemHandler):
    """GET /info: the agent, its machine and its endpoints."""

    @op("The agent, its machine and its endpoints", response=Info)
    def get(self) -> Info:
        s = self.services
        return {
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
            "start_time": iso_from_epoch(s.uptime.started_at),
            "uptime": round(s.uptime.seconds(), 3),
            "uptime_seconds": round(s.uptime.seconds(), 3),
            "workspace": s.settings.workspace,
            "languages": s.engine.available,
            "features": {
                "code_execution": True,
                "rich_output": True,
                "contexts": True,
                "languages": s.engine.available,
            },
            "endpoints": self.endpoints(),
            "timestamp": utc_now_iso(),
        }


class RootHandler(SystemHandler):
    """GET /: what this agent is and the endpoints it serves."""

    @op("What this agent is and the endpoints it serves", response=Root)
    def get(self) -> Root:
        return {
            "agent": "kernelagent",
            "version": __version__,
            "api": "HopX VM Agent API",
            "endpoints": self.endpoints(),
            "timestamp": utc_now_iso(),
        }


class PingHandler(BaseHandler):
    """GET /ping: a round trip through auth and the event loop."""

    @op("Round trip", response=Pong)
    def get(self) -> Pong:
        return {"status": "ok", "message": "pong", "timestamp": utc_now_iso()}


class OpenAPIHandler(SystemHandler):
    """GET /openapi.json: the API document, generated from the routes' declared operations."""

    @op("This API as an OpenAPI 3.1 document", response=dict)
    def get(self) -> dict[str, Any]:
        return document(self.application.settings["routes"], __version__)


routes = [
    Route("/", RootHandler),
    Route("/health", HealthHandler),
    Route("/info", InfoHandler),
    Route("/ping", PingHandler),
    Route("/openapi.json", OpenAPIHandler),
]
