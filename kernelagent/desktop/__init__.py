"""The virtual desktop: an X display (Xvfb + openbox) the agent drives and shows.

display (the server, supervised), xconn (one persistent X connection), screen (screenshots),
keys and input (XTest), windows (EWMH), clipboard, recording (ffmpeg), vnc (x11vnc and the
browser bridge), ocr (tesseract), service (what the handlers call).
"""

from .service import DesktopService

__all__ = ["DesktopService"]
