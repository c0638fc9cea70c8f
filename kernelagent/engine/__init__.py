"""Kernels: the warm pool, contexts, executions and their outputs.

engine.py routes executions to contexts and owns their lifecycle; context.py is one kernel with
its state (env, workdir, deadlines, death and replacement); supply.py starts, pools and retires
kernels; kernel.py speaks to one kernel; outputs.py gathers a run's output; render.py turns a run
into the /execute answer.
"""

from .engine import Engine

__all__ = ["Engine"]
