"""What the MCP tools call: the agent's services in-process (`/mcp`), or a remote agent (stdio).

`Backend` is the one seam: each method is what one HTTP route does, taking the route's typed
request and answering its typed result, so a tool is the same call whichever way it is served,
and the agent's limits (output caps, deadlines, rate limits) apply unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..models.commands import CommandRequest, CommandResult
from ..models.desktop import Click, Done, Press, TypeText
from ..models.execute import ContextCreate, ContextDeleted, ContextInfo, ContextList, ExecuteAnswer, ExecuteRequest
from ..models.files import FileContent, FileList, FileResponse, ReadQuery, WriteRequest
from ..models.jobs import BackgroundExecuteRequest, BackgroundStarted, JobRecord, KillAnswer
from ..models.notebooks import Notebook

if TYPE_CHECKING:
    from ..services import Services


class Backend(Protocol):
    """The agent's operations the tools use; errors are `AgentError`s, as the services raise them."""

    async def execute(self, req: ExecuteRequest) -> ExecuteAnswer: ...
    async def create_context(self, req: ContextCreate) -> ContextInfo: ...
    async def list_contexts(self) -> ContextList: ...
    async def restart_context(self, context_id: str) -> ContextInfo: ...
    async def delete_context(self, context_id: str) -> ContextDeleted: ...
    async def context_notebook(self, context_id: str) -> Notebook: ...
    async def run_command(self, req: CommandRequest) -> CommandResult: ...
    async def start_code(self, req: BackgroundExecuteRequest) -> BackgroundStarted: ...
    async def start_command(self, req: CommandRequest) -> BackgroundStarted: ...
    async def job(self, process_id: str) -> JobRecord: ...
    async def kill_job(self, process_id: str) -> KillAnswer: ...
    async def read_file(self, query: ReadQuery) -> FileContent: ...
    async def write_file(self, req: WriteRequest) -> FileResponse: ...
    async def list_files(self, path: str | None) -> FileList: ...
    async def remove_file(self, path: str) -> FileResponse: ...
    async def desktop_available(self) -> bool: ...
    async def screenshot(self) -> bytes: ...
    async def click(self, req: Click) -> Done: ...
    async def type_text(self, req: TypeText) -> Done: ...
    async def press(self, req: Press) -> Done: ...


class LocalBackend:
    """The services container of this agent: the same calls its HTTP handlers make."""

    def __init__(self, services: Services):
        self.services = services

    async def execute(self, req: ExecuteRequest) -> ExecuteAnswer:
        return await self.services.engine.execute(req)

    async def create_context(self, req: ContextCreate) -> ContextInfo:
        return await self.services.engine.create_context(req.language)

    async def list_contexts(self) -> ContextList:
        contexts = self.services.engine.list_contexts()
        return {"contexts": contexts, "count": len(contexts)}

    async def restart_context(self, context_id: str) -> ContextInfo:
        return await self.services.engine.restart_context(context_id)

    async def delete_context(self, context_id: str) -> ContextDeleted:
        await self.services.engine.delete_context(context_id)
        return {"context_id": context_id, "deleted": True}

    async def context_notebook(self, context_id: str) -> Notebook:
        return await self.services.notebooks.notebook(context_id)

    async def run_command(self, req: CommandRequest) -> CommandResult:
        return await self.services.commands.run(req)

    async def start_code(self, req: BackgroundExecuteRequest) -> BackgroundStarted:
        return await self.services.jobs.start_background(req)

    async def start_command(self, req: CommandRequest) -> BackgroundStarted:
        return await self.services.jobs.start_command(req)

    async def job(self, process_id: str) -> JobRecord:
        return self.services.jobs.info(process_id)

    async def kill_job(self, process_id: str) -> KillAnswer:
        return await self.services.jobs.kill(process_id)

    async def read_file(self, query: ReadQuery) -> FileContent:
        return await self.services.files.read(query)

    async def write_file(self, req: WriteRequest) -> FileResponse:
        return await self.services.files.write(req)

    async def list_files(self, path: str | None) -> FileList:
        return await self.services.files.list(path)

    async def remove_file(self, path: str) -> FileResponse:
        return await self.services.files.remove(path)

    async def desktop_available(self) -> bool:
        return self.services.desktop.available

    async def screenshot(self) -> bytes:
        self.services.desktop.require()
        return await self.services.desktop.screenshot()

    async def click(self, req: Click) -> Done:
        self.services.desktop.require()
        return await self.services.desktop.click(req)

    async def type_text(self, req: TypeText) -> Done:
        self.services.desktop.require()
        return await self.services.desktop.type_text(req)

    async def press(self, req: Press) -> Done:
        self.services.desktop.require()
        return await self.services.desktop.press(req)
