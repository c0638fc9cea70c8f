"""The path policy: which paths the file API may touch.

A path must be absolute, non-empty and free of NUL bytes (else 400); the workspace alias in it
(`/workspace`) stands for the agent's workspace (core/workdir.py); it is resolved with realpath
(symlinks followed, `..` collapsed by the OS's rules) and must then lie inside one of the resolved
allowed roots, checked with os.path.commonpath (never a string prefix), else 403 PATH_NOT_ALLOWED.
Operations act on the resolved path only, never on the caller's string. Removal is the one
exception: it resolves the parent and keeps the last component, so removing a symlink removes the
link, not what it points to.

The policy is about the API's reach, not a sandbox boundary: code run through /execute can do what
it likes. Reads and downloads also hold against a symlink swapped in between the check and the
open (`open_checked`): the final component is opened without following a link, and the file the
descriptor names is checked against the roots again.
"""

from __future__ import annotations

import os

from ..core.errors import bad_request, missing
from ..core.workdir import in_workspace
from ..settings import Settings
from .errors import not_allowed, os_error


class PathPolicy:
    """Resolves a caller's path to the real path an operation may act on, or refuses it."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def roots(self) -> list[str]:
        """The allowed roots (`allowed_roots`, `{workspace}` expanded), resolved."""
        roots = []
        for raw in self.settings.allowed_roots.split(","):
            raw = raw.strip().replace("{workspace}", self.settings.workspace)
            if raw and os.path.isabs(raw):
                roots.append(os.path.realpath(raw))
        return roots

    @staticmethod
    def check_syntax(raw: str | None) -> str:
        """The path as sent, if it is one the policy can judge: present, absolute, without NUL."""
        if not raw:
            raise missing("path")
        if "\0" in raw:
            raise bad_request("Path contains a NUL byte", code="INVALID_PATH", path=raw.replace("\0", "\\0"))
        if not os.path.isabs(raw):
            raise bad_request(f"Path must be absolute: {raw}", code="INVALID_PATH", path=raw)
        return raw

    def contained(self, resolved: str) -> bool:
        """Whether a resolved path lies in (or is) one of the roots."""
        for root in self.roots():
            try:
                if os.path.commonpath([root, resolved]) == root:
                    return True
            except ValueError:
                continue
        return False

    def resolve(self, raw: str | None) -> str:
        """The real path behind raw, if the policy allows it; raises 400 or 403 otherwise."""
        raw = self.check_syntax(raw)
        path = in_workspace(self.settings, raw)  # the alias stands for the workspace
        try:
            resolved = os.path.realpath(path)
        except OSError as exc:  # e.g. a symlink loop or a name too long
            raise os_error(exc, raw) from None
        if not self.contained(resolved):
            raise not_allowed(raw)
        return resolved

    def resolve_parent(self, raw: str | None) -> str:
        """Like resolve(), but the last component is not followed if it is a symlink."""
        raw = self.check_syntax(raw)
        path = in_workspace(self.settings, raw)  # the alias stands for the workspace
        head, name = os.path.split(path.rstrip("/") or "/")
        if name in ("", ".", ".."):
            return self.resolve(raw)
        resolved = os.path.join(os.path.realpath(head), name)
        if not self.contained(resolved):
            raise not_allowed(raw)
        return resolved

    def open_checked(self, resolved: str, raw: str) -> int:
        """Open a resolved path for reading (blocking): a symlink swapped in for its last component
        is refused (ELOOP, 400), and the file actually opened must still lie inside the roots
        (a directory swapped for a link after resolve() is 403); the caller closes the fd."""
        try:
            fd = os.open(resolved, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as exc:
            raise os_error(exc, raw) from None
        try:
            opened = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            opened = resolved  # no /proc: the check at resolve() stands
        if not self.contained(opened):
            os.close(fd)
            raise not_allowed(raw)
        return fd
