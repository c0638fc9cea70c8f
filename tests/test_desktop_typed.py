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


def test_region_off_the_screen_is_400(agent):
    r = agent.post("/desktop/screenshot/region", {"x": 20000, "y": 0, "width": 10, "height": 10})
    assert r.status_code == 400 and "outside" in r.json()["message"]
