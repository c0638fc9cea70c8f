"""Benchmark of the desktop at 1280x800, in one run on a UI screen (terminals full of text):

- GET /desktop/screenshot (in-process capture, PNG level 1) beside spawning ImageMagick's
  `import -window root png:-` for the same shot;
- one input action over HTTP (POST /desktop/mouse/move, keep-alive) beside spawning `xdotool mousemove`;
- the CPU a 10 fps recording costs (ffmpeg's own CPU time over wall time) while a terminal runs `top`.

Targets (issue 11): screenshot p50 under 25 ms, input action p50 under 3 ms, recording under 30% of a core.
Prints figures; not a test. Usage: python bench/desktop_bench.py [--n 200] [--record 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import psutil
from common import KeepAlive, agent, line, summary, timed


def raw_get(ka: KeepAlive, path: str) -> bytes:
    ka.conn.request("GET", path, headers=ka.headers)
    r = ka.conn.getresponse()
    body = r.read()
    assert r.status == 200, body[:200]
    return body


def spawn_ok(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--record", type=float, default=10.0, help="seconds of recording to measure")
    args = parser.parse_args()

    a = agent(warm_languages="python", desktop_width=1280, desktop_height=800)
    windows: list[subprocess.Popen] = []
    try:
        display = a.get("/health").json()["desktop"]["display"]
        env = {**os.environ, "DISPLAY": display}
        # a UI screen: terminals full of text, one of them changing (top)
        for geometry, command in (("100x30+0+0", "ls -la /usr/bin; sleep 600"), ("90x25+640+0", "top -d 0.5"),
                                  ("100x20+200+420", "dmesg 2>/dev/null || env; sleep 600")):  # fmt: skip
            windows.append(subprocess.Popen(["xterm", "-geometry", geometry, "-e", "sh", "-c", command], env=env))
        time.sleep(2)
        ka = KeepAlive(a.url, a.token)
        shot = raw_get(ka, "/desktop/screenshot")
        print(f"desktop at 1280x800 on {display}; one UI screenshot is {len(shot) / 1024:.0f} KiB of PNG")

        line("GET /desktop/screenshot", summary(timed(lambda: raw_get(ka, "/desktop/screenshot"), args.n)))
        n_spawn = max(20, args.n // 5)
        line("import -window root png:-", summary(timed(lambda: spawn_ok(["import", "-window", "root", "png:-"], env),
                                                        n_spawn, warmup=3)))  # fmt: skip

        points = iter([(100 + i % 500, 100 + i % 300) for i in range(10 * args.n + 100)])

        def move() -> None:
            x, y = next(points)
            status, _ = ka.request("POST", "/desktop/mouse/move", {"x": x, "y": y})
            assert status == 200

        line("POST /desktop/mouse/move (HTTP)", summary(timed(move, args.n * 5)))

        def xdotool() -> None:
            x, y = next(points)
            spawn_ok(["xdotool", "mousemove", str(x), str(y)], env)

        line("xdotool mousemove", summary(timed(xdotool, n_spawn, warmup=3)))

        status, rec = ka.request("POST", "/desktop/recording/start", {"fps": 10, "quality": "medium"})
        assert status == 200, rec
        time.sleep(1.0)
        _, procs = ka.request("GET", "/desktop/debug/processes")
        pid = next(p["pid"] for p in procs["processes"] if p["role"] == "recorder")
        ffmpeg = psutil.Process(pid)
        c0, t0 = sum(ffmpeg.cpu_times()[:2]), time.monotonic()
        time.sleep(args.record)
        c1, t1 = sum(ffmpeg.cpu_times()[:2]), time.monotonic()
        _, done = ka.request("POST", "/desktop/recording/stop", {"recording_id": rec["recording_id"]})
        print(f"{'recording at 10 fps (ffmpeg CPU)':<40} cpu_percent_of_one_core={100 * (c1 - c0) / (t1 - t0):8.2f}"
              f"  file_kib={done['file_size'] / 1024:8.0f}  seconds={done['duration']:6.2f}")  # fmt: skip
    finally:
        for w in windows:
            w.kill()
        a.close()


if __name__ == "__main__":
    main()
