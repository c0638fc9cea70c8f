"""The desktop's requests (bodies and queries, typed once at the edge) and the answers its service returns."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BeforeValidator, Field
from typing_extensions import TypedDict

from ..core.errors import missing
from .base import OsText, QueryModel, RequestModel, Timeout

Coord = Annotated[int, Field(ge=-32768, le=32767)]
Size = Annotated[int, Field(ge=1, le=16384)]
Button = Literal["left", "middle", "right"]
KeyName = Annotated[str, Field(min_length=1, max_length=64)]


def _window_id(value: Any) -> Any:
    """Window ids arrive as ints, decimal strings or 0x hex strings; all mean the same X window."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise ValueError("a window id is an integer, a decimal string or a 0x hex string") from None
    return value


WindowId = Annotated[int, BeforeValidator(_window_id), Field(ge=1, le=0xFFFFFFFF)]


# --- requests ---


class VncStart(RequestModel):
    """POST /desktop/vnc/start: the SDK sends the display it expects; the agent's own display is used."""

    display: int | None = Field(None, description="ignored: the VNC server shows the agent's display")
    password: str | None = Field(None, min_length=1, max_length=64, description="VNC password (none: no password)")


class Point(RequestModel):
    """POST /desktop/mouse/move."""

    x: Coord
    y: Coord


class Click(RequestModel):
    """POST /desktop/mouse/click: at (x, y), or where the pointer is when they are absent."""

    x: Coord | None = None
    y: Coord | None = None
    button: Button = "left"
    clicks: int = Field(1, ge=1, le=10)


class Drag(RequestModel):
    """POST /desktop/mouse/drag and /desktop/x11/drag_drop."""

    from_x: Coord
    from_y: Coord
    to_x: Coord
    to_y: Coord
    button: Button = "left"


class Scroll(RequestModel):
    """POST /desktop/mouse/scroll: `amount` wheel steps (buttons 4 to 7), or the JS SDK's `delta_y`."""

    amount: int = Field(3, ge=1, le=100)
    direction: Literal["up", "down", "left", "right"] = "down"
    x: Coord | None = None
    y: Coord | None = None
    delta_y: int | None = Field(
        None,
        ge=-100,
        le=100,
        description="wheel steps, down if positive, up if negative (instead of amount, direction)",
    )

    @property
    def steps(self) -> tuple[int, str]:
        """How many wheel steps, which way."""
        if self.delta_y is None:
            return self.amount, self.direction
        return abs(self.delta_y), "down" if self.delta_y > 0 else "up"


class TypeText(RequestModel):
    """POST /desktop/keyboard/type: any Unicode text, `delay_ms` between characters."""

    text: str = Field(max_length=10_000)
    delay_ms: float = Field(10, ge=0, le=1000)

    @property
    def seconds(self) -> float:
        """How long typing takes with its delays (bounded by the agent's max_timeout)."""
        return max(0, len(self.text) - 1) * self.delay_ms / 1000


class Press(RequestModel):
    """POST /desktop/keyboard/press: one key (an X keysym name, an alias, or a chord like ctrl+c)."""

    key: KeyName


class Combination(RequestModel):
    """POST /desktop/keyboard/combination and /desktop/x11/hotkey: modifiers held around a key, or
    the JS SDK's `keys` (the last is the key, those before it the modifiers)."""

    modifiers: list[KeyName] = Field(default_factory=list, max_length=8)
    key: KeyName | None = None
    keys: list[KeyName] | None = Field(None, min_length=1, max_length=9, description="instead of modifiers and key")

    @property
    def chord(self) -> tuple[str, list[str]]:
        """The key and the modifiers held around it."""
        if self.key is not None:
            return self.key, self.modifiers
        if self.keys:
            return self.keys[-1], self.keys[:-1]
        raise missing("key")


class ClipboardSet(RequestModel):
    """POST /desktop/clipboard/set: `text`, or `content` (the JS SDK's spelling)."""

    text: str | None = Field(None, max_length=10 << 20)
    content: str | None = Field(None, max_length=10 << 20, description="the same as text")

    @property
    def value(self) -> str:
        value = self.text if self.text is not None else self.content
        if value is None:
            raise missing("text")
        return value


class Region(RequestModel):
    """POST /desktop/screenshot/region."""

    x: Coord
    y: Coord
    width: Size
    height: Size


class RecordingStart(RequestModel):
    """POST /desktop/recording/start."""

    fps: int = Field(10, ge=1, le=60)
    format: Literal["mp4", "webm"] = "mp4"
    quality: Literal["low", "medium", "high"] = "medium"
    output_file: OsText | None = Field(
        None, max_length=4096, description="where the video goes (a path the file API may write); default the agent's"
    )


