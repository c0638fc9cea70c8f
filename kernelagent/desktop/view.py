"""The desktop in a browser: a page that runs noVNC (Debian's `novnc` package) against the agent's own
WebSocket bridge, so a person needs nothing but the agent's URL and token.

The token travels in the page's address (a browser cannot set headers on a navigation) and in the
path of noVNC's files, so that their relative module imports keep it and every request is authenticated.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os

from ..core.errors import not_found

NOVNC_DIRS = ("/usr/share/novnc", "/usr/share/javascript/novnc")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>kernelagent desktop</title>
<style>html,body{margin:0;height:100%;background:#202020;overflow:hidden}#screen{width:100%;height:100%}</style>
</head><body><div id="screen"></div>
<script type="module">
import RFB from "./novnc/__TOKEN_PATH__/core/rfb.js";
const token = __TOKEN_JSON__;
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const url = scheme + location.host + "/desktop/vnc/websocket?token=" + encodeURIComponent(token);
const rfb = new RFB(document.getElementById("screen"), url);
rfb.scaleViewport = true;
rfb.focusOnClick = true;
rfb.addEventListener("connect", () => { window.vncConnected = true; document.title = "connected"; rfb.focus(); });
rfb.addEventListener("disconnect", () => { window.vncConnected = false; document.title = "disconnected"; });
rfb.addEventListener("credentialsrequired", () => rfb.sendCredentials({password: prompt("VNC password") || ""}));
window.rfb = rfb;
</script></body></html>
"""


def novnc_root() -> str | None:
    return next((d for d in NOVNC_DIRS if os.path.isfile(os.path.join(d, "core", "rfb.js"))), None)


def page(token: str) -> str:
    """The viewer page for a caller holding `token` (already verified)."""
    from urllib.parse import quote

    as_json = json.dumps(token).replace("</", "<\\/")
    return PAGE.replace("__TOKEN_PATH__", quote(token, safe="")).replace("__TOKEN_JSON__", as_json)


async def asset(name: str) -> tuple[bytes, str]:
    """A noVNC file by its path under the package's directory (contained there), and its media type."""
    root = novnc_root()
    path = os.path.realpath(os.path.join(root or "/nonexistent", name))
    if root is None or os.path.commonpath([path, os.path.realpath(root)]) != os.path.realpath(root):
        raise not_found("FILE_NOT_FOUND", f"No such noVNC file: {name}", path=name)
    if not os.path.isfile(path):
        raise not_found("FILE_NOT_FOUND", f"No such noVNC file: {name}", path=name)

    def read() -> bytes:
        with open(path, "rb") as f:
            return f.read()

    data = await asyncio.get_running_loop().run_in_executor(None, read)
    kind = "text/javascript" if path.endswith((".js", ".mjs")) else mimetypes.guess_type(path)[0]
    return data, kind or "application/octet-stream"
