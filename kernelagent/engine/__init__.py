"""Kernels: the warm pool, contexts, executions and their outputs."""

from .service import Engine, ExecuteRequest

__all__ = ["Engine", "ExecuteRequest"]
