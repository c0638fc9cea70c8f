"""Benchmark: Python contexts forked from a warm template against launched ones, in the same run.

For templates on and off (KERNELAGENT_KERNEL_TEMPLATES): PSS and USS per Python context for 1, 4
and 16 contexts (sum over the contexts' kernels / their number, psutil's memory_full_info); new
context to first result (POST /contexts, then /execute 1+1) for 16 contexts back to back (three
times), p50 and p99. Then /execute 1+1 p50 in a forked context against a launched one (two agents, interleaved),
and /commands/run `true` against a raw spawn.

Prints figures; not a test. Usage: python bench/zygote_bench.py [--n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

import psutil
from commands_bench import http_batch, raw_batch
from common import KeepAlive, agent

CONTEXTS = (1, 4, 16)


def ready(a) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        health = a.get("/health").json()
        if all(p["ready"] >= p["target"] for p in health["pool"].values()):
            return
        time.sleep(0.1)
    raise SystemExit("the pool did not fill")


def new_context(client: KeepAlive) -> tuple[str, float]:
    t0 = time.perf_counter()
    status, info = client.request("POST", "/contexts", {"language": "python"})
    assert status == 201, info
    r = client.post("/execute", {"code": "1+1", "context_id": info["context_id"]})
    assert r.get("result") == "2" or r["success"], r
    return info["context_id"], time.perf_counter() - t0


def memory(a, ids: list[str]) -> tuple[float, float]:
    """Mean PSS and USS in MB of the kernels of contexts `ids`."""
    pss = uss = 0
    for cid in ids:
        full = psutil.Process(a.get(f"/contexts/{cid}").json()["pid"]).memory_full_info()
        pss, uss = pss + full.pss, uss + full.uss
    return pss / len(ids) / 2**20, uss / len(ids) / 2**20


def percentile(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] * 1000


def run(templates: bool, rounds: int = 3) -> dict:
    a = agent(kernel_templates=str(templates).lower(), warm_languages="python", desktop="false", pool_size=1)
    try:
        client = KeepAlive(a.url, a.token)
        ready(a)
        lat: list[float] = []
        modes: set[str] = set()
        for _ in range(rounds):  # 16 back to back, as an agent fanning out does; then all deleted
            ids = []
            for _ in range(16):
                cid, seconds = new_context(client)
                ids.append(cid)
                lat.append(seconds)
            modes |= {a.get(f"/contexts/{cid}").json()["kernel_mode"] for cid in ids}
            for cid in ids:
                a.delete(f"/contexts/{cid}")
            ready(a)
        out: dict = {"modes": modes, "new_p50": percentile(lat, 0.5), "new_p99": percentile(lat, 0.99)}
        ids = []
        for count in CONTEXTS:
            while len(ids) < count:
                ids.append(new_context(client)[0])
            time.sleep(1.0)  # let the kernels settle
            out[f"mem{count}"] = memory(a, ids)
        template = a.get("/health").json()["kernel_modes"]["python"].get("template")
        if template and template.get("pid"):
            full = psutil.Process(template["pid"]).memory_full_info()
            out["template"] = (full.pss / 2**20, full.uss / 2**20)
        return out
    finally:
        a.close()


def execute_compare(n: int, rounds: int = 10) -> None:
    """/execute 1+1 in a forked context and in a launched one, two agents side by side, interleaved
    (so both see the same machine load)."""
    agents = {
        on: agent(kernel_templates=str(on).lower(), warm_languages="python", desktop="false") for on in (True, False)
    }
    try:
        bodies, clients, samples = {}, {}, {True: [], False: []}
        for on, a in agents.items():
            ready(a)
            clients[on] = KeepAlive(a.url, a.token)
            cid, _ = new_context(clients[on])
            assert a.get(f"/contexts/{cid}").json()["kernel_mode"] == ("fork" if on else "launch")
            bodies[on] = {"code": "1+1", "context_id": cid}
            for _ in range(20):
                clients[on].post("/execute", bodies[on])
        for _ in range(rounds):
            for on in agents:
                for _ in range(n // rounds):
                    t0 = time.perf_counter()
                    clients[on].post("/execute", bodies[on])
                    samples[on].append(time.perf_counter() - t0)
        fork, launch = statistics.median(samples[True]) * 1000, statistics.median(samples[False]) * 1000
        print(f"/execute 1+1 p50: forked context {fork:.3f} ms, launched {launch:.3f} ms, ratio {fork / launch:.2f}x")
    finally:
        for a in agents.values():
            a.close()


def commands(n: int, rounds: int = 5) -> None:
    a = agent(warm_languages="python", desktop="false")
    try:
        client = KeepAlive(a.url, a.token)
        body = {"command": "true", "args": []}
        http_batch(client, body, 20)
        asyncio.run(raw_batch(["true"], None, 20))
        raw: list[float] = []
        http: list[float] = []
        for _ in range(rounds):  # interleaved: both see the same machine load
            raw += asyncio.run(raw_batch(["true"], None, n // rounds))
            http += http_batch(client, body, n // rounds)
        ratio = statistics.median(http) / statistics.median(raw)
        print(
            f"/commands/run true   p50 {statistics.median(http) * 1000:6.3f} ms   raw spawn p50 "
            f"{statistics.median(raw) * 1000:6.3f} ms   ratio {ratio:.2f}x (target <= 1.5x)"
        )
    finally:
        a.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    print(f"kernelagent zygote bench, {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    results = {on: run(on) for on in (True, False)}
    for on, r in results.items():
        label = "templates on " if on else "templates off"
        print(f"\n{label} (kernel modes: {', '.join(sorted(r['modes']))})")
        for count in CONTEXTS:
            pss, uss = r[f"mem{count}"]
            print(f"  {count:2d} contexts: PSS {pss:6.1f} MB  USS {uss:6.1f} MB per context")
        if "template" in r:
            print(f"  the template itself: PSS {r['template'][0]:6.1f} MB  USS {r['template'][1]:6.1f} MB")
        print(
            f"  new context to first result, 3x16 back to back: p50 {r['new_p50']:6.1f} ms  p99 {r['new_p99']:6.1f} ms"
        )
    on, off = results[True], results[False]
    print(
        f"\nratios on/off: PSS at 16 {on['mem16'][0] / off['mem16'][0]:.2f}x, new-context p99 "
        f"{on['new_p99'] / off['new_p99']:.3f}x"
    )
    execute_compare(args.n)
    commands(args.n)


if __name__ == "__main__":
    main()
