"""Reading the screen: Tesseract over a screenshot, as text and as word boxes in screen coordinates.

Tesseract runs as `tesseract stdin stdout tsv` with the PNG on its stdin (no temporary files) and
OMP_THREAD_LIMIT=1 in its own environment only: with its default OpenMP threads a full screen
takes 5 to 6 s on a small machine, with one 0.9 s. (pytesseract would do the same through a temp
file, and reads its environment from the agent's own, which kernels inherit, so the limit would
leak into every user's numpy.) At most `MAX_AT_ONCE` runs at once; more are a 429.
"""

from __future__ import annotations

import asyncio
import os
import re

from ..core.errors import AgentError, bad_request, not_found
from ..core.limits import Limiter
from ..models.base import within_max_timeout
from ..models.desktop import Box, ElementAnswer, FindText, OcrAnswer, OcrRequest, WaitFor
from ..settings import Settings
from .availability import require_programs
from .display import Display
from .screen import Screen, clip

MAX_AT_ONCE = 2
TIMEOUT = 60.0  # seconds one Tesseract run may take
WORD_LEVEL = "5"
PAGE_MODE = "11"  # sparse text: a screen is scattered labels, not a page (the default finds nothing on dark desktops)


def parse_tsv(tsv: str, dx: int = 0, dy: int = 0) -> list[tuple[tuple[str, ...], Box]]:
    """Words of Tesseract's TSV as (line key, box with text and confidence), offset by (dx, dy)."""
    words = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != WORD_LEVEL or not cols[11].strip():
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        box: Box = {"x": left + dx, "y": top + dy, "width": width, "height": height, "text": cols[11]}
        box["confidence"] = float(cols[10])
        words.append((tuple(cols[1:5]), box))
    return words


def _norm(word: str) -> str:
    return re.sub(r"[^\w]", "", word.casefold())


def find(words: list[tuple[tuple[str, ...], Box]], text: str) -> Box | None:
    """The first run of consecutive words on one line that reads `text` (case and punctuation aside)."""
    wanted = [_norm(w) for w in text.split() if _norm(w)]
    if not wanted:
        return None
    for i in range(len(words)):
        run = words[i : i + len(wanted)]
        if len(run) < len(wanted) or len({key for key, _ in run}) != 1:
            continue
        got = [_norm(box.get("text", "")) for _, box in run]
        exact = got == wanted
        inside = len(wanted) == 1 and wanted[0] in got[0]
        if exact or inside:
            boxes = [box for _, box in run]
            x0, y0 = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
            x1 = max(b["x"] + b["width"] for b in boxes)
            y1 = max(b["y"] + b["height"] for b in boxes)
            return {
                "x": x0,
                "y": y0,
                "width": x1 - x0,
                "height": y1 - y0,
                "text": " ".join(b.get("text", "") for b in boxes),
            }
    return None


def text_of(words: list[tuple[tuple[str, ...], Box]]) -> str:
    """The words joined as lines."""
    lines: dict[tuple[str, ...], list[str]] = {}
    for key, box in words:
        lines.setdefault(key, []).append(box.get("text", ""))
    return "\n".join(" ".join(line) for line in lines.values())


Words = list[tuple[tuple[str, ...], Box]]


class Ocr:
    """Reads the screen with Tesseract (one thread per run, a bounded number at once); the handlers
    of /desktop/x11/ocr, find_element, wait_for and get_bounds call it directly."""

    def __init__(self, display: Display, screen: Screen, settings: Settings) -> None:
        self.display = display
        self.screen = screen
        self.settings = settings
        self.running = Limiter(MAX_AT_ONCE, "OCR runs")

    async def read(self, box: tuple[int, int, int, int] | None = None, language: str = "eng") -> Words:
        """The words in `box` (default the whole screen), in screen coordinates."""
        require_programs("tesseract")
        d = self.display
        x, y, w, h = clip(box or (0, 0, d.width, d.height), d.width, d.height)
        return await self.words(await self.screen.capture((x, y, w, h)), language, x, y)

    async def ocr(self, req: OcrRequest) -> OcrAnswer:
        region = (req.x, req.y, req.width, req.height)
        if None in region and any(v is not None for v in region):
            raise bad_request("Give all of x, y, width and height, or none (the whole screen)", field="width")
        box = None if req.x is None or req.y is None or req.width is None or req.height is None else region
        words = await self.read(box, req.language)  # type: ignore[arg-type]
        return {"text": text_of(words), "words": [b for _, b in words]}

    async def find_element(self, req: FindText) -> ElementAnswer:
        element = find(await self.read(), req.text)
        return {"element": element, "found": element is not None}

    async def get_bounds(self, req: FindText) -> Box:
        element = find(await self.read(), req.text)
        if element is None:
            raise not_found("ELEMENT_NOT_FOUND", f"Text not on screen: {req.text!r}", text=req.text)
        return element

    async def wait_for(self, req: WaitFor) -> ElementAnswer:
        """Read the screen until the text shows, or 408 WAIT_TIMEOUT when the timeout passes."""
        timeout = within_max_timeout(req.timeout, 30.0, self.settings.max_timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            element = find(await self.read(), req.text)
            if element is not None:
                return {"element": element, "found": True}
            if loop.time() >= deadline:
                message = f"Text did not appear within {timeout:g} s: {req.text!r}"
                raise AgentError("WAIT_TIMEOUT", 408, message, {"text": req.text, "timeout": timeout})
            await asyncio.sleep(0.2)

    async def words(self, png: bytes, language: str, dx: int = 0, dy: int = 0) -> Words:
        with self.running.hold():
            child = await asyncio.create_subprocess_exec(
                "tesseract", "stdin", "stdout", "--psm", PAGE_MODE, "-l", language, "tsv",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            )  # fmt: skip
            try:
                out, err = await asyncio.wait_for(child.communicate(png), TIMEOUT)
            except TimeoutError:
                child.kill()
                await child.wait()
                raise AgentError("OCR_TIMEOUT", 504, f"Tesseract took longer than {TIMEOUT:g} s") from None
        if child.returncode != 0:
            message = err.decode("utf-8", "replace").strip()
            if "Failed loading language" in message or "Error opening data file" in message:
                raise bad_request(f"OCR language not installed: {language}", field="language", language=language)
            raise AgentError("OCR_FAILED", 500, f"Tesseract failed: {message[-300:]}")
        return parse_tsv(out.decode("utf-8", "replace"), dx, dy)
