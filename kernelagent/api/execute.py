"""Synchronous code execution and contexts."""

from __future__ import annotations

from ..core.clock import utc_now_iso
from .routing import Route
from .base import BaseHandler


class ExecuteHandler(BaseHandler):
    """POST /execute (and its aliases /execute/rich, /execute/ipython)."""

    async def post(self) -> None:
        engine = self.services.engine
        body = self.json_body()
        req = engine.parse_request(body)
        self.write_json(await self.run_once(body, lambda: engine.execute(req)))


class ContextsHandler(BaseHandler):
    def get(self) -> None:
        contexts = self.services.engine.list_contexts()
        self.write_json({"contexts": contexts, "count": len(contexts)})

    async def post(self) -> None:
        body = self.json_body(required=False)
        self.write_json(await self.services.engine.create_context(body.get("language")), status=201)


class ContextHandler(BaseHandler):
    def get(self, context_id: str) -> None:
        self.write_json(self.services.engine.get_context(context_id).info())

    async def delete(self, context_id: str) -> None:
        await self.services.engine.delete_context(context_id)
        self.write_json({"context_id": context_id, "deleted": True})


class ContextInterruptHandler(BaseHandler):
    async def post(self, context_id: str) -> None:
        self.write_json(await self.services.engine.interrupt_context(context_id))


class ContextRestartHandler(BaseHandler):
    async def post(self, context_id: str) -> None:
        self.write_json(await self.services.engine.restart_context(context_id))


class SessionsHandler(BaseHandler):
    def get(self) -> None:
        sessions = self.services.engine.sessions()
        self.write_json({"sessions": sessions, "count": len(sessions), "timestamp": utc_now_iso()})


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
