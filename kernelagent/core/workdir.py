"""The one working-directory rule of every request that runs something."""

from __future__ import annotations

import os
from typing import Any

from ..settings import Settings
from .errors import bad_request

# The contract's default working directory, which the SDK always sends. Where it does not exist
# (an agent configured with another workspace), it stands for the configured workspace.
CONTRACT_WORKSPACE = "/workspace"


def resolve_workdir(settings: Settings, workdir: Any) -> str:
    """A request's workdir (either spelling, already picked) as an existing absolute directory; else 400."""
    if workdir is not None and not isinstance(workdir, str):
        raise bad_request("'workdir' must be a string")
    path = workdir or settings.workspace
    if path.rstrip("/") == CONTRACT_WORKSPACE and not os.path.isdir(path):
        path = settings.workspace
    if "\0" in path or not os.path.isabs(path):
        raise bad_request(f"workdir must be an absolute path: {path!r}", code="INVALID_PATH")
    if not os.path.isdir(path):
        raise bad_request(f"workdir is not a directory: {path}", code="DIRECTORY_NOT_FOUND", path=path)
    return path
