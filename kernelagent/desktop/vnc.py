"""VNC: x11vnc over the agent's display, on loopback unless a setting says otherwise.

A password is stored with `x11vnc -storepasswd` (answered through a pseudo-terminal, so it is never
on a command line) in a private file that x11vnc reads with `-rfbauth`. The browser view reaches
the same server through the agent's own port (`/desktop/vnc/websocket`), so the VNC port itself
never needs to be exposed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time

from kernelagent_kernels.provisioning import die_with_parent

from ..core import proc
from ..core.errors import AgentError
from ..models.desktop import VncInfo, VncStart
from ..settings import Settings
from . import view
from .availability import require_programs, unavailable
from .display import DebugLog, Display

BASE_PORT = 5900
LISTEN_TIMEOUT = 10.0  # seconds for x11vnc to listen


def store_password(password: str, path: str) -> None:
    """`x11vnc -storepasswd FILE`, its prompts answered through a pty (blocking: run in an executor)."""
    from ptyprocess import PtyProcess

    child = PtyProcess.spawn(["x11vnc", "-storepasswd", path])
    try:
        seen = b""
        for prompt, answer in ((b"password:", password), (b"password:", password), (b"n ", "y")):
            deadline = time.monotonic() + 5
            while seen.count(prompt) == 0 and time.monotonic() < deadline:
                try:
                    seen += child.read(1024)
                except EOFError:
                    break
            seen = seen[seen.find(prompt) + len(prompt) :] if prompt in seen else b""
            child.write(answer.encode() + b"\n")
        child.wait()
    finally:
        if child.isalive():
            child.terminate(force=True)
    if not os.path.exists(path):
        raise AgentError("VNC_FAILED", 500, "x11vnc did not store the VNC password")


def free_port(preferred: int) -> int:
    """`preferred` if it can be bound on loopback, else any free port."""
    import socket

    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise AgentError("VNC_FAILED", 500, "no free port for the VNC server")


class Vnc:
    """One x11vnc server on the display; started, stopped and described on request, and bridged to
    the browser view (the handlers of /desktop/vnc/* call it directly)."""

    def __init__(self, settings: Settings, display: Display, events: DebugLog):
        self.settings = settings
        self.display = display
        self.events = events
        self.server: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.password_protected = False
        self._dir = tempfile.mkdtemp(prefix="kernelagent-vnc-")  # mode 0700

    @property
    def running(self) -> bool:
        return self.server is not None and self.server.poll() is None

    @property
    def pid(self) -> int | None:
        return self.server.pid if self.running and self.server is not None else None

    def status(self, host: str) -> VncInfo:
        """The server's state; `host` is the agent's address as the caller reached it."""
        local = self.settings.vnc_host in ("127.0.0.1", "localhost", "::1")
        vnc_host = "127.0.0.1" if local else (host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
        return {
            "running": self.running,
            "display": self.display.number,
            "host": vnc_host,
            "port": self.port if self.running else None,
            "url": f"vnc://{vnc_host}:{self.port}" if self.running else None,
            "websocket_url": f"ws://{host}/desktop/vnc/websocket",
            "view_url": f"http://{host}/desktop/vnc/view",
            "password_protected": self.running and self.password_protected,
        }

    async def start_for(self, req: VncStart, host: str) -> VncInfo:
        """POST /desktop/vnc/start: (re)start the server, with the password if one is given."""
        require_programs("x11vnc")
        await self.start(req.password)
        return self.status(host)

    async def ensure_for(self, host: str) -> VncInfo:
        """GET /desktop/vnc/start (the JS SDK): start the server if it is not running; a running one
        is kept as it is, so a GET never drops the password a POST set."""
        if self.running:
            return self.status(host)
        return await self.start_for(VncStart(), host)

    async def stop_for(self, host: str) -> VncInfo:
        await self.stop()
        return self.status(host)

    async def bridge(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the server for the browser's WebSocket, starting the server if it is not running."""
        require_programs("x11vnc")
        if not self.running:
            await self.start(None)
        return await self.connect()

    def page(self, token: str) -> str:
        self._require_novnc()
        return view.page(token)

    async def asset(self, name: str) -> tuple[bytes, str]:
        self._require_novnc()
        return await view.asset(name)

    @staticmethod
    def _require_novnc() -> None:
        if view.novnc_root() is None:
            raise unavailable("The browser view needs noVNC, which is not installed", ["novnc"])

    async def start(self, password: str | None) -> None:
        if self.running:
            await self.stop()
        loop = asyncio.get_running_loop()
        args = ["x11vnc", "-display", self.display.name, "-forever", "-shared", "-noxdamage", "-quiet"]
        port = self.settings.vnc_port or free_port(BASE_PORT + (self.display.number or 0))
        args += ["-rfbport", str(port), "-listen", self.settings.vnc_host]
        if self.settings.vnc_host in ("127.0.0.1", "localhost"):
            args.append("-localhost")
        if password:
            path = os.path.join(self._dir, "passwd")
            if os.path.exists(path):
                os.unlink(path)
            await loop.run_in_executor(None, store_password, password, path)
            args += ["-rfbauth", path]
        else:
            args.append("-nopw")
        with open(os.path.join(self._dir, "x11vnc.log"), "wb") as log:
            self.server = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # dies with the agent, even one killed outright
            )
        self.port, self.password_protected = port, bool(password)
        if not await self._listening(port):
            await self.stop()
            raise AgentError("VNC_FAILED", 500, f"x11vnc did not listen on port {port}", {"log": self.log_tail()})
        self.events.add(f"x11vnc started on {self.settings.vnc_host}:{port} (pid {self.server.pid})")

    async def _listening(self, port: int) -> bool:
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                return False
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return True
            except OSError:
                await asyncio.sleep(0.05)
        return False

    async def stop(self) -> None:
        if self.server is not None:
            if self.server.poll() is None:
                await proc.kill_tree(proc.descendants(self.server.pid), grace=2.0, pgid=proc.own_group(self.server.pid))
            self.server.wait()
            self.events.add("x11vnc stopped")
        self.server = None

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to the VNC server (for the WebSocket bridge)."""
        if not self.running or self.port is None:
            raise AgentError("VNC_NOT_RUNNING", 409, "The VNC server is not running; POST /desktop/vnc/start first")
        return await asyncio.open_connection("127.0.0.1", self.port)

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            with open(os.path.join(self._dir, "x11vnc.log"), "rb") as f:
                return f.read()[-8192:].decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return []
