"""Jupyter messages between a kernel (jupyter_client's dicts) and the channels WebSocket (JSON text),
and the few messages the gateway writes itself."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from jupyter_client.jsonutil import json_default

PROTOCOL_VERSION = "5.3"


def to_text(channel: str, msg: dict[str, Any]) -> str:
    """A kernel's message as a frame of the JSON WebSocket protocol. Binary buffers (widgets' comms)
    cannot travel in it and are left out."""
    header = msg["header"]
    return json.dumps(
        {
            "channel": channel,
            "header": header,
            "msg_id": header.get("msg_id"),
            "msg_type": header.get("msg_type"),
            "parent_header": msg.get("parent_header") or {},
            "metadata": msg.get("metadata") or {},
            "content": msg.get("content") or {},
            "buffers": [],
        },
        default=json_default,
    )


def answer(request: dict[str, Any], msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """A message from the kernel's side in answer to `request` (its parent)."""
    parent = request["header"]
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": parent.get("session", ""),
            "username": parent.get("username", ""),
            "date": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "version": PROTOCOL_VERSION,
        },
        "parent_header": parent,
        "metadata": {},
        "content": content,
    }


def unfinished_reply(request: dict[str, Any], status: str, ename: str = "", evalue: str = "") -> list[tuple[str, str]]:
    """(channel, text) frames that end an execute_request the kernel never ran or never finished:
    its execute_reply (`aborted`, or `error` naming why) and the idle status a client waits for too."""
    content: dict[str, Any] = {"status": status, "execution_count": None}
    if status == "error":
        content.update(ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
    return [
        ("shell", to_text("shell", answer(request, "execute_reply", content))),
        ("iopub", to_text("iopub", answer(request, "status", {"execution_state": "idle"}))),
    ]


def parent_id(msg: dict[str, Any]) -> str | None:
    return (msg.get("parent_header") or {}).get("msg_id")
