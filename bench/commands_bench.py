"""Benchmark: /commands/run of `true` beside a raw asyncio subprocess of the same command, in the
same run; and the time from POST /execute/background (and /commands/background) to the job running.

Prints figures; not a test. Usage: python bench/commands_bench.py [--n 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
from common import KeepAlive, agent


def pool_ready(a) -> bool:
    pool = a.get("/health").json().get("pool", {})
    return all(p["ready"] >= p["target"] for p in pool.values())


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[int(len(ms) * 0.9) - 1] if len(ms) >= 10 else ms[-1]
    return f"median {statistics.median(ms):7.3f} ms   p90 {p90:7.3f} ms   min {ms[0]:7.3f} ms   (n={len(ms)})"


async def raw_batch(argv: list[str] | None, shell: str | None, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        if argv:
            p = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        else:
            p = await asyncio.create_subprocess_shell(
                shell, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        await p.communicate()
        out.append(time.perf_counter() - t0)
    return out


def http_batch(client, body: dict | None, n: int, path: str = "/commands/run") -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        if body is None:
            status, data = client.request("GET", path)
        else:
            status, data = client.request("POST", path, body)
            assert status == 200 and data["exit_code"] == 0, data
        out.append(time.perf_counter() - t0)
    return out


def compare(clients: dict, label: str, body: dict, argv, shell, n: int, rounds: int) -> None:
    raw, ping = [], []
    http = {name: [] for name in clients}
    for client in clients.values():  # warm-up
        http_batch(client, body, 10)
    asyncio.run(raw_batch(argv, shell, 10))
    for _ in range(rounds):  # interleaved, so all see the same machine load
        raw += asyncio.run(raw_batch(argv, shell, n // rounds))
        ping += http_batch(clients["http.client"], None, n // rounds, "/ping")
        for name, client in clients.items():
            http[name] += http_batch(client, body, n // rounds)
    print(f"\n{label}")
    print(f"  raw asyncio subprocess             {stats(raw)}")
    print(f"  GET /ping (HTTP floor)             {stats(ping)}")
    for name, samples in http.items():
        ratio = statistics.median(samples) / statistics.median(raw)
        print(
            f"  POST /commands/run via {name:11s} {stats(samples)}   ratio {ratio:.2f}x"
            f"{'  (target <= 1.5x: ' + ('OK' if ratio <= 1.5 else 'OVER') + ')' if name == 'http.client' else ''}"
        )


class _HttpxAdapter:
    """httpx (what the SDK uses) behind the same request() shape."""

    def __init__(self, client: httpx.Client):
        self.client = client

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        r = self.client.request(method, path, json=body)
        return r.status_code, r.json()


def wait_file(path: Path, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text().strip()
            if text:
                return float(text)
        time.sleep(0.002)
    raise SystemExit(f"job did not write {path}")


def background_to_running(a, samples: int) -> None:
    client, workspace = a.http, a.workspace
    exe, cmd = [], []
    for i in range(samples):
        deadline = time.monotonic() + 60  # a warm kernel ready, as in steady use
        while not pool_ready(a) and time.monotonic() < deadline:
            time.sleep(0.1)
        mark = workspace / f"bg-{i}"
        t0 = time.time()
        r = client.post(
            "/execute/background", json={"code": f"import time; open({str(mark)!r}, 'w').write(repr(time.time()))"}
        )
        assert r.status_code == 200, r.text
        exe.append(wait_file(mark) - t0)
        mark = workspace / f"cmd-{i}"
        t0 = time.time()
        r = client.post("/commands/background", json={"command": f"date +%s.%N > {mark}"})
        assert r.status_code == 200, r.text
        cmd.append(wait_file(mark) - t0)
    print("\ntime from the request to the job's code running (warm pool)")
    print(f"  /execute/background      {stats(exe)}")
    print(f"  /commands/background     {stats(cmd)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bg", type=int, default=8)
    args = ap.parse_args()
    a = agent(warm_languages="python")
    try:
        clients = {"http.client": KeepAlive(a.url, a.token), "httpx": _HttpxAdapter(a.http)}
        print(f"kernelagent commands bench, {os.cpu_count()} cpus, python {sys.version.split()[0]}")
        compare(
            clients,
            "`true` as argv: {command: 'true', args: []}",
            {"command": "true", "args": []},
            ["true"],
            None,
            args.n,
            args.rounds,
        )
        compare(
            clients,
            "`true` as a shell string: {command: 'true'} (/bin/sh -c)",
            {"command": "true"},
            None,
            "true",
            args.n,
            args.rounds,
        )
        background_to_running(a, args.bg)
    finally:
        a.close()


if __name__ == "__main__":
    main()
