"""make_app: the one routes table. Each api module lists its own routes; this joins them.

The table is also kept in the application's settings (`routes`), where the handlers that
describe the agent (/, /info, /openapi.json) read it, so nothing imports this module back.
"""

from __future__ import annotations

from tornado import web

from .api import (
    cache,
    commands,
    desktop,
    env,
    execute,
    files,
    gateway,
    jobs,
    mcp,
    metrics,
    notebooks,
    ocr,
    recording,
    stream,
    system,
    terminal,
    vnc,
)
from .api.base import NotFoundHandler, log_request
from .api.routing import Route
from .services import Services

ROUTE_MODULES = [system, execute, jobs, commands, stream, files, env, metrics, cache, terminal, notebooks, mcp]
ROUTE_MODULES += [desktop, vnc, recording, ocr]  # the virtual desktop
ROUTE_MODULES += [gateway]  # the Jupyter kernel gateway protocol


def all_routes() -> list[Route]:
    return [route for module in ROUTE_MODULES for route in module.routes]


def make_app(services: Services) -> web.Application:
    routes = all_routes()
    return web.Application(
        [(r.pattern, r.handler, {"services": services, "route": r.path}) for r in routes],
        default_handler_class=NotFoundHandler,
        default_handler_args={"services": services},
        websocket_ping_interval=20,
        log_function=log_request,  # Tornado's access log line, with query-string tokens redacted
        routes=routes,
    )
