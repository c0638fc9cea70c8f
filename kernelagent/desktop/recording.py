"""Screen recordings: ffmpeg's x11grab, one process per recording, bounded in length and size.

MP4 is written fragmented (an empty moov up front, a fragment per keyframe, one keyframe a
second), so a recorder killed outright still leaves a file that plays up to its last fragment;
WebM (Matroska) is playable when cut off by nature. Statuses are the SDK's enum: `recording`,
`stopped`, `failed`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from kernelagent_kernels.provisioning import die_with_parent

from ..core import proc
from ..core.clock import iso_from_epoch
from ..core.errors import AgentError, not_found
from ..core.limits import Limiter
from ..models.desktop import Recording as RecordingAnswer
from ..models.desktop import RecordingStart
from ..settings import Settings
from .display import DebugLog, Display

CRF = {"mp4": {"low": 35, "medium": 28, "high": 20}, "webm": {"low": 45, "medium": 35, "high": 24}}
STOP_GRACE = 5.0  # seconds ffmpeg gets to finish its file after SIGINT


def ffmpeg_args(req: RecordingStart, display: str, width: int, height: int, max_seconds: float, max_bytes: int,
                path: str) -> list[str]:  # fmt: skip
    """The ffmpeg command line of a recording (pure, so it is tested without ffmpeg)."""
    # -y: a caller's output_file may exist already; it is replaced, as /files/write would
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "warning", "-f", "x11grab", "-draw_mouse", "1"]
    args += ["-framerate", str(req.fps), "-video_size", f"{width}x{height}", "-i", f"{display}+0,0"]
    args += ["-t", f"{max_seconds:g}", "-fs", str(max_bytes), "-threads", "1", "-g", str(req.fps)]
    if width % 2 or height % 2:
        args += ["-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2"]
    crf = str(CRF[req.format][req.quality])
    if req.format == "mp4":
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", crf, "-pix_fmt", "yuv420p"]
        args += ["-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-flush_packets", "1", "-f", "mp4", path]
    else:
        args += ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", crf]
        args += ["-flush_packets", "1", "-f", "webm", path]
    return args


@dataclass
class Recording:
    """One recording: its process, its file, and what became of it."""

    id: str
    req: RecordingStart
    path: str
    log: str  # ffmpeg's output, in the recorder's directory
    child: asyncio.subprocess.Process
    started: float = field(default_factory=time.time)
    ended: float | None = None
    status: str = "recording"
    error: str = ""
    stopping: bool = False

    @property
    def own(self) -> bool:
        """The file is the recorder's (removed when forgotten), not the caller's output_file."""
        return self.req.output_file is None

    def answer(self) -> RecordingAnswer:
        end = self.ended or time.time()
        size = os.path.getsize(self.path) if os.path.exists(self.path) else 0
        out: RecordingAnswer = {
            "recording_id": self.id,
            "status": self.status,  # type: ignore[typeddict-item]
            "recording": self.status == "recording",
            "duration": round(end - self.started, 3),
            "file_size": size,
            "format": self.req.format,
            "fps": self.req.fps,
            "quality": self.req.quality,
            "start_time": iso_from_epoch(self.started),
            "end_time": iso_from_epoch(self.ended),
        }
        if self.req.output_file is not None:
            out["output_file"] = self.req.output_file  # as the caller named it
        if self.error:
            out["error"] = self.error
        return out


class Recorder:
    """Starts, stops and keeps recordings (at most `max_recordings` at once; a bounded number kept)."""

    def __init__(self, settings: Settings, display: Display, events: DebugLog):
        self.settings = settings
        self.display = display
        self.events = events
        self.dir = settings.recording_dir or os.path.join(settings.state_dir, "recordings")
        self.running = Limiter(settings.max_recordings, "recordings")
        self.items: OrderedDict[str, Recording] = OrderedDict()

    async def start(self, req: RecordingStart, output: str | None = None) -> Recording:
        """A new recording, into `output` (req.output_file as the policy resolved it) or a file of the
        recorder's."""
        self.running.take()
        try:
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
            rid = uuid.uuid4().hex[:16]
            path = output or os.path.join(self.dir, f"{rid}.{req.format}")
            log_path = os.path.join(self.dir, f"{rid}.log")
            d, s = self.display, self.settings
            args = ffmpeg_args(req, d.name, d.width, d.height, s.recording_max_seconds, s.recording_max_bytes, path)
            with open(log_path, "wb") as log:
                child = await asyncio.create_subprocess_exec(
                    *args,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    preexec_fn=die_with_parent(),  # dies with the agent, even one killed outright
                )
        except BaseException:
            self.running.give()
            raise
        rec = Recording(rid, req, path, log_path, child)
        self.items[rid] = rec
        self._forget_old()
        asyncio.create_task(self._watch(rec))
        self.events.add(f"recording {rid} started ({req.format}, {req.fps} fps, pid {child.pid})")
        return rec

    async def _watch(self, rec: Recording) -> None:
        code = await rec.child.wait()
        rec.ended = rec.ended or time.time()
        self.running.give()
        # ffmpeg ends with 0 on its own limits, 255 on our SIGINT; anything else is a failure
        if code in (0, 255) or (rec.stopping and code == -signal.SIGINT):
            rec.status = "stopped"
        else:
            rec.status = "failed"
            rec.error = f"ffmpeg exited with {code}: " + self._log_tail(rec)
            if os.path.exists(rec.path) and os.path.getsize(rec.path):
                rec.error += " (the file holds what was recorded until then)"
        self.events.add(f"recording {rec.id} {rec.status} (exit {code})")

    @staticmethod
    def _log_tail(rec: Recording) -> str:
        try:
            with open(rec.log, "rb") as f:
                return f.read()[-500:].decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def get(self, rid: str | None) -> Recording:
        """A recording by id; without one, the current: the latest running, else the latest."""
        if rid is None:
            running = [r for r in self.items.values() if r.status == "recording"]
            latest = running or list(self.items.values())
            if not latest:
                raise not_found("RECORDING_NOT_FOUND", "No recording has been started")
            return latest[-1]
        rec = self.items.get(rid)
        if rec is None:
            raise not_found("RECORDING_NOT_FOUND", f"No such recording: {rid}", recording_id=rid)
        return rec

    async def stop(self, rid: str | None) -> Recording:
        rec = self.get(rid)
        if rec.child.returncode is None:
            rec.stopping = True
            rec.ended = time.time()
            try:
                rec.child.send_signal(signal.SIGINT)  # ffmpeg finishes the file and exits
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(asyncio.shield(rec.child.wait()), STOP_GRACE)
            except TimeoutError:
                await proc.kill_tree(proc.descendants(rec.child.pid), grace=1.0)
        await asyncio.sleep(0)  # let the watcher record the outcome
        while rec.status == "recording" and rec.child.returncode is not None:
            await asyncio.sleep(0.01)
        return rec

    def file(self, rid: str | None) -> str:
        rec = self.get(rid)
        if not os.path.exists(rec.path):
            raise AgentError("RECORDING_NOT_FOUND", 404, f"Recording {rec.id} has no file", {"recording_id": rec.id})
        return rec.path

    def pids(self) -> list[int]:
        return [r.child.pid for r in self.items.values() if r.child.returncode is None]

    def _forget_old(self) -> None:
        done = [r for r in self.items.values() if r.status != "recording"]
        for rec in done[: max(0, len(done) - self.settings.recording_keep)]:
            del self.items[rec.id]
            for path in [rec.path, rec.log] if rec.own else [rec.log]:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    async def stop_all(self) -> None:
        for rid in [r.id for r in self.items.values() if r.child.returncode is None]:
            await self.stop(rid)

    async def chunks(self, rid: str | None, size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The recording's file in chunks, read off the event loop."""
        loop = asyncio.get_running_loop()
        with open(self.file(rid), "rb") as f:
            while chunk := await loop.run_in_executor(None, f.read, size):
                yield chunk
