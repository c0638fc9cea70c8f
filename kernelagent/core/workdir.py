"""The one meaning of `/workspace` for every endpoint, and the working-directory rule of every
request that runs something.

Both SDKs send `workdir: "/workspace"` by default, whatever the agent's `--workspace`. So in any
path a request names (a workdir, a file, a watched path) the workspace alias (`/workspace`, the
setting `workspace_alias`) and everything under it stand for the agent's workspace, as if the alias
were a symlink to it, whether or not a real `/workspace` exists: the same name never means two
places to two endpoints. Where the workspace is `/workspace` itself, nothing changes.
"""

from __future__ import annotations

import os

from ..settings import Settings
from .errors import bad_request


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def in_workspace(settings: Settings, path: str) -> str:
    """`path` with the workspace alias, if it starts with it, replaced by the workspace."""
    alias = _parts(settings.workspace_alias)
    if not alias or not path.startswith("/"):
        return path
    parts = _parts(path)
    if parts[: len(alias)] != alias:
        return path
    return os.path.join(settings.workspace, *parts[len(alias) :])


def resolve_workdir(settings: Settings, workdir: str | None) -> str:
    """A request's workdir (either spelling, already picked; typed by its model) as an existing
    absolute directory; else 400."""
    raw = workdir or settings.workspace
    if "\0" in raw or not os.path.isabs(raw):
        raise bad_request(f"workdir must be an absolute path: {raw!r}", code="INVALID_PATH")
    path = in_workspace(settings, raw)
    if not os.path.isdir(path):
        raise bad_request(f"workdir is not a directory: {raw}", code="DIRECTORY_NOT_FOUND", path=raw)
    return path
