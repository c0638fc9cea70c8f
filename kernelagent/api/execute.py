"""Synchronous code execution and contexts: /execute (and its aliases), /contexts, /jupyter/sessions."""

from __future__ import annotations

from ..core.clock import utc_now_iso
from ..models.execute import (
    ContextCreate,
    ContextDeleted,
    ContextInfo,
    ContextList,
    ExecuteAnswer,
    ExecuteRequest,
    SessionList,
)
from .base import BaseHandler
from .routing import Route, op


class ExecuteHandler(BaseHandler):
    """POST /execute (and its aliases /execute/rich, /execute/ipython)."""

    @op(
        "Run code in a context (the language's default one unless context_id is given)",
        body=ExecuteRequest,
        response=ExecuteAnswer,
        idempotent=True,
    )
    async def post(self, body: ExecuteRequest) -> ExecuteAnswer:
        return await self.services.engine.execute(body)


class ContextsHandler(BaseHandler):
    """The contexts: each a kernel with its own state."""

    @op("List the contexts, default ones included", response=ContextList)
    def get(self) -> ContextList:
        contexts = self.services.engine.list_contexts()
        return {"contexts": contexts, "count": len(contexts)}

    @op("Make a context with a fresh kernel", body=ContextCreate, body_required=False, response=ContextInfo, status=201)
    async def post(self, body: ContextCreate) -> ContextInfo:
        return await self.services.engine.create_context(body.language)


class ContextHandler(BaseHandler):
    """One context."""

    @op("Describe a context", response=ContextInfo)
    def get(self, context_id: str) -> ContextInfo:
        return self.services.engine.context_info(context_id)

    @op("Delete a context and shut its kernel down", response=ContextDeleted)
    async def delete(self, context_id: str) -> ContextDeleted:
        await self.services.engine.delete_context(context_id)
        return {"context_id": context_id, "deleted": True}


class ContextInterruptHandler(BaseHandler):
    """Interrupt what a context is running (its state is kept)."""

    @op("Interrupt the context's kernel", response=ContextInfo)
    async def post(self, context_id: str) -> ContextInfo:
        return await self.services.engine.interrupt_context(context_id)


class ContextRestartHandler(BaseHandler):
    """Give a context a fresh kernel (its state is lost, its id kept)."""

    @op("Restart the context's kernel", response=ContextInfo)
    async def post(self, context_id: str) -> ContextInfo:
        return await self.services.engine.restart_context(context_id)


class SessionsHandler(BaseHandler):
    """The contexts seen as Jupyter sessions of their kernels."""

    @op("List the kernels' sessions", response=SessionList)
    def get(self) -> SessionList:
        sessions = self.services.engine.sessions()
        return {"sessions": sessions, "count": len(sessions), "timestamp": utc_now_iso()}


routes = [
    Route("/execute", ExecuteHandler),
    Route("/execute/rich", ExecuteHandler),
    Route("/execute/ipython", ExecuteHandler),
    Route("/contexts", ContextsHandler),
    Route("/contexts/{context_id}", ContextHandler),
    Route("/contexts/{context_id}/interrupt", ContextInterruptHandler),
    Route("/contexts/{context_id}/restart", ContextRestartHandler),
    Route("/jupyter/sessions", SessionsHandler),
]