RecordingId = Annotated[str, Field(min_length=1, max_length=64)]


class RecordingStop(RequestModel):
    """POST /desktop/recording/stop: the recording named, else the one running now."""

    recording_id: RecordingId | None = None


class RecordingQuery(QueryModel):
    """GET /desktop/recording/status and /download: `?id=`, else the latest recording."""

    id: RecordingId | None = None


class WindowTarget(RequestModel):
    """POST /desktop/windows/focus, close, minimize."""

    window_id: WindowId


class WindowResize(WindowTarget):
    """POST /desktop/windows/resize."""

    width: Size
    height: Size


class WindowQuery(QueryModel):
    """GET /desktop/x11/capture_window: `?window_id=` (absent: the active window)."""

    window_id: WindowId | None = None


class Resolution(RequestModel):
    """POST /desktop/display/set: restarts the X server at the new size (windows are lost)."""

    width: int = Field(ge=320, le=7680)
    height: int = Field(ge=200, le=4320)


class OcrRequest(RequestModel):
    """POST /desktop/x11/ocr: a region (all four absent: the whole screen)."""

    x: Coord | None = None
    y: Coord | None = None
    width: Size | None = None
    height: Size | None = None
    language: str = Field("eng", pattern=r"^[A-Za-z_+]{1,64}$")


class FindText(RequestModel):
    """POST /desktop/x11/find_element and /get_bounds."""

    text: str = Field(min_length=1, max_length=1000)


class WaitFor(FindText):
    """POST /desktop/x11/wait_for: until the text is on screen or `timeout` seconds pass."""

    timeout: Timeout = 30.0


# --- answers ---


class Done(TypedDict):
    """Actions whose answer the SDK ignores."""

    success: bool
    action: str
    timestamp: str


class VncInfo(TypedDict):
    """The VNC server's state, its vnc:// URL, and where the browser view and its WebSocket are."""

    running: bool
    display: int | None
    host: str
    port: int | None
    url: str | None
    websocket_url: str
    view_url: str
    password_protected: bool


class Clipboard(TypedDict):
    """GET /desktop/clipboard/get: the text under both SDKs' names."""

    text: str
    content: str


class ClipboardHistory(TypedDict):
    """Texts recently set or read, oldest first (bounded)."""

    history: list[str]
    count: int


class Window(TypedDict):
    """A top-level window: int id, title, geometry on the screen, owner pid, state."""

    id: int
    title: str
    x: int
    y: int
    width: int
    height: int
    desktop: int | None
    pid: int | None
    is_active: bool
    is_minimized: bool


class WindowList(TypedDict):
    """GET /desktop/windows (and /windows/list)."""

    windows: list[Window]
    count: int


class DisplayInfo(TypedDict):
    """The display's size; after a change, whether the X server restarted (its windows are then lost)."""

    width: int
    height: int
    depth: int
    display: str
    restarted: NotRequired[bool]
    windows_lost: NotRequired[bool]


class Resolutions(TypedDict):
    """Sizes the display can be set to, and the current one."""

    resolutions: list[dict[str, int]]
    current: dict[str, int]


class Recording(TypedDict):
    """A recording: status in the SDK's enum, duration in seconds, file size in bytes."""

    recording_id: str
    status: Literal["recording", "stopped", "failed"]
    recording: bool
    output_file: NotRequired[str]  # where the caller asked the video to go
    duration: float
    file_size: int
    format: str
    fps: int
    quality: str
    start_time: str | None
    end_time: str | None
    error: NotRequired[str]


class Box(TypedDict):
    """A rectangle on the screen (with the text read there, for OCR words and found elements)."""

    x: int
    y: int
    width: int
    height: int
    text: NotRequired[str]
    confidence: NotRequired[float]


class OcrAnswer(TypedDict):
    """The text read, and each word's box."""

    text: str
    words: list[Box]


class ElementAnswer(TypedDict):
    """Where a text is on the screen (null when it is not)."""

    element: Box | None
    found: bool


class DebugLogs(TypedDict):
    """The desktop's recent events."""

    logs: list[str]
    count: int


class DebugProcess(TypedDict):
    """One process of the desktop and its role (xvfb, window_manager, vnc, recorder, clipboard_owner)."""

    pid: int
    name: str
    command: str
    role: str
    running: bool


class DebugProcesses(TypedDict):
    """The desktop's live processes."""

    processes: list[DebugProcess]
    count: int
