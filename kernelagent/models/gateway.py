"""Requests, answers and frames of the Jupyter kernel gateway protocol (/api/kernelspecs, /api/kernels
and the channels WebSocket), the one `jupyter_server`'s GatewayClient speaks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing_extensions import TypedDict

from .base import RequestModel


class KernelCreate(RequestModel):
    """POST /api/kernels: a fresh context whose kernel runs the kernelspec `name`."""

    name: str | None = Field(None, description="a kernelspec name from /api/kernelspecs; default python3")
    env: dict[str, str] | None = Field(
        None, description="GatewayClient's KERNEL_* variables: accepted, not applied (contexts share the agent's env)"
    )


class MessageHeader(BaseModel):
    """A Jupyter message header: its id and type are required, the rest (session, username, date,
    version) travels on as sent."""

    model_config = ConfigDict(strict=True, extra="allow", hide_input_in_errors=True)

    msg_id: str
    msg_type: str


class ChannelFrame(RequestModel):
    """One Jupyter message from the client, in the JSON form of the kernel WebSocket protocol."""

    channel: Literal["shell", "control", "stdin"]
    header: MessageHeader
    parent_header: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    content: dict[str, Any] = Field(default_factory=dict)

    def message(self) -> dict[str, Any]:
        """The message as jupyter_client's Session sends it."""
        return {
            "header": self.header.model_dump(),
            "parent_header": self.parent_header,
            "metadata": self.metadata,
            "content": self.content,
        }


# --- answers ---


class KernelModel(TypedDict):
    """A context seen as a Jupyter kernel (the model of jupyter_server's kernels API)."""

    id: str  # the context id, or (default contexts, whose ids are not UUIDs) a UUID derived from it
    name: str  # its kernelspec
    last_activity: str  # %Y-%m-%dT%H:%M:%S.%fZ, the form GatewayClient parses
    execution_state: str
    connections: int  # channels WebSockets open on it
    context_id: str  # the agent's id for it (/contexts/{context_id}, /execute's context_id)


class KernelSpecModel(TypedDict):
    """A kernelspec as jupyter_server's kernelspecs API describes it (no resources: no logos served)."""

    name: str
    spec: dict[str, Any]  # kernel.json: argv, display_name, language, ...
    resources: dict[str, str]


class KernelSpecList(TypedDict):
    """The kernelspecs of the languages this agent runs."""

    default: str
    kernelspecs: dict[str, KernelSpecModel]
