"""Reading the desktop (contract 3.8): OCR, finding a text, waiting for it, its bounds."""

from __future__ import annotations

from ..models import desktop as m
from .desktop import DesktopHandler
from .routing import Route, op


class OcrHandler(DesktopHandler):
    """Text on the screen or a region of it (Tesseract)."""

    @op("Read the text of the screen or a region (Tesseract, one thread)", body=m.OcrRequest, body_required=False,
        response=m.OcrAnswer)  # fmt: skip
    async def post(self, body: m.OcrRequest) -> m.OcrAnswer:
        return await self.desktop.reader.ocr(body)


class FindElementHandler(DesktopHandler):
    """Where a text is on screen, if it is."""

    @op("Where a text is on the screen (element null when absent)", body=m.FindText, response=m.ElementAnswer)
    async def post(self, body: m.FindText) -> m.ElementAnswer:
        return await self.desktop.reader.find_element(body)


class WaitForHandler(DesktopHandler):
    """Wait until a text shows on screen."""

    @op("Wait until a text is on the screen (408 WAIT_TIMEOUT)", body=m.WaitFor, response=m.ElementAnswer)
    async def post(self, body: m.WaitFor) -> m.ElementAnswer:
        return await self.desktop.reader.wait_for(body)


class BoundsHandler(DesktopHandler):
    """The box of a text on screen."""

    @op("The screen box of a text (404 ELEMENT_NOT_FOUND)", body=m.FindText, response=m.Box)
    async def post(self, body: m.FindText) -> m.Box:
        return await self.desktop.reader.get_bounds(body)


routes = [
    Route("/desktop/x11/ocr", OcrHandler),
    Route("/desktop/x11/find_element", FindElementHandler),
    Route("/desktop/x11/wait_for", WaitForHandler),
    Route("/desktop/x11/get_bounds", BoundsHandler),
]
