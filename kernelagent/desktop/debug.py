"""What the desktop's debug routes show: its recent events and the processes that make it up."""

from __future__ import annotations

import psutil

from ..models.desktop import DebugProcess


def describe(pid: int | None, role: str) -> DebugProcess | None:
    """One process of the desktop by pid (None when it is gone)."""
    if not pid:
        return None
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            return {
                "pid": pid,
                "name": p.name(),
                "command": " ".join(p.cmdline()),
                "role": role,
                "running": p.is_running() and p.status() != psutil.STATUS_ZOMBIE,
            }
    except psutil.Error:
        return None


def processes(roles: dict[str, list[int | None]]) -> list[DebugProcess]:
    """The live processes of each role (the X server, window manager, VNC, recorders, clipboard owner)."""
    found = (describe(pid, role) for role, pids in roles.items() for pid in pids)
    return [p for p in found if p is not None]
