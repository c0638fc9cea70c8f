"""The X display: Xvfb (`-nolisten tcp`) and openbox, started and supervised.

Xvfb is started directly rather than through xvfbwrapper: its Popen takes no `preexec_fn`, so it
cannot ask for PR_SET_PDEATHSIG, and an agent killed outright left Xvfb running; and Xvfb's own
`-displayfd` picks a free display and says when it is ready, where xvfbwrapper polls for a socket
and draws a random display number up to 2**31.

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
import select
import shutil
import signal
import subprocess
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from kernelagent_kernels.provisioning import die_with_parent

from ..core import proc
from ..core.clock import utc_now_iso
from ..settings import Settings

log = logging.getLogger("kernelagent.desktop")

START_TIMEOUT = 10.0  # seconds for Xvfb to accept clients
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
        self.xvfb: subprocess.Popen[bytes] | None = None
        # one thread starts and stops the servers: PR_SET_PDEATHSIG is tied to the forking thread,
        # and this one lives as long as the display, so the servers die with an agent killed outright
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desktop-display")
        self.wm: subprocess.Popen[bytes] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return f":{self.number}" if self.number is not None else ""

    @property
    def running(self) -> bool:
        return self.xvfb is not None and self.xvfb.poll() is None

    def processes(self) -> dict[str, int | None]:
        """Pids of the display's own processes, by role."""
        xvfb_pid = self.xvfb.pid if self.xvfb is not None and self.running else None
        wm_pid = self.wm.pid if self.wm is not None and self.wm.poll() is None else None
        return {"xvfb": xvfb_pid, "window_manager": wm_pid}

    async def start(self) -> None:
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(self.executor, self._start_server)
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(self.executor, self._stop_server)
        self.executor.shutdown(wait=False)

    async def resize(self, width: int, height: int) -> None:
        """Restart the server at a new size (windows on it are lost)."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.executor, self._stop_server)
            self.width, self.height = width, height
            await loop.run_in_executor(self.executor, self._start_server)

    # --- blocking parts, run in an executor ---

    def _start_server(self) -> None:
        """Xvfb on the configured display, or on the first free one it finds itself (`-displayfd`:
        it writes the number once it accepts clients, so there is no polling and no lock race)."""
        read_end, write_end = os.pipe()
        screen = f"{self.width}x{self.height}x{self.depth}"
        args = ["Xvfb", *([self.name] if self.number is not None else []), "-screen", "0", screen]
        args += ["-nolisten", "tcp", "-displayfd", str(write_end)]
        try:
            self.xvfb = subprocess.Popen(
                args,
                pass_fds=(write_end,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=die_with_parent(),  # noqa: PLW1509  (one libc call, set up in the parent)
            )
        finally:
            os.close(write_end)
        with os.fdopen(read_end, "rb") as ready:
            if not select.select([ready], [], [], START_TIMEOUT)[0]:
                self._end(self.xvfb)
                raise RuntimeError(f"Xvfb did not start within {START_TIMEOUT:g} s")
            number = ready.readline().strip()
        if not number.isdigit():
            code = self.xvfb.wait(5)
            raise RuntimeError(f"Xvfb exited ({code}) before opening a display")
        self.number = int(number)
        self.generation += 1
        # every process the agent starts from now on (kernels, commands, terminals) sees the display
        os.environ["DISPLAY"] = self.name
        self.events.add(f"Xvfb started on {self.name} at {self.width}x{self.height}x{self.depth} (pid {self.xvfb.pid})")
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
            preexec_fn=die_with_parent(),  # noqa: PLW1509
        )
        self.events.add(f"openbox started (pid {self.wm.pid})")

    def _stop_server(self) -> None:
        if self.wm is not None:
            self._end(self.wm)
            self.wm = None
        if self.xvfb is not None:
            self._end(self.xvfb)
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
                        await loop.run_in_executor(self.executor, self._stop_server)
                        await loop.run_in_executor(self.executor, self._start_server)
                    except Exception as exc:  # keep supervising: the next round tries again
                        self.events.add(f"Xvfb restart failed: {exc}")
                elif self.wm is not None and self.wm.poll() is not None:
                    self.events.add(f"openbox exited ({self.wm.returncode}); restarting it")
                    await loop.run_in_executor(self.executor, self._start_wm)
