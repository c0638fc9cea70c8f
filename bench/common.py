"""Shared by the benchmarks: start a real agent, time things, print figures."""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import start_agent  # noqa: E402  (the tests' way to start the real server)


def agent(**settings):
    """A real agent on a free port, with KERNELAGENT_* settings given as keywords."""
    env = {f"KERNELAGENT_{k.upper()}": str(v) for k, v in settings.items()}
    return start_agent(Path(tempfile.mkdtemp(prefix="kernelagent-bench-")), env)


class KeepAlive:
    """A bare keep-alive HTTP/1.1 connection, so the client adds as little as possible to the figure."""

    def __init__(self, url: str, token: str):
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        self.conn.request(method, path, json.dumps(body) if body is not None else None, self.headers)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())

    def post(self, path: str, body: dict) -> dict:
        return self.request("POST", path, body)[1]


def timed(fn, n: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(samples: list[float]) -> dict:
    s = sorted(samples)
    return {"median_ms": statistics.median(s) * 1000, "p99_ms": s[min(len(s) - 1, int(len(s) * 0.99))] * 1000}


def line(name: str, figures: dict) -> None:
    print(f"{name:<40} " + "  ".join(f"{k}={v:8.2f}" for k, v in figures.items()), flush=True)
