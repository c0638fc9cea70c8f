"""The `kernelagent` command: serve, token, mcp."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from .auth import Authenticator, ensure_secret, write_token_file
from .settings import Settings

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger("kernelagent")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=getattr(args, "host", None), port=getattr(args, "port", None), workspace=getattr(args, "workspace", None)
    )


async def serve(settings: Settings) -> None:
    from .app import make_app
    from .core.proc import watch_children_in_loop
    from .services import Services

    watch_children_in_loop()
    generated = ensure_secret(settings)
    services = Services.build(settings)
    await services.start()
    app = make_app(services)
    # body size and read size are HTTPServer options (Tornado ignores them as Application settings);
    # /files/upload and /files/write set their own limits per request
    server = app.listen(
        settings.port,
        settings.host,
        xheaders=False,
        chunk_size=settings.http_read_bytes,
        max_body_size=settings.max_body_bytes,
        idle_connection_timeout=settings.idle_timeout,  # also bounds waiting for a request's headers
        body_timeout=settings.body_timeout,
    )
    if settings.jwt_secret and not settings.jwt_public_key:
        token = services.auth.mint()
        path = write_token_file(settings, token)
        origin = "a new secret was generated" if generated else "secret from settings or state dir"
        print(f"kernelagent listening on http://{settings.host}:{settings.port} ({origin})", flush=True)
        print(f"token (also in {path}): {token}", flush=True)
        print(f"try: curl -H 'Authorization: Bearer {token}' http://{settings.host}:{settings.port}/info", flush=True)
    else:
        print(f"kernelagent listening on http://{settings.host}:{settings.port} (public-key auth)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await stop_within(services, settings.shutdown_timeout)


async def stop_within(services: Services, timeout: float) -> None:
    """Stop the services in order, but in `timeout` seconds at most whatever state jobs are in:
    past it, every process the agent started is SIGKILLed and the agent exits anyway."""
    from .core.proc import kill_children_now

    try:
        await asyncio.wait_for(services.stop(), timeout)
    except TimeoutError:
        log.warning("shutdown took over %g s; killed %d processes left", timeout, kill_children_now())
    except Exception:
        log.exception("shutdown failed; killed %d processes left", kill_children_now())


async def serve_mcp(agent_url: str, token: str) -> None:
    """The MCP tools over stdio, each a call on the agent at `agent_url`."""
    from .mcp.remote import RemoteBackend
    from .mcp.server import serve_stdio

    await serve_stdio(RemoteBackend(agent_url, token))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kernelagent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="start the agent")
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    p_serve.add_argument("--workspace")
    p_token = sub.add_parser("token", help="mint a token for the configured key")
    p_token.add_argument("--ttl", type=int, help="lifetime in seconds")
    p_token.add_argument("--private-key", help="PEM file to sign with, when public-key auth is configured")
    p_mcp = sub.add_parser("mcp", help="serve the MCP tools over stdio, calling a (remote) agent")
    p_mcp.add_argument("--agent-url", required=True, help="the agent's base URL, e.g. http://127.0.0.1:7777")
    p_mcp.add_argument("--token", help="a bearer token for the agent (default: $KERNELAGENT_TOKEN)")
    args = parser.parse_args(argv)
    if args.command == "mcp":
        # stdout carries the protocol: logs go to stderr, quietly
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        token = args.token or os.environ.get("KERNELAGENT_TOKEN", "")
        if not token:
            parser.error("mcp needs --token or KERNELAGENT_TOKEN")
        asyncio.run(serve_mcp(args.agent_url, token))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(args)
    if args.command == "serve":
        from .core.runas import RunAsError

        try:
            asyncio.run(serve(settings))
        except RunAsError as exc:  # a setting the agent cannot start with: said plainly, no traceback
            print(f"kernelagent: {exc}", file=sys.stderr)
            return 2
        return 0
    ensure_secret(settings)
    auth = Authenticator(settings)
    key = None
    if args.private_key:
        with open(args.private_key, "rb") as f:
            key = f.read()
    print(auth.mint(ttl=args.ttl, signing_key=key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
