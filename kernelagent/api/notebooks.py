"""Notebooks: GET /contexts/{context_id}/notebook (a context's history) and POST /notebooks/run."""

from __future__ import annotations

from ..models.notebooks import Notebook, NotebookRunAnswer, NotebookRunRequest
from .base import BaseHandler
from .routing import Route, op


class ContextNotebookHandler(BaseHandler):
    """A context's executions as a notebook (default contexts by their ids: default-python, ...)."""

    @op("The context's history as an nbformat v4 notebook: one code cell per execution", response=Notebook)
    async def get(self, context_id: str) -> Notebook:
        return await self.services.notebooks.notebook(context_id)


class NotebookRunHandler(BaseHandler):
    """Run a notebook's code cells in order in a context, and answer with the executed notebook."""

    @op(
        "Run a notebook (JSON or a file) cell by cell in a fresh or named context",
        body=NotebookRunRequest,
        response=NotebookRunAnswer,
        idempotent=True,
    )
    async def post(self, body: NotebookRunRequest) -> NotebookRunAnswer:
        return await self.services.notebooks.run(body)


routes = [
    Route("/contexts/{context_id}/notebook", ContextNotebookHandler),
    Route("/notebooks/run", NotebookRunHandler),
]
