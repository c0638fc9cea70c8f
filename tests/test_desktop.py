"""The virtual desktop under a real Xvfb, through HTTP and the hopx-ai SDK's `desktop.*`.

One agent serves the whole module (its display at 1280x800); each test opens its own windows
(xterm, xev) and closes them. The 503 path runs on an agent with the desktop turned off.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from conftest import TEST_SHELL, Agent, start_agent
from PIL import Image

from kernelagent.api import desktop as desktop_api
from kernelagent.api import ocr as ocr_api
from kernelagent.api import recording as recording_api
from kernelagent.api import vnc as vnc_api

WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Iterator[Agent]:
    a = start_agent(
        tmp_path_factory.mktemp("desktop"),
        {
            "KERNELAGENT_WARM_LANGUAGES": "python",
            "KERNELAGENT_DESKTOP_WIDTH": str(WIDTH),
            "KERNELAGENT_DESKTOP_HEIGHT": str(HEIGHT),
        },
    )
    assert a.get("/health").json()["desktop"]["available"], a.log.read_text()
    yield a
    a.close()


@pytest.fixture(scope="module")
def display(desk) -> str:
    return desk.get("/health").json()["desktop"]["display"]


@pytest.fixture
def spawn(display) -> Iterator:
    """Start X programs on the agent's display; they are ended after the test."""
    started: list[subprocess.Popen] = []

    def run(*argv: str, **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, env={**os.environ, "DISPLAY": display, "SHELL": str(TEST_SHELL)}, **kw)
        started.append(p)
        return p

    yield run
    for p in started:
        p.kill()
        p.wait()


def window(agent: Agent, title: str, timeout: float = 10.0, **state) -> dict:
    """The window titled `title` once it is listed (and matches `state`), polling."""
    deadline = time.monotonic() + timeout
    while True:
        windows = agent.get("/desktop/windows").json()["windows"]
        found = [w for w in windows if w["title"] == title and all(w[k] == v for k, v in state.items())]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no window {title!r} with {state} in {windows}")
        time.sleep(0.05)


def gone(agent: Agent, title: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while any(w["title"] == title for w in agent.get("/desktop/windows").json()["windows"]):
        assert time.monotonic() < deadline, f"window {title!r} is still there"
        time.sleep(0.05)


def wait_for(check, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data))


def test_health_and_display(desk, display):
    health = desk.get("/health").json()
    assert health["features"]["desktop"] is True
    assert health["desktop"]["display"] == display and display.startswith(":")
    info = desk.get("/desktop/display").json()
    assert (info["width"], info["height"], info["depth"]) == (WIDTH, HEIGHT, 24)
    for spelling in ("/desktop/display/current", "/desktop/display/info"):
        assert desk.get(spelling).json() == info
    sizes = desk.get("/desktop/display/available").json()["resolutions"]
    assert {"width": WIDTH, "height": HEIGHT} in sizes


def test_execute_and_commands_see_the_display(desk, display):
    assert desk.execute("import os; print(os.environ['DISPLAY'])")["stdout"].strip() == display
    r = desk.post("/commands/run", {"command": "echo $DISPLAY; xdpyinfo >/dev/null 2>&1 || xwininfo -root | head -3"})
    assert r.json()["stdout"].splitlines()[0] == display and r.json()["exit_code"] == 0


def test_the_terminal_sees_the_display(desk, display):
    import asyncio

    from test_observe import LINE, read_until

    async def session():
        term = desk.sdk().terminal
        ws = await term.connect(timeout=30)
        async with ws:
            await term.send_input(ws, "echo display=$DISPLAY\n")
            await read_until(ws, LINE + rf"display={display}\r?$")

    asyncio.run(session())


