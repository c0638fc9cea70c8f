"""Wrong types on the desktop's routes are 400s in the envelope naming the field, never 500s."""

from __future__ import annotations

import pytest

CASES = [
    ("/desktop/mouse/click", {"x": "10", "y": 10}, "x"),
    ("/desktop/mouse/click", {"x": 10, "y": 10, "button": "top"}, "button"),
    ("/desktop/mouse/click", {"x": 10, "y": 10, "clicks": 0}, "clicks"),
    ("/desktop/mouse/move", {"x": 1.5, "y": 2}, "x"),
    ("/desktop/mouse/drag", {"from_x": 0, "from_y": 0, "to_x": 5}, "to_y"),
    ("/desktop/mouse/scroll", {"amount": 2, "direction": "sideways"}, "direction"),
    ("/desktop/keyboard/type", {"text": 5}, "text"),
    ("/desktop/keyboard/type", {"text": "a", "delay_ms": -1}, "delay_ms"),
    ("/desktop/keyboard/press", {"key": ["a"]}, "key"),
    ("/desktop/keyboard/press", {"key": "NotAKey"}, "key"),
    ("/desktop/keyboard/combination", {"modifiers": "ctrl", "key": "c"}, "modifiers"),
    ("/desktop/x11/hotkey", {"modifiers": ["ctrl"], "key": 7}, "key"),
    ("/desktop/clipboard/set", {"text": None}, "text"),
    ("/desktop/screenshot/region", {"x": 0, "y": 0, "width": 0, "height": 10}, "width"),
    ("/desktop/windows/focus", {"window_id": "zz"}, "window_id"),
    ("/desktop/windows/close", {"window_id": True}, "window_id"),
    ("/desktop/windows/resize", {"window_id": 5, "width": "big", "height": 10}, "width"),
    ("/desktop/display/set", {"width": 10, "height": 10}, "width"),
    ("/desktop/vnc/start", {"password": 1234}, "password"),
    # the JS SDK's spellings
    ("/desktop/mouse/scroll", {"x": 1, "y": 1, "delta_y": 1000}, "delta_y"),
    ("/desktop/keyboard/combination", {"keys": []}, "keys"),
    ("/desktop/keyboard/combination", {"keys": ["ctrl", 5]}, "keys.1"),
    ("/desktop/keyboard/combination", {}, "key"),
    ("/desktop/clipboard/set", {"content": 5}, "content"),
    ("/desktop/recording/start", {"output_file": 5}, "output_file"),
    ("/desktop/recording/stop", {"recording_id": ""}, "recording_id"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES)
def test_wrong_types_are_400_naming_the_field(agent, path, body, field):
    r = agent.post(path, body)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["code"] in ("INVALID_REQUEST", "MISSING_PARAMETER")
    named = error["details"].get("field") or error["details"].get("parameter")
    assert named == field, error


def test_missing_fields_are_missing_parameter(agent):
    r = agent.post("/desktop/mouse/move", {"x": 1})
    assert r.status_code == 400 and r.json()["code"] == "MISSING_PARAMETER"
    assert r.json()["details"]["parameter"] == "y"
    r = agent.post("/desktop/windows/focus", {})
    assert r.json()["code"] == "MISSING_PARAMETER" and r.json()["details"]["parameter"] == "window_id"


def test_bad_queries_name_the_field(agent):
    r = agent.get("/desktop/x11/capture_window", params={"window_id": "0xnothex"})
    assert r.status_code == 400 and r.json()["details"]["field"] == "window_id"


def test_typing_longer_than_the_max_timeout_is_400(agent_factory):
    a = agent_factory(max_timeout="2")
    r = a.post("/desktop/keyboard/type", {"text": "x" * 30, "delay_ms": 100})
    assert r.status_code == 400 and r.json()["details"]["field"] == "delay_ms"
    r = a.post("/desktop/keyboard/type", {"text": "x" * 10_001})
    assert r.status_code == 400 and r.json()["details"]["field"] == "text"


def test_too_many_recordings_is_429(agent_factory):
    a = agent_factory(max_recordings="1")
    first = a.post("/desktop/recording/start", {"fps": 5})
    assert first.status_code == 200
    r = a.post("/desktop/recording/start", {"fps": 5})
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMIT_EXCEEDED"
    a.post("/desktop/recording/stop", {"recording_id": first.json()["recording_id"]})
    again = a.post("/desktop/recording/start", {"fps": 5})
    assert again.status_code == 200  # the slot came back when the first stopped
    a.post("/desktop/recording/stop", {"recording_id": again.json()["recording_id"]})


def test_region_off_the_screen_is_400(agent):
    r = agent.post("/desktop/screenshot/region", {"x": 20000, "y": 0, "width": 10, "height": 10})
    assert r.status_code == 400 and "outside" in r.json()["message"]


def test_a_recordings_output_file_is_held_to_the_file_policy(agent):
    r = agent.post("/desktop/recording/start", {"output_file": "/etc/x.mp4"})
    assert r.status_code == 403 and r.json()["code"] == "PATH_NOT_ALLOWED", r.text
    r = agent.post("/desktop/recording/start", {"output_file": str(agent.workspace / "no-such-dir" / "x.mp4")})
    assert r.status_code == 400 and r.json()["details"]["field"] == "output_file", r.text
