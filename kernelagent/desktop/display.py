"""The X display: Xvfb (through xvfbwrapper, `-nolisten tcp`) and openbox, started and supervised.

Xvfb cannot change its size while running, so a new resolution restarts it on the same display
number: the programs connected to it lose their windows (the answer says so). TigerVNC's Xvnc
resizes live, but there the X server is the VNC server: its port and password are fixed when the
display starts, and changing them (or stopping VNC) means restarting the display and losing the
windows anyway. Xvfb with x11vnc beside it keeps VNC optional and restartable on request, and
resolution changes are rare next to VNC starts; so Xvfb, and a resize costs the windows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections import deque
from typing import Any

from ..core import proc
from ..core.clock import utc_now_iso
from ..settings import Settings

log = logging.getLogger("kernelagent.desktop")

FIRST_DISPLAY = 10  # display numbers tried from here (below are often a person's own sessions)
SUPERVISE_EVERY = 1.0  # seconds between checks that Xvfb and the window manager are alive
RESOLUTIONS = [(3840, 2160), (2560, 1440), (1920, 1080), (1680, 1050), (1600, 900), (1440, 900), (1366, 768),
               (1280, 1024), (1280, 800), (1280, 720), (1024, 768), (800, 600)]  # fmt: skip


class DebugLog:
    """The desktop's recent events (starts, deaths, restarts), bounded, for /desktop/debug/logs."""

    def __init__(self, size: int = 500):
        self.lines: deque[str] = deque(maxlen=size)

    def add(self, message: str) -> None:
        self.lines.append(f"{utc_now_iso()} {message}")
        log.info("desktop: %s", message)


class Display:
    """One Xvfb screen and its window manager; `generation` grows each time the server is (re)started,
    so connections opened on an older server know to reconnect."""

    def __init__(self, settings: Settings, events: DebugLog):
        self.settings = settings
        self.events = events
        self.width = settings.desktop_width
        self.height = settings.desktop_height
        self.depth = settings.desktop_depth
        self.number: int | None = settings.desktop_display or None
        self.generation = 0
        self.xvfb: Any = None
        self.wm: subprocess.Popen[bytes] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return f":{self.number}" if self.number is not None else ""

    @property
    def running(self) -> bool:
        return self.xvfb is not None and self.xvfb.proc is not None and self.xvfb.proc.poll() is None

    def processes(self) -> dict[str, int | None]:
        """Pids of the display's own processes, by role."""
        xvfb_pid = self.xvfb.proc.pid if self.running else None
        wm_pid = self.wm.pid if self.wm is not None and self.wm.poll() is None else None
        return {"xvfb": xvfb_pid, "window_manager": wm_pid}

    async def start(self) -> None:
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(None, self._start_server)
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(None, self._stop_server)

    async def resize(self, width: int, height: int) -> None:
        """Restart the server at a new size (windows on it are lost)."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._stop_server)
            self.width, self.height = width, height
            await loop.run_in_executor(None, self._start_server)

    # --- blocking parts, run in an executor ---

    def _start_server(self) -> None:
        if self.number is not None:
            self._start_xvfb(self.number)
            return
        # the first display number nobody uses (xvfbwrapper's own choice is random up to 2**31)
        tries = 0
        for number in range(FIRST_DISPLAY, FIRST_DISPLAY + 1000):
            if os.path.exists(f"/tmp/.X{number}-lock") or os.path.exists(f"/tmp/.X11-unix/X{number}"):
                continue
            try:
                self._start_xvfb(number)
                return
            except RuntimeError:  # taken meanwhile by another agent, or Xvfb refused it
                tries += 1
                if tries >= 5:
                    raise
        raise RuntimeError("no free X display number")

    def _start_xvfb(self, number: int) -> None:
        from xvfbwrapper import Xvfb

        xvfb = Xvfb(
            width=self.width,
            height=self.height,
            colordepth=self.depth,
            display=number,
            environ=dict(os.environ),
            extra_args=["-nolisten", "tcp"],
            timeout=10,
        )
        xvfb.start()
        self.xvfb = xvfb
        self.number = number
        self.generation += 1
        # every process the agent starts from now on (kernels, commands, terminals) sees the display
        os.environ["DISPLAY"] = self.name
        self.events.add(f"Xvfb started on {self.name} at {self.width}x{self.height}x{self.depth} (pid {xvfb.proc.pid})")
        self._start_wm()

    def _start_wm(self) -> None:
        if shutil.which("openbox") is None:
            self.wm = None
            return
        env = {**os.environ, "DISPLAY": self.name}
        self.wm = subprocess.Popen(
            ["openbox", "--sm-disable"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.events.add(f"openbox started (pid {self.wm.pid})")

    def _stop_server(self) -> None:
        if self.wm is not None:
            self._end(self.wm)
            self.wm = None
        if self.xvfb is not None:
            self.xvfb.stop()
            self.xvfb = None
            self.events.add(f"Xvfb on {self.name} stopped")

    @staticmethod
    def _end(child: subprocess.Popen[bytes]) -> None:
        members = proc.descendants(child.pid)
        proc.signal_all(members, signal.SIGTERM)
        try:
            child.wait(3)
        except subprocess.TimeoutExpired:
            proc.signal_all(members, signal.SIGKILL)
            child.wait(3)

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SUPERVISE_EVERY)
            async with self._lock:
                if self.xvfb is not None and not self.running:
                    self.events.add(f"Xvfb on {self.name} died; restarting it")
                    try:
                        await loop.run_in_executor(None, self._stop_server)
                        await loop.run_in_executor(None, self._start_server)
                    except Exception as exc:  # keep supervising: the next round tries again
                        self.events.add(f"Xvfb restart failed: {exc}")
                elif self.wm is not None and self.wm.poll() is not None:
                    self.events.add(f"openbox exited ({self.wm.returncode}); restarting it")
                    await loop.run_in_executor(None, self._start_wm)
