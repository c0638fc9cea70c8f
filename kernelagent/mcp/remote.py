"""A remote agent as the tools' backend: each call is the HTTP route the SDK would call.

`kernelagent mcp --agent-url URL --token TOKEN` serves the tools over stdio with this backend, so
an LLM client on a desktop drives a sandbox it does not run in. Answers are the routes' JSON
(the same TypedDicts); an error answer becomes the `AgentError` its envelope describes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..core.errors import AgentError
from ..models.commands import CommandRequest, CommandResult
from ..models.desktop import Click, Done, Press, TypeText
from ..models.execute import ContextCreate, ContextDeleted, ContextInfo, ContextList, ExecuteAnswer, ExecuteRequest
from ..models.files import FileContent, FileList, FileResponse, ReadQuery, WriteRequest
from ..models.jobs import BackgroundExecuteRequest, BackgroundStarted, JobRecord, KillAnswer
from ..models.notebooks import Notebook

CONNECT_TIMEOUT = 20.0
SHORT_TIMEOUT = 120.0  # calls that do not run user code
RUN_MARGIN = 60.0  # beyond a run's own timeout: kernel start, interrupt grace, the answer's transfer
LONG_TIMEOUT = 3600.0 + RUN_MARGIN  # a run without a timeout of its own gets the agent's default (at most this)


def _wire(req: BaseModel) -> bytes:
    """A request as the route's JSON body: only the fields the caller set."""
    return req.model_dump_json(exclude_unset=True).encode()


def _run_timeout(timeout: float | None) -> float:
    return timeout + RUN_MARGIN if timeout is not None else LONG_TIMEOUT


class RemoteBackend:
    """The HopX VM Agent API of the agent at `url`, with a bearer token."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.client = AsyncHTTPClient(max_body_size=1 << 30)

    async def call(self, method: str, path: str, body: bytes | None = None, timeout: float = SHORT_TIMEOUT) -> Any:
        """One route's JSON answer; an error status raises the AgentError of its envelope."""
        return json.loads(await self.fetch(method, path, body, timeout) or b"null")

    async def fetch(self, method: str, path: str, body: bytes | None = None, timeout: float = SHORT_TIMEOUT) -> bytes:
        """One route's answer as bytes; an error status raises the AgentError of its envelope."""
        request = HTTPRequest(
            self.url + path,
            method=method,
            headers=self.headers,
            body=body if body is not None else (b"" if method == "POST" else None),
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=timeout,
            allow_nonstandard_methods=True,  # DELETE with a body
        )
        try:
            response = await self.client.fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as exc:
            raise AgentError("AGENT_UNREACHABLE", 502, f"Cannot reach the agent at {self.url}: {exc}") from None
        if response.code == 599:  # Tornado's code for a timeout or a connection failure
            raise AgentError("AGENT_UNREACHABLE", 502, f"No answer from the agent at {self.url}: {response.error}")
        if response.code >= 400:
            try:
                data = json.loads(response.body or b"null")
            except ValueError:
                data = None
            if isinstance(data, dict) and "code" in data:
                raise AgentError(str(data["code"]), response.code, str(data.get("message", "")), data.get("details"))
            raise AgentError("AGENT_ERROR", response.code, f"The agent answered {response.code}")
        return bytes(response.body or b"")

    async def desktop_available(self) -> bool:
        health = await self.call("GET", "/health")
        return bool(health.get("features", {}).get("desktop"))

    async def screenshot(self) -> bytes:
        return await self.fetch("GET", "/desktop/screenshot")

    async def click(self, req: Click) -> Done:
        done: Done = await self.call("POST", "/desktop/mouse/click", _wire(req))
        return done

    async def type_text(self, req: TypeText) -> Done:
        done: Done = await self.call("POST", "/desktop/keyboard/type", _wire(req), _run_timeout(req.seconds))
        return done

    async def press(self, req: Press) -> Done:
        done: Done = await self.call("POST", "/desktop/keyboard/press", _wire(req))
        return done

    async def execute(self, req: ExecuteRequest) -> ExecuteAnswer:
        answer: ExecuteAnswer = await self.call("POST", "/execute", _wire(req), _run_timeout(req.timeout))
        return answer

    async def create_context(self, req: ContextCreate) -> ContextInfo:
        info: ContextInfo = await self.call("POST", "/contexts", _wire(req))
        return info

    async def list_contexts(self) -> ContextList:
        contexts: ContextList = await self.call("GET", "/contexts")
        return contexts

    async def restart_context(self, context_id: str) -> ContextInfo:
        info: ContextInfo = await self.call("POST", f"/contexts/{quote(context_id, safe='')}/restart")
        return info

    async def delete_context(self, context_id: str) -> ContextDeleted:
        deleted: ContextDeleted = await self.call("DELETE", f"/contexts/{quote(context_id, safe='')}")
        return deleted

    async def context_notebook(self, context_id: str) -> Notebook:
        notebook: Notebook = await self.call("GET", f"/contexts/{quote(context_id, safe='')}/notebook")
        return notebook

    async def run_command(self, req: CommandRequest) -> CommandResult:
        result: CommandResult = await self.call("POST", "/commands/run", _wire(req), _run_timeout(req.timeout))
        return result

    async def start_code(self, req: BackgroundExecuteRequest) -> BackgroundStarted:
        started: BackgroundStarted = await self.call("POST", "/execute/background", _wire(req))
        return started

    async def start_command(self, req: CommandRequest) -> BackgroundStarted:
        started: BackgroundStarted = await self.call("POST", "/commands/background", _wire(req))
        return started

    async def job(self, process_id: str) -> JobRecord:
        record: JobRecord = await self.call("GET", f"/execute/processes/{quote(process_id, safe='')}")
        return record

    async def kill_job(self, process_id: str) -> KillAnswer:
        answer: KillAnswer = await self.call("POST", f"/execute/kill/{quote(process_id, safe='')}")
        return answer

    async def read_file(self, query: ReadQuery) -> FileContent:
        args = {"path": query.path, **({"encoding": query.encoding} if query.encoding else {})}
        content: FileContent = await self.call("GET", "/files/read?" + urlencode(args))
        return content

    async def write_file(self, req: WriteRequest) -> FileResponse:
        response: FileResponse = await self.call("POST", "/files/write", _wire(req))
        return response

    async def list_files(self, path: str | None) -> FileList:
        listing: FileList = await self.call("GET", "/files/list" + ("?" + urlencode({"path": path}) if path else ""))
        return listing

    async def remove_file(self, path: str) -> FileResponse:
        response: FileResponse = await self.call("DELETE", "/files/remove?" + urlencode({"path": path}))
        return response
