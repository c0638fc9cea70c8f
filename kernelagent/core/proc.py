"""Process trees: find what a process started, and end all of it.

One place for the agent's three kinds of tree (a command, a kernel, a terminal's shell): take a
snapshot of the members while the root is alive (children are reparented once it dies), signal
them by pid (psutil checks a pid was not reused) and, where the root leads its own group or
session, by that too, then SIGKILL whatever is left after a grace period.

Parentage, groups and sessions can all be left: a child that calls setsid() or double-forks is
reparented out of the tree and into a session of its own. So every tree also carries a marker,
an environment variable (`KA_TREE=<agent pid>-<id>`) set when its root is spawned and inherited
by everything it starts, found again by reading /proc/<pid>/environ. A marker rather than a
cgroup v2: creating cgroups needs a delegated hierarchy, which an agent in an unprivileged
container (its usual home) does not have, while a marker works wherever the agent can read its
own processes' /proc entries. What it cannot catch: a process that execs with a cleared
environment (`env -i`) or rewrites its own environ.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Sequence

import psutil

POLL = 0.05  # seconds between checks while a tree winds down
TREE_ENV = "KA_TREE"  # the marker variable every process of a tree inherits


def watch_children_in_loop() -> None:
    """Wait for asyncio's subprocesses through pidfds in the running loop (Python 3.12's default):
    3.11's default watcher starts a thread per process to wait for it, a cost on every command."""
    if sys.version_info < (3, 12) and hasattr(os, "pidfd_open"):
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)


def new_tree() -> str:
    """A fresh tree marker, prefixed with the agent's pid (so all of the agent's trees can be found)."""
    return f"{os.getpid()}-{uuid.uuid4().hex}"


def marked_env(env: dict[str, str], tree: str) -> dict[str, str]:
    """`env` with the tree's marker, for spawning the tree's root."""
    return {**env, TREE_ENV: tree}


def marked(tree: str) -> list[psutil.Process]:
    """Every live process whose environment carries the marker `tree` (or, for a prefix such as
    the agent's pid and a dash, any marker that starts with it): found by reading /proc."""
    needle = f"\0{TREE_ENV}={tree}".encode()
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = b"\0" + f.read()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ:
            try:
                found.append(psutil.Process(int(name)))
            except psutil.Error:
                continue
    return found


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
    tree: str | None = None,
) -> int:
    """End a tree: the `first` signals everywhere, then SIGKILL to survivors after `grace` seconds.

    `procs` is a snapshot taken while the root was alive (see `descendants`, `session_members`);
    `pgid` is signalled as a group too, which reaches members that were reparented but kept the
    group; `tree` adds every process carrying that marker (see `marked`), which reaches those that
    left the group too. Children forked during the grace are found and killed as well. Returns how
    many processes had to be SIGKILLed.
    """
    if tree is not None:  # and whatever escaped by setsid or double fork
        known = {p.pid for p in procs}
        procs = [*procs, *(p for p in await asyncio.to_thread(marked, tree) if p.pid not in known)]
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
    if tree is not None:
        known = {p.pid for p in survivors}
        survivors.extend(p for p in await asyncio.to_thread(marked, tree) if p.pid not in known and alive(p))
    signal_all(survivors, signal.SIGKILL, pgid)
    return len(survivors)


def kill_children_now() -> int:
    """SIGKILL every descendant of the agent at once (the last step of a shutdown that ran out of
    time); how many there were."""
    procs = descendants(os.getpid())[1:]
    known = {p.pid for p in procs}
    procs += [p for p in marked(f"{os.getpid()}-") if p.pid not in known]  # the agent's trees, escaped or not
    signal_all(procs, signal.SIGKILL)
    return len(procs)
