"""Top-level windows through EWMH (the window manager's published list and the messages it obeys).

Listing reads `_NET_CLIENT_LIST` and each window's name, pid, geometry and state; focus, close,
minimize and resize are client messages to the window manager, which acts on them shortly after.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import not_found
from ..models.desktop import Window
from .xconn import XConnection

ICONIC_STATE = 3
SOURCE_PAGER = 2  # EWMH source indication: a pager or other direct user action


def _atom(conn: Any, name: str) -> int:
    return int(conn.intern_atom(name))


def _prop(conn: Any, win: Any, name: str, kind: int = 0) -> Any:
    prop = win.get_full_property(_atom(conn, name), kind)
    return None if prop is None else prop.value


def _title(conn: Any, win: Any) -> str:
    value = _prop(conn, win, "_NET_WM_NAME", _atom(conn, "UTF8_STRING"))
    if value:
        return bytes(value).decode("utf-8", "replace") if not isinstance(value, str) else value
    name = win.get_wm_name()
    if isinstance(name, bytes):
        return name.decode("latin-1")
    return name or ""


class Windows:
    """Lists and acts on the windows the window manager manages."""

    def __init__(self, x: XConnection):
        self.x = x

    # --- on the X thread ---

    def _ids(self, conn: Any) -> list[int]:
        root = conn.screen().root
        value = _prop(conn, root, "_NET_CLIENT_LIST")
        if value is not None:
            return [int(w) for w in value]
        # no EWMH window manager: the mapped children of the root
        children = root.query_tree().children
        return [c.id for c in children if c.get_attributes().map_state == 2]

    def _describe(self, conn: Any, wid: int, active: int) -> Window | None:
        from Xlib import X, error

        root = conn.screen().root
        win = conn.create_resource_object("window", wid)
        try:
            geometry = win.get_geometry()
            origin = root.translate_coords(win, 0, 0)
            pid = _prop(conn, win, "_NET_WM_PID", X.AnyPropertyType)
            desktop = _prop(conn, win, "_NET_WM_DESKTOP", X.AnyPropertyType)
            state = _prop(conn, win, "_NET_WM_STATE", X.AnyPropertyType)
            title = _title(conn, win)
        except (error.BadWindow, error.BadDrawable, error.BadMatch):
            return None  # closed while we looked
        hidden = _atom(conn, "_NET_WM_STATE_HIDDEN")
        return {
            "id": wid,
            "title": title,
            "x": origin.x,
            "y": origin.y,
            "width": geometry.width,
            "height": geometry.height,
            "desktop": int(desktop[0]) if desktop is not None and len(desktop) else None,
            "pid": int(pid[0]) if pid is not None and len(pid) else None,
            "is_active": wid == active,
            "is_minimized": state is not None and hidden in list(state),
        }

    def _list(self, conn: Any) -> list[Window]:
        from Xlib import X

        active_value = _prop(conn, conn.screen().root, "_NET_ACTIVE_WINDOW", X.AnyPropertyType)
        active = int(active_value[0]) if active_value is not None and len(active_value) else 0
        found = (self._describe(conn, wid, active) for wid in self._ids(conn))
        return [w for w in found if w is not None]

    def _message(self, conn: Any, wid: int, kind: str, data: list[int]) -> None:
        from Xlib import X
        from Xlib.protocol import event

        if wid not in self._ids(conn):
            raise not_found("WINDOW_NOT_FOUND", f"No such window: {wid}", window_id=wid)
        root = conn.screen().root
        win = conn.create_resource_object("window", wid)
        message = event.ClientMessage(window=win, client_type=_atom(conn, kind), data=(32, (data + [0] * 5)[:5]))
        root.send_event(message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        conn.sync()

    # --- the service's calls ---

    async def list(self) -> list[Window]:
        return await self.x.run(self._list)

    async def focus(self, wid: int) -> None:
        await self.x.run(self._message, wid, "_NET_ACTIVE_WINDOW", [SOURCE_PAGER, 0, 0])

    async def close(self, wid: int) -> None:
        await self.x.run(self._message, wid, "_NET_CLOSE_WINDOW", [0, SOURCE_PAGER])

    async def minimize(self, wid: int) -> None:
        await self.x.run(self._message, wid, "WM_CHANGE_STATE", [ICONIC_STATE])

    async def resize(self, wid: int, width: int, height: int) -> None:
        # gravity 0 (the window's own), width and height given (bits 10, 11), from a pager (bits 12-13)
        flags = (1 << 10) | (1 << 11) | (SOURCE_PAGER << 12)
        await self.x.run(self._message, wid, "_NET_MOVERESIZE_WINDOW", [flags, 0, 0, width, height])

    async def geometry(self, wid: int | None) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a window on the screen; None: the active window."""
        windows = await self.list()
        for w in windows:
            if (wid is None and w["is_active"]) or w["id"] == wid:
                return w["x"], w["y"], w["width"], w["height"]
        if wid is None:
            raise not_found("WINDOW_NOT_FOUND", "No window is active")
        raise not_found("WINDOW_NOT_FOUND", f"No such window: {wid}", window_id=wid)
