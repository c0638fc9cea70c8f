"""Desktop pieces without an X server: key names, window ids, region clipping, request models."""

from __future__ import annotations

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.desktop.keys import char_keysym, chord, keysym
from kernelagent.desktop.screen import clip
from kernelagent.models.base import parse_json, parse_object
from kernelagent.models.desktop import Click, ClipboardSet, Combination, Scroll, WindowQuery, WindowTarget


@pytest.mark.parametrize(
    ("name", "sym"),
    [
        ("Return", 0xFF0D),
        ("return", 0xFF0D),
        ("ENTER", 0xFF0D),
        ("esc", 0xFF1B),
        ("pagedown", 0xFF56),
        ("PageUp", 0xFF55),
        ("ctrl", 0xFFE3),
        ("Super", 0xFFEB),
        ("f12", 0xFFC9),
        ("a", 0x61),
        ("A", 0x41),
        ("é", 0xE9),
        ("€", 0x010020AC),
        ("eacute", 0xE9),
        ("U+263A", 0x0100263A),
    ],
)
def test_key_names_and_aliases(name, sym):
    assert keysym(name) == sym


def test_unknown_key_is_400_naming_it():
    with pytest.raises(AgentError) as err:
        keysym("hyperdrive")
    assert err.value.status == 400 and err.value.details == {"field": "key", "key": "hyperdrive"}
    with pytest.raises(AgentError) as err:
        chord("c", ["ctrl", "nope"])
    assert err.value.details["field"] == "modifiers"


def test_chords():
    assert chord("ctrl+shift+t") == [0xFFE3, 0xFFE1, 0x74]
    assert chord("+") == [0x2B]
    assert chord("c", ["ctrl"]) == [0xFFE3, 0x63]


def test_characters_type_as_keysyms():
    assert [char_keysym(c) for c in "a\n\t ÿ日"] == [0x61, 0xFF0D, 0xFF09, 0x20, 0xFF, 0x010065E5]


@pytest.mark.parametrize(("sent", "wid"), [(42, 42), ("42", 42), ("0x2a", 42), ("0X2A", 42)])
def test_window_ids_in_every_spelling(sent, wid):
    assert parse_object(WindowTarget, {"window_id": sent}).window_id == wid
    assert parse_object(WindowQuery, {"window_id": str(sent)}).window_id == wid


@pytest.mark.parametrize("sent", ["zz", True, 0, -1, 1.5, "0x"])
def test_bad_window_ids_name_the_field(sent):
    with pytest.raises(AgentError) as err:
        parse_object(WindowTarget, {"window_id": sent})
    assert err.value.details["field"] == "window_id"


def test_click_defaults_and_strict_types():
    click = parse_json(Click, b'{"x": 1, "y": 2}')
    assert (click.button, click.clicks) == ("left", 1)
    with pytest.raises(AgentError) as err:
        parse_json(Click, b'{"x": "1", "y": 2}')
    assert err.value.details["field"] == "x"
    assert parse_json(Combination, b'{"key": "c"}').modifiers == []


def test_regions_are_clipped_to_the_screen():
    assert clip((0, 0, 100, 100), 1280, 800) == (0, 0, 100, 100)
    assert clip((-10, -10, 100, 100), 1280, 800) == (0, 0, 90, 90)
    assert clip((1200, 700, 200, 200), 1280, 800) == (1200, 700, 80, 100)
    with pytest.raises(AgentError):
        clip((2000, 0, 10, 10), 1280, 800)


def test_the_js_sdks_spellings_mean_the_same():
    assert parse_json(Combination, b'{"keys": ["ctrl", "shift", "t"]}').chord == ("t", ["ctrl", "shift"])
    assert parse_json(Combination, b'{"modifiers": ["alt"], "key": "x", "keys": ["y"]}').chord == ("x", ["alt"])
    assert parse_json(Scroll, b'{"x": 5, "y": 6, "delta_y": -3}').steps == (3, "up")
    assert parse_json(Scroll, b'{"delta_y": 2}').steps == (2, "down")
    assert parse_json(Scroll, b'{"amount": 4, "direction": "left"}').steps == (4, "left")
    assert parse_json(ClipboardSet, b'{"content": "c"}').value == "c"
    assert parse_json(ClipboardSet, b'{"text": "t", "content": "c"}').value == "t"
    with pytest.raises(AgentError) as err:
        _ = parse_json(Combination, b"{}").chord
    assert err.value.details["parameter"] == "key"
    with pytest.raises(AgentError) as err:
        _ = parse_json(ClipboardSet, b"{}").value
    assert err.value.details["parameter"] == "text"
