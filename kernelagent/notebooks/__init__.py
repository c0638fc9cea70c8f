"""Notebooks: a context's history as an nbformat v4 notebook, and notebooks run cell by cell in a context.

cells.py turns one execution's answer into nbformat outputs and a code cell; document.py builds a
context's notebook and reads a caller's (nbformat validates it); run.py runs a notebook's code cells
under deadlines; service.py is what the handlers call. The history itself is the engine's
(engine/history.py): every context keeps one.
"""

from .service import NotebookService

__all__ = ["NotebookService"]
