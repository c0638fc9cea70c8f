"""Soak: 10,000 mixed requests against one agent on 127.0.0.1, watching what it holds.

Executions in several languages, commands, background jobs and kills, files, env, contexts
created and deleted, bad requests, terminals and execute streams opened and dropped. The agent's
RSS, open descriptors, threads and child processes are printed at the start, every 1,000
requests and at the end, with the change since the first checkpoint after warm-up (1,000). Any
5xx is counted and shown. Target: no growth after the first 1,000, no leaked process or
descriptor, no 5xx.

Bounded stores fill during a soak (each context's history, finished job records): with their
defaults they are still filling after 1,000 requests; `--set history_max_cells=20 --set
job_retention_count=10` fills them early, so what grows after is a leak.

Usage: python bench/soak.py [--n 10000] [--every 1000] [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections import Counter

import httpx
import psutil
from common import agent
from websockets.sync.client import connect

LANGS = "python,bash,javascript"


def figures(pid: int) -> dict[str, float]:
    p = psutil.Process(pid)
    with p.oneshot():
        return {
            "rss_mb": p.memory_info().rss / 2**20,
            "fds": p.num_fds(),
            "threads": p.num_threads(),
            "children": len(p.children(recursive=True)),
        }


class Soak:
    """One agent, one client, and the mix of operations it is driven with."""

    def __init__(self, a, seed: int = 7):
        self.a = a
        self.http = httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {a.token}"}, timeout=120)
        self.ws_url = a.url.replace("http://", "ws://")
        self.rng = random.Random(seed)
        self.statuses: Counter[int] = Counter()
        self.fivexx: list[str] = []
        self.count = 0
        self.jobs: list[str] = []
        self.n = itertools.count()

    def req(self, method: str, path: str, **kw) -> httpx.Response:
        r = self.http.request(method, path, **kw)
        self.count += 1
        self.statuses[r.status_code] += 1
        if r.status_code >= 500:
            self.fivexx.append(f"{method} {path} -> {r.status_code} {r.text[:200]}")
        return r

    # --- the operations ---

    def execute(self) -> None:
        lang, code = self.rng.choice(
            [
                ("python", "x = sum(range(1000)); print(x)"),
                ("python", "1/0"),
                ("python", "from IPython.display import HTML; HTML('<b>hi</b>')"),
                ("bash", "echo hello; ls / > /dev/null"),
                ("javascript", "console.log(6 * 7)"),
            ]
        )
        self.req("POST", "/execute", json={"code": code, "language": lang, "timeout": 30})

    def command(self) -> None:
        self.req("POST", "/commands/run", json={"command": "echo hi; echo err >&2", "timeout": 10})

    def background(self) -> None:
        if self.rng.random() < 0.5:
            r = self.req("POST", "/commands/background", json={"command": "sleep 0.3; echo done", "timeout": 30})
        else:
            r = self.req("POST", "/execute/background", json={"code": "import time; time.sleep(0.2)", "timeout": 30})
        if r.status_code == 200:
            self.jobs.append(r.json()["process_id"])
        if self.jobs and self.rng.random() < 0.5:
            self.req("POST", f"/execute/kill/{self.jobs.pop(0)}")
        elif self.jobs:
            self.req("GET", f"/execute/processes/{self.jobs.pop(0)}")

    def files(self) -> None:
        i = next(self.n) % 50
        path = f"{self.a.workspace}/soak/f{i}.txt"
        self.req("POST", "/files/write", json={"path": path, "content": "x" * self.rng.randint(1, 20000)})
        self.req("GET", "/files/read", params={"path": path})
        self.req("GET", "/files/list", params={"path": f"{self.a.workspace}/soak"})
        if self.rng.random() < 0.3:
            self.req("DELETE", "/files/remove", params={"path": path})

    def env(self) -> None:
        key = f"SOAK_{next(self.n) % 20}"
        self.req("PATCH", "/env", json={"env": {key: "v" * 100}})
        self.req("GET", "/env")
        self.req("DELETE", f"/env/{key}")

    def context(self) -> None:
        r = self.req("POST", "/contexts", json={"language": self.rng.choice(["python", "bash"])})
        if r.status_code == 201:
            ctx = r.json()["context_id"]
            self.req("POST", "/execute", json={"code": "echo 1" if "bash" in r.text else "1", "context_id": ctx})
            self.req("DELETE", f"/contexts/{ctx}")

    def bad(self) -> None:
        path, body = self.rng.choice(
            [
                ("/execute", {"code": 5}),
                ("/commands/run", {"command": ["x"]}),
                ("/files/write", {"path": 3, "content": "x"}),
                ("/execute", {"code": "1", "timeout": -1}),
                ("/nowhere", {}),
            ]
        )
        self.req("POST", path, json=body)

    def observe(self) -> None:
        self.req("GET", self.rng.choice(["/health", "/info", "/metrics/snapshot", "/execute/processes", "/system"]))

    def terminal(self) -> None:
        with connect(f"{self.ws_url}/terminal?token={self.a.token}", open_timeout=30) as ws:
            ws.send(json.dumps({"type": "input", "data": "echo soak\n"}))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                frame = json.loads(ws.recv(timeout=10))
                if "soak" in frame.get("data", ""):
                    break
        self.count += 1

    def stream(self) -> None:
        headers = {"Authorization": f"Bearer {self.a.token}"}
        with connect(f"{self.ws_url}/execute/stream", additional_headers=headers, open_timeout=30) as ws:
            drop = self.rng.random() < 0.3
            code = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.05)"
            ws.send(json.dumps({"type": "execute", "code": code}))
            while True:
                frame = json.loads(ws.recv(timeout=30))
                if drop or frame["type"] == "complete":
                    break
        self.count += 1

    MIX = [
        ("execute", 30),
        ("command", 12),
        ("background", 6),
        ("files", 8),
        ("env", 5),
        ("context", 3),
        ("bad", 8),
        ("observe", 10),
        ("terminal", 2),
        ("stream", 4),
    ]

    def step(self) -> None:
        name = self.rng.choices([m for m, _ in self.MIX], weights=[w for _, w in self.MIX])[0]
        getattr(self, name)()


def row(label: str, now: dict[str, float], base: dict[str, float] | None) -> str:
    text = f"{label:>8}  rss {now['rss_mb']:7.1f} MB  fds {now['fds']:4.0f}  threads {now['threads']:3.0f}"
    text += f"  children {now['children']:3.0f}"
    if base is not None:
        text += "   delta vs 1000: " + "  ".join(
            f"{k} {now[k] - base[k]:+.1f}" if k == "rss_mb" else f"{k} {now[k] - base[k]:+.0f}" for k in now
        )
    return text


def settle(s: Soak) -> None:
    """Let background jobs, retiring kernels and closed sockets finish before measuring."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        running = [
            p
            for p in s.http.get("/execute/processes?output=false").json()["processes"]
            if p["status"] in ("queued", "running")
        ]
        if not running:
            break
        time.sleep(0.2)
    time.sleep(2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="an agent setting, e.g. history_max_cells=20"
    )
    args = parser.parse_args()
    # a trim every second: each checkpoint is measured after one (the agent's default is every 10 s)
    settings = {"memory_trim_interval": "1", **dict(kv.split("=", 1) for kv in args.set)}
    a = agent(warm_languages=LANGS, host="127.0.0.1", **settings)
    try:
        s = Soak(a)
        s.http.request("POST", "/files/mkdir", json={"path": f"{a.workspace}/soak"})
        pid = a.proc.pid
        t0 = time.monotonic()
        print(row("start", figures(pid), None), flush=True)
        base = None
        mark = args.every
        while s.count < args.n:
            s.step()
            if s.count >= mark:
                settle(s)
                now = figures(pid)
                if base is None:
                    base = now
                print(row(str(mark), now, base), flush=True)
                mark += args.every
        settle(s)
        end = figures(pid)
        print(row("end", end, base), flush=True)
        print(f"requests {s.count} in {time.monotonic() - t0:.0f} s; statuses {dict(sorted(s.statuses.items()))}")
        print(f"5xx: {len(s.fivexx)}")
        for line in s.fivexx[:20]:
            print("  ", line)
        for child in psutil.Process(pid).children(recursive=True):
            print("   child:", " ".join(child.cmdline())[:150])
        log = a.log.read_text()
        print(
            f"tracebacks in the agent's log: {log.count('Traceback')}; never retrieved: {log.count('never retrieved')}"
        )
        return 1 if s.fivexx else 0
    finally:
        a.close()


if __name__ == "__main__":
    sys.exit(main())
