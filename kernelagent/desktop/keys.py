"""Key names: X keysym names, case-insensitive, with the aliases callers use (ctrl, enter, pagedown...).

Pure: it reads python-xlib's keysym tables and never the X server, so it is tested without one.
An unknown name is a 400 naming it, never a silent no-op.
"""

from __future__ import annotations

import functools

from ..core.errors import bad_request

ALIASES = {
    "ctrl": "Control_L",
    "control": "Control_L",
    "lctrl": "Control_L",
    "rctrl": "Control_R",
    "alt": "Alt_L",
    "lalt": "Alt_L",
    "ralt": "Alt_R",
    "altgr": "ISO_Level3_Shift",
    "option": "Alt_L",
    "shift": "Shift_L",
    "lshift": "Shift_L",
    "rshift": "Shift_R",
    "super": "Super_L",
    "win": "Super_L",
    "windows": "Super_L",
    "cmd": "Super_L",
    "command": "Super_L",
    "meta": "Meta_L",
    "enter": "Return",
    "return": "Return",
    "esc": "Escape",
    "escape": "Escape",
    "tab": "Tab",
    "space": "space",
    " ": "space",
    "spacebar": "space",
    "backspace": "BackSpace",
    "bksp": "BackSpace",
    "del": "Delete",
    "delete": "Delete",
    "ins": "Insert",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "page_up": "Prior",
    "pgup": "Prior",
    "pagedown": "Next",
    "page_down": "Next",
    "pgdn": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "arrowup": "Up",
    "arrowdown": "Down",
    "arrowleft": "Left",
    "arrowright": "Right",
    "capslock": "Caps_Lock",
    "caps": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "printscreen": "Print",
    "prtsc": "Print",
    "print": "Print",
    "pause": "Pause",
    "break": "Break",
    "menu": "Menu",
    "apps": "Menu",
    "plus": "plus",
    "minus": "minus",
    "comma": "comma",
    "period": "period",
    "slash": "slash",
    "backslash": "backslash",
}

MODIFIER_NAMES = {"Control_L", "Control_R", "Alt_L", "Alt_R", "Shift_L", "Shift_R", "Super_L", "Super_R", "Meta_L",
                  "Meta_R", "ISO_Level3_Shift", "Hyper_L", "Hyper_R"}  # fmt: skip


@functools.cache
def _tables() -> tuple[dict[str, int], dict[str, int]]:
    """Every keysym name python-xlib knows: exactly as spelled, and lower-cased (first spelling wins)."""
    from Xlib import XK
    from Xlib.keysymdef import __all__ as groups

    for group in groups:
        XK.load_keysym_group(group)
    exact = {name[3:]: value for name, value in vars(XK).items() if name.startswith("XK_") and isinstance(value, int)}
    lower: dict[str, int] = {}
    for name, value in sorted(exact.items()):
        lower.setdefault(name.lower(), value)
    return exact, lower


def char_keysym(char: str) -> int:
    """The keysym that types `char`: Latin-1 keysyms are their code points, others the Unicode range."""
    if char == "\n" or char == "\r":
        return _tables()[0]["Return"]
    if char == "\t":
        return _tables()[0]["Tab"]
    if char == "\b":
        return _tables()[0]["BackSpace"]
    code = ord(char)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 | code


def keysym(name: str, field: str = "key") -> int:
    """The keysym of a key name (alias, keysym name in any case, or one character); unknown: 400."""
    exact, lower = _tables()
    if len(name) == 1:
        return char_keysym(name)
    alias = ALIASES.get(name.lower())
    if alias is not None:
        return exact[alias]
    if name in exact:
        return exact[name]
    if name.lower() in lower:
        return lower[name.lower()]
    if name[:2] in ("U+", "u+", "0x"):
        try:
            return 0x01000000 | int(name[2:], 16) if name[0] in "Uu" else int(name, 16)
        except ValueError:
            pass
    raise bad_request(f"Unknown key name: {name!r}", field=field, key=name)


def chord(key: str, modifiers: list[str] | None = None, field: str = "key") -> list[int]:
    """Modifiers then the key, as keysyms; `key` may itself be a chord such as "ctrl+shift+t"."""
    names = list(modifiers or [])
    parts = key.split("+") if len(key) > 1 and "+" in key.strip("+") else [key]
    names += parts[:-1]
    syms = [keysym(m, "modifiers") for m in names]
    syms.append(keysym(parts[-1], field))
    return syms