def test_screenshot_matches_the_display_and_changes_when_a_window_opens(desk, spawn):
    r = desk.get("/desktop/screenshot")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    before = png(r.content)
    assert before.size == (WIDTH, HEIGHT)
    spawn("xterm", "-T", "shot", "-bg", "red", "-geometry", "40x10+100+100")
    w = window(desk, "shot")
    inside = (w["x"] + w["width"] // 2, w["y"] + w["height"] // 2)
    wait_for(lambda: png(desk.get("/desktop/screenshot").content).convert("RGB").getpixel(inside) == (255, 0, 0),
             what="the red window on screen")  # fmt: skip
    after = png(desk.get("/desktop/screenshot").content).convert("RGB")
    assert before.convert("RGB").getpixel(inside) != after.getpixel(inside)
    box = {"x": inside[0] - 10, "y": inside[1] - 5, "width": 20, "height": 10}
    region = png(desk.post("/desktop/screenshot/region", box).content)
    assert region.size == (20, 10) and region.convert("RGB").getpixel((5, 5)) == (255, 0, 0)
    shot = png(desk.get("/desktop/x11/capture_window", params={"window_id": str(w["id"])}).content)
    assert shot.size == (w["width"], w["height"])
    hexed = desk.get("/desktop/x11/capture_window", params={"window_id": hex(w["id"])})
    assert hexed.status_code == 200 and png(hexed.content).size == shot.size


def test_sdk_screenshot(desk):
    sb = desk.sdk()
    assert png(sb.desktop.screenshot()).size == (WIDTH, HEIGHT)
    assert png(sb.desktop.screenshot_region(0, 0, 64, 32)).size == (64, 32)
    assert sb.desktop.get_display().resolution == f"{WIDTH}x{HEIGHT}"


def test_xterm_types_a_command_that_writes_a_file(desk, spawn, tmp_path):
    target = tmp_path / "typed.txt"
    spawn("xterm", "-T", "typing", "-geometry", "80x10+50+50")
    w = window(desk, "typing", is_active=True)
    assert w["pid"]
    r = desk.post("/desktop/keyboard/type", {"text": f"echo 'héllo ✓ wörld' > {target}\n", "delay_ms": 2})
    assert r.status_code == 200 and r.json()["success"] is True
    wait_for(lambda: target.exists() and target.read_text(encoding="utf-8").strip(), what="the file")
    assert target.read_text(encoding="utf-8").strip() == "héllo ✓ wörld"
    # the SDK's type, then press (an alias) and a combination (ctrl+u clears the line first)
    sb = desk.sdk()
    second = tmp_path / "sdk.txt"
    sb.desktop.type(f"garbage{'x' * 5}")
    sb.desktop.combination(["ctrl"], "u")
    sb.desktop.type(f"echo sdk-typed > {second}")
    sb.desktop.press("enter")
    wait_for(lambda: second.exists() and second.read_text().strip() == "sdk-typed", what="the SDK's file")


def test_click_and_keys_reach_a_test_program(desk, spawn, tmp_path):
    out = tmp_path / "xev.log"
    with out.open("w") as sink:
        spawn("xev", "-name", "xevtest", "-geometry", "300x200+400+300", "-event", "keyboard", "-event", "button",
              stdout=sink)  # fmt: skip
    w = window(desk, "xevtest", is_active=True)

    def seen(text: str) -> bool:
        return text in out.read_text(errors="replace")

    x, y = w["x"] + 40, w["y"] + 30
    assert desk.post("/desktop/mouse/click", {"x": x, "y": y, "button": "right"}).status_code == 200
    wait_for(lambda: seen("ButtonRelease event"), what="xev's button events")
    log = out.read_text()
    assert "button 3" in log and "(40,30)" in log, log
    desk.post("/desktop/keyboard/press", {"key": "F5"})
    wait_for(lambda: seen("keysym 0xffc2, F5"), what="F5 in xev")
    desk.post("/desktop/keyboard/type", {"text": "é€", "delay_ms": 0})  # é on the keymap, € bound to a spare key
    wait_for(lambda: seen("keysym 0xe9, eacute"), what="é in xev")
    wait_for(lambda: seen("(e2 82 ac)"), what="€ in xev")
    desk.post("/desktop/mouse/scroll", {"amount": 2, "direction": "up"})
    wait_for(lambda: seen("button 4"), what="a wheel step")
    desk.sdk().desktop.click(x, y, button="left", clicks=2)
    wait_for(lambda: out.read_text().count("button 1,") >= 4, what="a double click")


def test_unknown_key_is_400_naming_it(desk):
    for body in ({"key": "NoSuchKey"}, {"key": "ctrl+nosuchkey"}):
        r = desk.post("/desktop/keyboard/press", body)
        assert r.status_code == 400 and r.json()["details"]["field"] == "key", r.text
    r = desk.post("/desktop/keyboard/combination", {"modifiers": ["ctrl", "hyperdrive"], "key": "c"})
    assert r.status_code == 400 and r.json()["details"]["field"] == "modifiers"
    assert "hyperdrive" in r.json()["message"]


def test_windows_list_focus_minimize_close(desk, spawn):
    spawn("xterm", "-T", "win-a", "-geometry", "40x10+10+10")
    a = window(desk, "win-a")
    spawn("xterm", "-T", "win-b", "-geometry", "40x10+500+10")
    b = window(desk, "win-b", is_active=True)
    assert isinstance(a["id"], int) and a["id"] != b["id"]
    assert desk.get("/desktop/windows/list").json()["count"] == desk.get("/desktop/windows").json()["count"]
    sb = desk.sdk()
    titles = {w.title: w for w in sb.desktop.get_windows()}
    assert titles["win-a"].id == a["id"] and titles["win-a"].width == a["width"]
    sb.desktop.focus_window(a["id"])
    window(desk, "win-a", is_active=True)
    r = desk.post("/desktop/windows/focus", {"window_id": hex(b["id"])})
    assert r.status_code == 200
    window(desk, "win-b", is_active=True)
    sb.desktop.resize_window(b["id"], 400, 300)
    wait_for(lambda: window(desk, "win-b")["width"] != b["width"], what="the resize")
    sb.desktop.minimize_window(a["id"])
    window(desk, "win-a", is_minimized=True)
    sb.desktop.close_window(a["id"])
    gone(desk, "win-a")
    r = desk.post("/desktop/windows/close", {"window_id": a["id"]})
    assert r.status_code == 404 and r.json()["code"] == "WINDOW_NOT_FOUND"


def test_clipboard_round_trip_with_non_ascii_text(desk):
    sb = desk.sdk()
    text = "zażółć gęślą jaźń — 日本語 ✓ 🙂"
    sb.desktop.set_clipboard(text)
    assert sb.desktop.get_clipboard() == text
    assert desk.get("/desktop/clipboard/get").json()["text"] == text
    sb.desktop.set_clipboard("second")
    history = sb.desktop.get_clipboard_history()
    assert history[-2:] == [text, "second"]
    # another X client reads what the agent set
    out = subprocess.run(["xclip", "-selection", "clipboard", "-o"], capture_output=True,
                         env={**os.environ, "DISPLAY": desk.get("/health").json()["desktop"]["display"]})  # fmt: skip
    assert out.stdout.decode() == "second"


def probe_duration(path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def test_recording_plays_with_the_right_duration(desk, spawn, tmp_path):
    sb = desk.sdk()
    rec = sb.desktop.start_recording(fps=10)
    assert (
        isinstance(rec.recording_id, str) and rec.status.value == "recording"
    )  # (the SDK's is_recording compares an enum to a str)
    assert sb.desktop.get_recording_status(rec.recording_id).status.value == "recording"
    spawn("xterm", "-T", "filmed", "-geometry", "40x10+200+200")
    time.sleep(3)
    done = sb.desktop.stop_recording(rec.recording_id)
    assert done.status.value == "stopped" and done.file_size > 0 and 2.5 < done.duration < 5
    assert sb.desktop.get_recording_status(rec.recording_id).status.value == "stopped"
    video = tmp_path / "rec.mp4"
    video.write_bytes(sb.desktop.download_recording(rec.recording_id))
    assert video.stat().st_size == done.file_size
    assert 2.0 < probe_duration(video) < 4.5


def test_a_killed_recorder_leaves_a_playable_file(desk, tmp_path):
    r = desk.post("/desktop/recording/start", {"fps": 10, "quality": "low"})
    rid = r.json()["recording_id"]
    time.sleep(2.5)
    recorders = [p for p in desk.get("/desktop/debug/processes").json()["processes"] if p["role"] == "recorder"]
    assert len(recorders) == 1 and "x11grab" in recorders[0]["command"]
    os.kill(recorders[0]["pid"], 9)
    status = wait_for(lambda: (s := desk.get("/desktop/recording/status", params={"id": rid}).json())["status"]
                      != "recording" and s, what="the recorder's end")  # fmt: skip
    assert status["status"] == "failed" and "until then" in status["error"]
    video = tmp_path / "killed.mp4"
    r = desk.get("/desktop/recording/download", params={"id": rid})
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    video.write_bytes(r.content)
    assert probe_duration(video) >= 1.0


def test_recording_errors(desk):
    r = desk.get("/desktop/recording/status", params={"id": "nope"})
    assert r.status_code == 404 and r.json()["code"] == "RECORDING_NOT_FOUND"
    r = desk.get("/desktop/recording/status", params={"id": ""})
    assert r.status_code == 400 and r.json()["details"]["field"] == "id"
    r = desk.get("/desktop/recording/nope/download")
    assert r.status_code == 404 and r.json()["code"] == "RECORDING_NOT_FOUND"


def test_debug_logs_and_processes(desk):
    sb = desk.sdk()
    logs = sb.desktop.get_debug_logs()
    assert any("Xvfb started" in line for line in logs) and any("openbox started" in line for line in logs)
    roles = {p["role"]: p for p in sb.desktop.get_debug_processes()}
    assert roles["xvfb"]["name"] == "Xvfb" and "-nolisten tcp" in roles["xvfb"]["command"]
    assert roles["window_manager"]["name"] == "openbox"


def show_word(spawn, word: str, title: str, at: str = "+100+100"):
    """An xterm that shows `word` in a large font, black on white."""
    return spawn("xterm", "-T", title, "-fa", "DejaVu Sans Mono", "-fs", "28", "-bg", "white", "-fg", "black",
                 "-geometry", f"20x3{at}", "-e", "sh", "-c", f"printf '{word}'; sleep 120")  # fmt: skip


def test_ocr_reads_a_known_word(desk, spawn):
    sb = desk.sdk()
    show_word(spawn, "PELICAN", "ocr-word")
    w = window(desk, "ocr-word")
    element = wait_for(lambda: sb.desktop.find_element("pelican"), timeout=20, what="the word on screen")
    assert w["x"] <= element["x"] < w["x"] + w["width"] and w["y"] <= element["y"] < w["y"] + w["height"]
    bounds = sb.desktop.get_bounds("PELICAN")
    assert bounds["width"] > 50 and bounds["height"] > 15
    text = sb.desktop.ocr(w["x"], w["y"], w["width"], w["height"])
    assert "PELICAN" in text
    r = desk.post("/desktop/x11/get_bounds", {"text": "no such words here"})
    assert r.status_code == 404 and r.json()["code"] == "ELEMENT_NOT_FOUND"
    assert sb.desktop.find_element("no such words here") is None
    r = desk.post("/desktop/x11/wait_for", {"text": "absent-word", "timeout": 0.5})
    assert r.status_code == 408 and r.json()["code"] == "WAIT_TIMEOUT"
    r = desk.post("/desktop/x11/ocr", {"language": "klingon"})
    assert r.status_code == 400 and r.json()["details"]["field"] == "language"


def test_wait_for_sees_a_word_that_appears_later(desk, spawn):
    import threading

    timer = threading.Timer(1.5, lambda: show_word(spawn, "FLAMINGO", "later", "+600+400"))
    timer.start()
    try:
        element = desk.sdk().desktop.wait_for("FLAMINGO", timeout=20)
    finally:
        timer.join()
    assert element["width"] > 50


def test_vnc_status_is_the_sdk_probe(desk):
    status = desk.get("/desktop/vnc/status").json()
    assert status["running"] is False and status["websocket_url"].endswith("/desktop/vnc/websocket")


def test_a_dead_x_server_is_restarted(desk):
    xvfb = next(p for p in desk.get("/desktop/debug/processes").json()["processes"] if p["role"] == "xvfb")
    os.kill(xvfb["pid"], 9)

    def back():
        procs = desk.get("/desktop/debug/processes").json()["processes"]
        return any(p["role"] == "xvfb" and p["pid"] != xvfb["pid"] for p in procs)

    wait_for(back, timeout=15, what="a new Xvfb")
    assert png(wait_for(lambda: (r := desk.get("/desktop/screenshot")).status_code == 200 and r.content)).size == (
        WIDTH,
        HEIGHT,
    )
    assert desk.post("/desktop/mouse/move", {"x": 5, "y": 5}).status_code == 200
    assert any("died; restarting" in line for line in desk.get("/desktop/debug/logs").json()["logs"])


def test_resolution_change_restarts_the_display(desk):
    r = desk.post("/desktop/display/set", {"width": 1024, "height": 768})
    assert r.status_code == 200 and r.json()["restarted"] is True and r.json()["windows_lost"] is True
    assert png(desk.get("/desktop/screenshot").content).size == (1024, 768)
    assert desk.post("/desktop/mouse/move", {"x": 10, "y": 10}).status_code == 200
    info = desk.sdk().desktop.set_resolution(WIDTH, HEIGHT)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert png(desk.get("/desktop/screenshot").content).size == (WIDTH, HEIGHT)


def desktop_routes(token: str) -> list[tuple[str, str]]:
    out = []
    for route in [*desktop_api.routes, *vnc_api.routes, *recording_api.routes, *ocr_api.routes]:
        path = route.path.format(token=token, file="core/rfb.js", recording_id="r1")
        if route.websocket:
            out.append(("get", path))
            continue
        for method in ("get", "post"):
            if method in route.handler.__dict__:
                out.append((method, path))
    return out


# every desktop path of contract 3.8 (the SDK's, the OAS's and the JS SDK's spellings)
CONTRACT = [
    "vnc/start",
    "vnc/stop",
    "vnc/status",
    "mouse/click",
    "mouse/move",
    "mouse/drag",
    "mouse/scroll",
    "keyboard/type",
    "keyboard/press",
    "keyboard/combination",
    "clipboard/set",
    "clipboard/get",
    "clipboard/history",
    "screenshot",
    "screenshot/region",
    "recording/start",
    "recording/stop",
    "recording/status",
    "recording/download",
    "recording/r1/download",  # the JS SDK's /desktop/recording/{id}/download
    "windows",
    "windows/list",
    "windows/focus",
    "windows/close",
    "windows/minimize",
    "windows/resize",
    "display",
    "display/current",
    "display/info",
    "display/available",
    "display/resolutions",
    "display/set",
    "display/resolution",
    "x11/ocr",
    "x11/find_element",
    "x11/wait_for",
    "x11/drag_drop",
    "x11/drag-drop",
    "x11/get_bounds",
    "x11/capture_window",
    "x11/hotkey",
    "debug/logs",
    "debug/processes",
]


def test_every_route_is_503_when_the_desktop_is_off(agent_factory):
    a = agent_factory(desktop="false")
    health = a.get("/health").json()
    assert health["features"]["desktop"] is False and health["desktop"]["available"] is False
    assert "turned off" in health["desktop"]["reason"]
    routes = desktop_routes(a.token)
    assert {f"/desktop/{p}" for p in CONTRACT} <= {path for _, path in routes}
    for method, path in routes:
        r = a.http.request(method.upper(), path, json={} if method == "post" else None)
        assert r.status_code == 503, (method, path, r.status_code, r.text)
        body = r.json()
        assert body["code"] == "DESKTOP_NOT_AVAILABLE" and isinstance(body["details"]["missing_dependencies"], list)
    assert a.execute("print(1)")["stdout"] == "1\n"  # the rest of the agent is unaffected


class Chromium:
    """Headless Chromium driven over the DevTools protocol (a page, its JavaScript, keys, screenshots)."""

    def __init__(self, url: str, profile) -> None:
        import httpx
        from conftest import free_port
        from websockets.sync.client import connect

        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             f"--remote-debugging-port={port}", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", url],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def page_target():
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return None
            return next((t for t in targets if t["type"] == "page"), None)

        target = wait_for(page_target, timeout=30, what="Chromium's page")
        self.ws = connect(target["webSocketDebuggerUrl"], max_size=None, legacy=True)
        self.n = 0
        # the page's viewport exactly the display's size, so noVNC shows the desktop at scale 1
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params) -> dict:
        import json

        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                assert "error" not in msg, msg
                return msg["result"]

    def eval(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def key(self, char: str) -> None:
        named = {"\n": ("Enter", "Enter", 13)}
        key, code, vk = named.get(char, (char, "", ord(char.upper()) if char.isalnum() else 0))
        text = {"text": "\r" if char == "\n" else char}
        self.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, windowsVirtualKeyCode=vk, **text)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=vk)

    def screenshot(self) -> Image.Image:
        import base64

        return png(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.ws.close()
        self.proc.kill()
        self.proc.wait()


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two images, per channel (0 to 255), at a small common size."""
    small = [img.convert("L").resize((128, 80)).tobytes() for img in (a, b)]
    return sum(abs(x - y) for x, y in zip(*small, strict=True)) / len(small[0])


def test_the_desktop_in_a_browser(desk, spawn, tmp_path):
    status = desk.get("/desktop/vnc/status").json()
    assert status["view_url"].endswith("/desktop/vnc/view") and status["websocket_url"].startswith("ws://")
    r = desk.http.get("/desktop/vnc/view", headers={"Authorization": ""})
    assert r.status_code == 401  # the page needs a token like every route
    r = desk.http.get(f"/desktop/vnc/novnc/{'x' * 20}/core/rfb.js", headers={"Authorization": ""})
    assert r.status_code == 401
    spawn("xterm", "-T", "watched", "-geometry", "80x20+100+100")
    window(desk, "watched", is_active=True)
    target = tmp_path / "from-the-browser.txt"
    browser = Chromium(f"{desk.url}/desktop/vnc/view?token={desk.token}", tmp_path / "profile")
    try:
        wait_for(lambda: browser.eval("window.vncConnected === true"), timeout=30, what="noVNC to connect")
        desktop = png(desk.get("/desktop/screenshot").content)

        def looks_like_the_desktop():
            page = browser.screenshot()
            return page.size == desktop.size and difference(page, desktop) < 12 and page

        page = wait_for(looks_like_the_desktop, timeout=20, what="the page to show the desktop")
        assert len(set(page.convert("L").tobytes())) > 2  # not blank
        browser.eval("window.rfb.focus()")
        for char in f"echo typed-in-the-page > {target}\n":
            browser.key(char)
        wait_for(
            lambda: target.exists() and target.read_text().strip() == "typed-in-the-page",
            timeout=30,
            what="the typed file",
        )
    finally:
        browser.close()
    assert desk.get("/desktop/vnc/status").json()["running"] is True  # the bridge started the server
    desk.sdk().desktop.stop_vnc()
    assert desk.get("/desktop/vnc/status").json()["running"] is False


def test_vnc_with_a_password(desk):
    sb = desk.sdk()
    info = sb.desktop.start_vnc(password="s3cret-pw")
    assert info.port and info.url == f"vnc://127.0.0.1:{info.port}"
    status = desk.get("/desktop/vnc/status").json()
    assert status["password_protected"] is True
    ps = [p for p in desk.get("/desktop/debug/processes").json()["processes"] if p["role"] == "vnc"]
    assert ps and "s3cret" not in ps[0]["command"] and "-rfbauth" in ps[0]["command"]
    assert "-localhost" in ps[0]["command"]
    import socket

    with socket.create_connection(("127.0.0.1", info.port), timeout=5) as s:
        assert s.recv(12).startswith(b"RFB ")
        s.sendall(b"RFB 003.008\n")
        count = s.recv(1)[0]
        assert 2 in s.recv(count)  # VNC authentication is offered
    sb.desktop.stop_vnc()
