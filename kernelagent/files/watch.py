"""One filesystem watch: a watchdog observer (inotify on Linux) whose events are turned into the
contract's change messages and handed to the event loop. Each watch owns its observer, so stopping
one never disturbs another."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from watchdog.events import (
    DirModifiedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ..core.clock import utc_now_iso
from ..core.limits import Limiter
from ..models.files import FileChange

if TYPE_CHECKING:
    from .atomic import TempRegistry

Emit = Callable[[FileChange], None]

log = logging.getLogger("kernelagent.watch")

DEBOUNCE = 0.05

KINDS = {"created": "created", "modified": "modified", "deleted": "deleted", "moved": "renamed"}


def _text(p: str | bytes) -> str:
    return os.fsdecode(p) if isinstance(p, bytes) else p


class _Handler(FileSystemEventHandler):
    """watchdog's events (on the observer's thread) as the contract's change messages."""

    def __init__(self, watch: Watch):
        self.watch = watch

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = KINDS.get(event.event_type)
        if kind is None:  # opened, closed, attrib: not part of the contract
            return
        if isinstance(event, DirModifiedEvent):  # a directory's entries changed: the entry's own event says it
            return
        src = _text(event.src_path)
        temps = self.watch.temps
        existed = temps.lookup(src) if temps is not None else None
        if existed is not None:
            # one of the agent's own atomic writes: hide its temp file, and report the final
            # rename as what it means to a watcher, the target created or modified
            if kind != "renamed":
                return
            src, kind = _text(event.dest_path), ("modified" if existed else "created")
        message: FileChange = {
            "type": "change",
            "event": kind,
            "path": self.watch.shown(src),
            "is_directory": event.is_directory,
            "timestamp": utc_now_iso(),
        }
        if kind == "renamed":
            dest = self.watch.shown(_text(event.dest_path))
            message.update({"old_path": message["path"], "new_path": dest, "dest_path": dest})
        self.watch.deliver(message)


class Watch:
    """One watched path: its own observer thread, events debounced and delivered on the loop."""

    def __init__(
        self,
        path: str,
        shown_as: str,
        recursive: bool,
        emit: Emit,
        loop: asyncio.AbstractEventLoop,
        released: Callable[[], None],
        temps: TempRegistry | None = None,
    ):
        self.path = path  # resolved
        self.shown_as = os.path.normpath(shown_as)  # as the caller named it
        self.recursive = recursive
        self.emit = emit
        self.loop = loop
        self.released = released
        self.temps = temps
        self.pending: dict[str, FileChange] = {}  # path -> a "modified" held back (debounce)
        self.observer: Any = None
        self.stopped = False
        self.is_dir = True

    def shown(self, real: str) -> str:
        """Report paths under the name the caller used for the watched directory."""
        if self.shown_as == self.path:
            return real
        rel = os.path.relpath(real, self.path)
        return self.shown_as if rel == "." else os.path.join(self.shown_as, rel)

    def start(self) -> None:
        self.is_dir = os.path.isdir(self.path)
        target = self.path if self.is_dir else os.path.dirname(self.path)
        self.observer = Observer()
        self.observer.daemon = True
        self.observer.schedule(_Handler(self), target, recursive=self.recursive)
        self.observer.start()

    def deliver(self, message: FileChange) -> None:
        """Called on the observer's thread."""
        if self.stopped:
            return
        if (
            not self.is_dir
            and message["path"] != self.shown(self.path)
            and message.get("new_path") != self.shown(self.path)
        ):
            return  # watching one file: its siblings' events are not wanted
        try:
            self.loop.call_soon_threadsafe(self._emit, message)
        except RuntimeError:  # the loop is closed
            pass

    def _emit(self, message: FileChange) -> None:
        """On the loop. A burst of "modified" events for one path goes out as one, DEBOUNCE
        seconds after the first; any other event for that path sends the held one first."""
        if self.stopped:
            return
        path = message["path"]
        if message["event"] == "modified":
            if path not in self.pending:
                self.pending[path] = message
                self.loop.call_later(DEBOUNCE, self._flush, path)
            return
        self._flush(path)
        self.emit(message)

    def _flush(self, path: str) -> None:
        held = self.pending.pop(path, None)
        if held is not None and not self.stopped:
            self.emit(held)

    def stop(self) -> None:
        """Stop delivering at once; the observer thread is joined in the background."""
        if self.stopped:
            return
        self.stopped = True
        self.released()
        observer, self.observer = self.observer, None
        if observer is not None:
            observer.stop()
            self.loop.run_in_executor(None, observer.join, 5)


class WatchSession:
    """The watches of one /files/watch connection, keyed by the path as the caller named it."""

    def __init__(self, start: Callable[[str | None, bool, Emit], Watch], emit: Emit, limit: int = 0):
        self.start = start  # FileService.watch
        self.emit = emit
        self.watches: dict[str | None, Watch] = {}
        # so that one connection cannot take every one of the agent's max_watchers
        self.limit = Limiter(limit, "watches on one connection") if limit > 0 else None

    def watch(self, path: str | None, recursive: bool) -> None:
        """Start watching path (a second watch of the same path is a no-op); past the
        per-connection limit, 429."""
        if path in self.watches:
            return
        if self.limit is None:
            self.watches[path] = self.start(path, recursive, self.emit)
            return
        with self.limit.hold():  # the slot is taken for good below once the watch started
            watch = self.start(path, recursive, self.emit)
        self.limit.take()
        self.watches[path] = watch

    def unwatch(self, path: str | None) -> None:
        watch = self.watches.pop(path, None)
        if watch is not None:
            watch.stop()
            if self.limit is not None:
                self.limit.give()

    def stop_all(self) -> None:
        watches, self.watches = self.watches, {}
        for watch in watches.values():
            watch.stop()
            if self.limit is not None:
                self.limit.give()
