"""Screen recordings of the desktop (contract 3.8): start, stop, status, download.

Without an id, stop, status and download act on the current recording (the JS SDK names none).
"""

from __future__ import annotations

from ..models import desktop as m
from ..models.base import parse_object
from .desktop import DesktopHandler
from .routing import Route, op


class RecordingStartHandler(DesktopHandler):
    """Start recording the screen (ffmpeg)."""

    @op("Start recording the screen", body=m.RecordingStart, body_required=False, response=m.Recording)
    async def post(self, body: m.RecordingStart) -> m.Recording:
        return await self.desktop.recording_start(body)


class RecordingStopHandler(DesktopHandler):
    """Stop a recording; its file stays for download."""

    @op("Stop a recording (default the current one)", body=m.RecordingStop, body_required=False, response=m.Recording)
    async def post(self, body: m.RecordingStop) -> m.Recording:
        return await self.desktop.recording_stop(body)


class RecordingStatusHandler(DesktopHandler):
    """A recording's status (recording, stopped, failed), duration and size."""

    @op("A recording's status (default the current one)", query=m.RecordingQuery, response=m.Recording)
    def get(self, query: m.RecordingQuery) -> m.Recording:
        return self.desktop.recording_status(query)


class RecordingDownloadHandler(DesktopHandler):
    """A recording's video file, streamed: `?id=`, or the id in the path (the JS SDK's spelling)."""

    @op("A recording's video file (raw bytes)", query=m.RecordingQuery, media_type="video/mp4")
    async def get(self, query: m.RecordingQuery, recording_id: str | None = None) -> None:
        if recording_id is not None:
            query = parse_object(m.RecordingQuery, {"id": recording_id})
        kind, size, chunks = self.desktop.recording_file(query)
        self.set_header("Content-Type", kind)
        self.set_header("Content-Length", str(size))
        async for chunk in chunks:
            self.write(chunk)
            await self.flush()
        self.finish()


routes = [
    Route("/desktop/recording/start", RecordingStartHandler),
    Route("/desktop/recording/stop", RecordingStopHandler),
    Route("/desktop/recording/status", RecordingStatusHandler),
    Route("/desktop/recording/download", RecordingDownloadHandler),
    Route("/desktop/recording/{recording_id}/download", RecordingDownloadHandler),
]
