"""The recorder's ffmpeg command line: fragmented MP4, bounded, sized to the display."""

from __future__ import annotations

from kernelagent.desktop.recording import ffmpeg_args
from kernelagent.models.base import parse_json
from kernelagent.models.desktop import RecordingStart


def test_mp4_is_fragmented_bounded_and_keyed_each_second():
    req = parse_json(RecordingStart, b'{"fps": 10}')
    args = ffmpeg_args(req, ":12", 1280, 800, 60, 1000, "/r/x.mp4")
    line = " ".join(args)
    assert "-f x11grab" in line and "-i :12+0,0" in line and "-video_size 1280x800" in line
    assert "-movflags +frag_keyframe+empty_moov+default_base_moof" in line and "-flush_packets 1" in line
    assert "-t 60 -fs 1000" in line and "-g 10" in line and "-framerate 10" in line
    assert args[-1] == "/r/x.mp4" and "crop" not in line and "-y" in args


def test_webm_and_odd_sizes():
    req = parse_json(RecordingStart, b'{"fps": 5, "format": "webm", "quality": "high"}')
    line = " ".join(ffmpeg_args(req, ":3", 1279, 801, 10.5, 5, "/r/y.webm"))
    assert "-c:v libvpx" in line and "-f webm /r/y.webm" in line and "-t 10.5" in line
    assert "crop=trunc(iw/2)*2:trunc(ih/2)*2" in line
