"""Mouse and keyboard through XTest, on the agent's one persistent X connection.

Each action is a few XTest requests and one round trip (so it has happened when the answer
goes out): well under a millisecond, where spawning xdotool costs milliseconds per action. A
character that no key of the keymap produces is typed by binding its keysym to a spare keycode
(a few are rotated, so a client still reading the previous binding is not caught out).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from ..core.errors import AgentError
from .keys import char_keysym, chord, keysym
from .xconn import XConnection

BUTTONS = {"left": 1, "middle": 2, "right": 3}
SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}
CLICK_GAP = 0.02  # seconds between the clicks of a double or triple click
SPARE_KEYCODES = 8  # keycodes borrowed, in rotation, for characters not on the keymap


class Keymap:
    """Which keycode (and shift level) types a keysym; spare keycodes bound on demand."""

    def __init__(self) -> None:
        self.generation = -1
        self.spares: list[int] = []
        self.bound: OrderedDict[int, int] = OrderedDict()  # keysym -> spare keycode, least recent first

    def reset(self, conn: Any, generation: int) -> None:
        if generation == self.generation:
            return
        first = conn.display.info.min_keycode
        count = conn.display.info.max_keycode - first + 1
        mapping = conn.get_keyboard_mapping(first, count)
        self.spares = [first + i for i, syms in enumerate(mapping) if not any(syms)][-SPARE_KEYCODES:]
        self.bound.clear()
        self.generation = generation

    def lookup(self, conn: Any, sym: int) -> tuple[int, bool]:
        """(keycode, needs shift) for `sym`, binding a spare keycode when the keymap has none."""
        if sym in self.bound:
            self.bound.move_to_end(sym)
            return self.bound[sym], False
        for code, index in conn.keysym_to_keycodes(sym):
            if index in (0, 1):
                return code, index == 1
        if not self.spares:
            return 0, False
        if len(self.bound) < len(self.spares):
            code = self.spares[len(self.bound)]
        else:
            _, code = self.bound.popitem(last=False)
        conn.change_keyboard_mapping(code, [(sym, sym)])
        conn.sync()
        self.bound[sym] = code
        return code, False


class Input:
    """Moves, clicks, drags, scrolls and types on the display."""

    def __init__(self, x: XConnection):
        self.x = x
        self.keymap = Keymap()

    # --- on the X thread ---

    def _motion(self, conn: Any, x: int | None, y: int | None) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        if x is not None and y is not None:
            xtest.fake_input(conn, X.MotionNotify, x=x, y=y)

    def _button(self, conn: Any, button: int, press: bool) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(conn, X.ButtonPress if press else X.ButtonRelease, button)

    def _key(self, conn: Any, sym: int, press: bool) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        self.keymap.reset(conn, self.x.display.generation)
        code, shift = self.keymap.lookup(conn, sym)
        if not code:  # a keymap without one free keycode: nothing can be bound, say so
            raise AgentError("KEY_NOT_TYPABLE", 422, f"No keycode is free to type keysym {sym:#x}", {"keysym": sym})
        shift_code = conn.keysym_to_keycode(keysym("Shift_L")) if shift else 0
        if press:
            if shift_code:
                xtest.fake_input(conn, X.KeyPress, shift_code)
            xtest.fake_input(conn, X.KeyPress, code)
        else:
            xtest.fake_input(conn, X.KeyRelease, code)
            if shift_code:
                xtest.fake_input(conn, X.KeyRelease, shift_code)

    def _click(self, conn: Any, x: int | None, y: int | None, button: int) -> None:
        self._motion(conn, x, y)
        self._button(conn, button, True)
        self._button(conn, button, False)
        conn.sync()

    def _keys(self, conn: Any, syms: list[int]) -> None:
        """Press `syms` in order and release them in reverse (a chord, or one key)."""
        for sym in syms:
            self._key(conn, sym, True)
        for sym in reversed(syms):
            self._key(conn, sym, False)
        conn.sync()

    def _drag(self, conn: Any, fx: int, fy: int, tx: int, ty: int, button: int) -> None:
        self._motion(conn, fx, fy)
        self._button(conn, button, True)
        conn.sync()
        steps = 8
        for i in range(1, steps + 1):
            self._motion(conn, fx + (tx - fx) * i // steps, fy + (ty - fy) * i // steps)
        conn.sync()
        self._button(conn, button, False)
        conn.sync()

    def _move(self, conn: Any, x: int, y: int) -> None:
        self._motion(conn, x, y)
        conn.sync()

    # --- the service's calls ---

    async def move(self, x: int, y: int) -> None:
        await self.x.run(self._move, x, y)

    async def click(self, x: int | None, y: int | None, button: str, clicks: int) -> None:
        for i in range(clicks):
            if i:
                await asyncio.sleep(CLICK_GAP)
            await self.x.run(self._click, x, y, BUTTONS[button])

    async def drag(self, fx: int, fy: int, tx: int, ty: int, button: str) -> None:
        await self.x.run(self._drag, fx, fy, tx, ty, BUTTONS[button])

    async def scroll(self, amount: int, direction: str, x: int | None, y: int | None) -> None:
        button = SCROLL_BUTTONS[direction]
        for i in range(amount):
            await self.x.run(self._click, x if i == 0 else None, y if i == 0 else None, button)

    async def press(self, key: str, modifiers: list[str] | None = None) -> None:
        """A key, or a chord (modifiers held around the key); unknown names are a 400 before anything is sent."""
        await self.x.run(self._keys, chord(key, modifiers))

    async def type(self, text: str, delay: float) -> None:
        """Each character as a key press, `delay` seconds apart (the X thread is free in between)."""
        syms = [char_keysym(c) for c in text]
        if delay <= 0:
            await self.x.run(self._type_all, syms)
            return
        for i, sym in enumerate(syms):
            if i:
                await asyncio.sleep(delay)
            await self.x.run(self._keys, [sym])

    def _type_all(self, conn: Any, syms: list[int]) -> None:
        for sym in syms:
            self._keys(conn, [sym])
