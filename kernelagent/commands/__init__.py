"""Shell commands: a typed request made into a spec (service.py), run as a process tree (run.py)."""

from .run import CommandRun, CommandSpec, OutputSink
from .service import CommandService

__all__ = ["CommandRun", "CommandService", "CommandSpec", "OutputSink"]
