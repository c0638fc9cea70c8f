"""What the desktop needs and lacks: the 503 DESKTOP_NOT_AVAILABLE that names the missing pieces."""

from __future__ import annotations

import importlib.util
import shutil
from typing import Any

from ..core.errors import AgentError

# the program each optional part needs, and the Debian package that brings it
PROGRAMS = {"xclip": "xclip", "ffmpeg": "ffmpeg", "x11vnc": "x11vnc", "tesseract": "tesseract-ocr"}


def unavailable(message: str, missing: list[str], **details: Any) -> AgentError:
    return AgentError("DESKTOP_NOT_AVAILABLE", 503, message, {"missing_dependencies": missing, **details})


def missing_pieces() -> list[str]:
    """What the display itself needs and this machine lacks (Debian package or Python module names)."""
    missing = []
    if shutil.which("Xvfb") is None:
        missing.append("xvfb")
    for module, package in (("mss", "mss"), ("Xlib", "python-xlib")):
        if importlib.util.find_spec(module) is None:
            missing.append(package)
    return missing


def missing_programs() -> list[str]:
    """Packages of the optional parts that are not installed."""
    return [package for program, package in PROGRAMS.items() if shutil.which(program) is None]


def require_programs(*programs: str) -> None:
    """503 naming the packages of `programs` that are not installed."""
    lacking = [PROGRAMS.get(p, p) for p in programs if shutil.which(p) is None]
    if lacking:
        raise unavailable(f"This desktop feature needs {', '.join(lacking)}, which is not installed", lacking)
