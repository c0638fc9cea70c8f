"""make_app: the one routes table. Each api module lists its own routes; this joins them."""

from __future__ import annotations

from tornado import web

from .api import cache, commands, env, execute, files, jobs, observe, stream, system, terminal
from .api.base import NotFoundHandler
from .services import Services

ROUTE_MODULES = [system, execute, jobs, commands, stream, files, env, observe, cache, terminal]


def make_app(services: Services) -> web.Application:
    routes = []
    for module in ROUTE_MODULES:
        for path, handler in module.routes:
            routes.append((path, handler, {"services": services, "route": path}))
    return web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args={"services": services},
        websocket_ping_interval=20,
    )
