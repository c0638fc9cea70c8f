"""Interleaved A/B of the file transfer paths of two source trees of the agent (e.g. a commit
exported with `git archive` and this worktree): 1 GiB upload and download through each, round after
round, beside the local copy and copy + fsync of the same file. Prints medians; not a test.

    git archive 979ded4 | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    /work/main/.venv/bin/python bench/files_ab.py /tmp/before . --rounds 5

Same clients as files_bench.py (sendfile up, splice down), without its /health probe and RSS
sampler, so the two agents see the same machine load at nearly the same moments.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import files_bench as fb  # noqa: E402

MiB = 1 << 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trees", nargs=2, type=Path, help="two source trees (A, B)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size-mib", type=int, default=1024)
    args = ap.parse_args()
    res: dict[str, dict[str, list[float]]] = {}
    loads = []
    with tempfile.TemporaryDirectory(prefix="files-ab-") as d:
        tmp = Path(d)
        src = tmp / "source.bin"
        block = os.urandom(MiB)
        with src.open("wb") as f:
            for _ in range(args.size_mib):
                f.write(block)
        agents = {}
        for i, root in enumerate(args.trees):
            (tmp / f"a{i}").mkdir()
            fb.ROOT = root.resolve()
            agents[f"{'AB'[i]} {root}"] = fb.start_agent(tmp / f"a{i}")
        token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, fb.SECRET, algorithm="HS256")
        copy, copy_fsync = [], []
        try:
            for _ in range(args.rounds):
                loads.append(os.getloadavg()[0])
                copy.append(fb.timed(shutil.copyfile, src, tmp / "copy.bin"))
                (tmp / "copy.bin").unlink()
                copy_fsync.append(fb.timed(fb.copy_fsync, src, tmp / "copy.bin"))
                (tmp / "copy.bin").unlink()
                for name, (_, port, ws) in agents.items():
                    r = res.setdefault(name, {"upload": [], "download": []})
                    r["upload"].append(fb.timed(fb.upload, port, token, src, str(ws / "up.bin")))
                    r["download"].append(fb.timed(fb.download, port, token, str(ws / "up.bin"), tmp / "down.bin"))
                    (tmp / "down.bin").unlink()
                    (ws / "up.bin").unlink()
        finally:
            for proc, _, _ in agents.values():
                proc.terminate()
                proc.wait(30)
    mc, mf = statistics.median(copy), statistics.median(copy_fsync)
    print(
        f"{args.rounds} interleaved rounds of {args.size_mib} MiB (cores: {os.cpu_count()}, 1-min load "
        f"{min(loads):.1f}..{max(loads):.1f}); medians: local copy {args.size_mib / mc:.0f} MiB/s, "
        f"copy + fsync {args.size_mib / mf:.0f} MiB/s"
    )
    for name, r in res.items():
        for what, secs in r.items():
            m = statistics.median(secs)
            print(
                f"  {name:<40} {what:<8} {args.size_mib / m:6.0f} MiB/s  / copy {mc / m:.2f}  "
                f"/ copy+fsync {mf / m:.2f}   rounds {[round(args.size_mib / s) for s in secs]}"
            )


if __name__ == "__main__":
    main()
