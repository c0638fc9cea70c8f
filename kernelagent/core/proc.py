"""Process trees: find what a process started, and end all of it.

One place for the agent's three kinds of tree (a command, a kernel, a terminal's shell): take a
snapshot of the members while the root is alive (children are reparented once it dies), signal
them by pid (psutil checks a pid was not reused) and, where the root leads its own group or
session, by that too, then SIGKILL whatever is left after a grace period.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterable, Sequence

import psutil

POLL = 0.05  # seconds between checks while a tree winds down


def descendants(pid: int | None) -> list[psutil.Process]:
    """The process and all its descendants as they are now (before anyone is reparented)."""
    if not pid:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def session_members(sid: int) -> list[psutil.Process]:
    """The process `sid`, its descendants, and every other process still in its session."""
    members = {p.pid: p for p in descendants(sid)}
    for p in psutil.process_iter():
        try:
            if p.pid not in members and os.getsid(p.pid) == sid:
                members[p.pid] = p
        except (OSError, psutil.Error):
            continue
    return list(members.values())


def own_group(pid: int | None) -> int | None:
    """The pid as a process group to signal, only if it leads its own group (never the agent's)."""
    if not pid:
        return None
    try:
        pgid = os.getpgid(pid)
    except OSError:
        return None
    return pgid if pgid == pid and pgid != os.getpgrp() else None


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def signal_all(procs: Iterable[psutil.Process], sig: int, pgid: int | None = None) -> None:
    """Send `sig` to each process (and to the group `pgid`, if given); the gone are skipped."""
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


async def kill_tree(
    procs: Sequence[psutil.Process],
    grace: float,
    pgid: int | None = None,
    first: Sequence[int] = (signal.SIGTERM,),
) -> int:
    """End a tree: the `first` signals everywhere, then SIGKILL to survivors after `grace` seconds.

    `procs` is a snapshot taken while the root was alive (see `descendants`, `session_members`);
    `pgid` is signalled as a group too, which reaches members that were reparented but kept the
    group. Children forked during the grace are found and killed as well. Returns how many
    processes had to be SIGKILLed.
    """
    for sig in first:
        signal_all(procs, sig, pgid)
    left = list(procs)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        if not left:
            break
        await asyncio.sleep(POLL)
    survivors = [p for p in left if alive(p)]
    for proc in list(survivors):
        try:
            survivors.extend(proc.children(recursive=True))
        except psutil.Error:
            pass
    signal_all(survivors, signal.SIGKILL, pgid)
    return len(survivors)


def kill_children_now() -> int:
    """SIGKILL every descendant of the agent at once (the last step of a shutdown that ran out of
    time); how many there were."""
    procs = descendants(os.getpid())[1:]
    signal_all(procs, signal.SIGKILL)
    return len(procs)
