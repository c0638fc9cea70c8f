"""The agent's private directories: the state dir (mode 0700) and the per-run directories under it.

A run directory (kernel connection files, job spill files) is named after the agent's pid
(`run-<pid>`, short: kernels' IPC socket paths must fit in 107 bytes); one whose agent is gone
(killed, so it could not clean up) is removed when the next agent starts.
"""

from __future__ import annotations

import os
import shutil

import psutil

PREFIX = "run-"


def private_dir(path: str) -> str:
    """`path` created if missing, and made 0700 even if it existed with a wider mode."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _owner(name: str) -> int | None:
    """The pid a run directory is named after (`run-<pid>`), if it is one."""
    if not name.startswith(PREFIX):
        return None
    pid = name[len(PREFIX) :]
    return int(pid) if pid.isdigit() else None


def clear_stale(base: str) -> list[str]:
    """Remove the run directories under `base` whose agent is no longer running; their paths."""
    removed: list[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        pid = _owner(name)
        if pid is None or pid == os.getpid() or psutil.pid_exists(pid):
            continue
        path = os.path.join(base, name)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def run_dir_path(base: str) -> str:
    """Where this agent's run directory under `base` is."""
    return os.path.join(base, f"{PREFIX}{os.getpid()}")


def fresh_run_dir(base: str) -> str:
    """This agent's new private run directory under `base` (itself made private), after clearing
    stale ones (one named after our own pid is a leftover of an agent before a reboot)."""
    private_dir(base)
    clear_stale(base)
    path = run_dir_path(base)
    shutil.rmtree(path, ignore_errors=True)
    os.mkdir(path, 0o700)
    return path
