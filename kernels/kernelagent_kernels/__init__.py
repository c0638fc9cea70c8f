"""kernelagent's own Jupyter kernels and the kernelspecs the agent starts its kernels from.

- `kernelagent_kernels.bash`, `.javascript`, `.go`: wrapper kernels (ipykernel `Kernel`
  subclasses driving one child process, sharing `kernelagent_kernels.wrapper`), each run as
  `python -m kernelagent_kernels.<name> -f CONNECTION_FILE`.
- `kernelspecs/<name>/kernel.json`: one kernelspec per language, shipped as package data.

This module stays import-light: the agent imports it to find the kernelspecs.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def kernelspecs_dir() -> Path:
    """The directory holding one kernelspec directory per kernel (for KernelSpecManager)."""
    path = files(__name__) / "kernelspecs"
    if not isinstance(path, Path):  # e.g. imported from a zip: kernelspecs must be real files
        raise RuntimeError(f"kernelagent_kernels is not installed as files on disk ({path!r})")
    return path
