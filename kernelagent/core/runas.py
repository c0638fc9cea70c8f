"""The unprivileged user executed code runs as (setting `run_as_user`), when the agent runs as root.

Kernels, commands (foreground and background) and terminal shells are spawned as that user: its
uid, its primary gid and its supplementary groups, with HOME, USER and LOGNAME of its own. Code
they run cannot then read the agent's environment (/proc/<agent pid>/environ), its memory or its
state dir (0700, the agent's). The agent keeps root, so it can still signal, interrupt and kill
every tree it started.

The seams: subprocess.Popen's and asyncio's `user`, `group` and `extra_groups` keyword arguments
(`popen_kwargs`), and for the terminal, which ptyprocess forks itself, a `preexec_fn` (`drop`).
"""

from __future__ import annotations

import dataclasses
import functools
import grp
import logging
import os
import pwd
import tempfile
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("kernelagent")


class RunAsError(Exception):
    """The setting names a user the agent cannot run code as; the agent refuses to start."""


@dataclass(frozen=True)
class RunAs:
    """A local user to spawn executed code as: its ids, groups and home."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @classmethod
    def lookup(cls, name: str) -> RunAs:
        """The user called `name` (or with that numeric uid); RunAsError when there is none, or
        when the agent is not root and so could not switch to it."""
        try:
            entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        except (KeyError, ValueError):
            raise RunAsError(f"run_as_user: no local user called {name!r} (KERNELAGENT_RUN_AS_USER)") from None
        if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
            raise RunAsError(f"run_as_user={name!r} needs the agent to run as root (it runs as uid {os.geteuid()})")
        groups = {g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem} | {entry.pw_gid}
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, tuple(sorted(groups)), entry.pw_dir)

    def popen_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of subprocess.Popen and asyncio.create_subprocess_exec that spawn as this user."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def environ(self, env: Mapping[str, str], keep: Container[str] = ()) -> dict[str, str]:
        """`env` with this user's HOME, USER and LOGNAME, except those in `keep` (set by the caller)."""
        own = {"HOME": self.home, "USER": self.name, "LOGNAME": self.name}
        return {**env, **{k: v for k, v in own.items() if k not in keep}}

    def drop(self) -> None:
        """Become this user (for a preexec_fn, in a forked child): its terminal, if it has one,
        is given to it first, then groups, gid and uid are set, in that order."""
        try:
            os.chown(os.ttyname(0), self.uid, -1)
        except OSError:
            pass  # no terminal on stdin
        os.setgroups(list(self.groups))
        os.setgid(self.gid)
        os.setuid(self.uid)

    def give(self, path: str) -> None:
        """Make `path` this user's (owner and group). A symbolic link is not followed: `path` may sit
        in a directory this user controls (its run dir), where it could swap a file for a link."""
        os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def prepare(self, workspace: str, created: bool) -> None:
        """At start: a workspace the agent just `created` becomes this user's; one that existed is
        left as it is (the operator's), with a warning if this user cannot write it. A stand-in
        home (see `run_as`) is made here, this user's, mode 0700."""
        if created:
            self.give(workspace)
        elif not self.can_write(workspace):
            log.warning("run_as_user %s cannot write the workspace %s (it existed; left so)", self.name, workspace)
        if not os.path.isdir(self.home):
            os.makedirs(self.home, mode=0o700)
            self.give(self.home)

    def can_write(self, path: str) -> bool:
        """Whether this user may create files in the directory `path`, by its mode bits."""
        st = os.stat(path)
        if st.st_uid == self.uid:
            return bool(st.st_mode & 0o300 == 0o300)
        if st.st_gid in self.groups:
            return bool(st.st_mode & 0o030 == 0o030)
        return bool(st.st_mode & 0o003 == 0o003)


@functools.cache
def run_as(name: str) -> RunAs | None:
    """The user of the setting `run_as_user` (looked up once), or None when it is empty or names
    the agent's own user: then code runs as the agent, as without the setting."""
    if not name.strip():
        return None
    user = RunAs.lookup(name.strip())
    if user.uid == os.geteuid():
        return None
    if not (os.path.isdir(user.home) and user.can_write(user.home)):
        # tools keep caches in HOME (Go's build cache, IPython, matplotlib): a home of its own
        stand_in = os.path.join(shared_base(), f"home-{user.name}")
        log.warning("run_as_user %s has no writable home (%s); HOME is %s", user.name, user.home, stand_in)
        user = dataclasses.replace(user, home=stand_in)
    return user


def shared_base() -> str:
    """The agent's directory in /tmp for what that user must reach (kernels' run dirs, a stand-in
    home): the agent's, mode 0711 (others pass through, cannot list)."""
    return os.path.join(tempfile.gettempdir(), f"kernelagent-{os.getuid()}-runas")


def new_owner(name: str) -> tuple[int, int] | None:
    """(uid, gid) that what the agent creates for executed code (files, directories) should get
    under the setting `run_as_user` = `name`; None when code runs as the agent."""
    user = run_as(name)
    return (user.uid, user.gid) if user is not None else None
