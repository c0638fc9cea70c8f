"""Kernel start time and trivial-cell round trip for every kernel in kernels/, in one run.

Talks to each kernel directly through jupyter_client (no agent, no HTTP), so the figures are
the kernels' own. Run: .venv/bin/python bench/kernels_direct.py [--cells N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from kernelagent_kernels import kernelspecs_dir

KERNELS = kernelspecs_dir()
TRIVIAL = {
    "python3": "print('hi')",
    "javascript": "console.log('hi')",
    "bash": "echo hi",
    "go": 'fmt.Println("hi")',
    "typescript": "console.log('hi')",
}


async def execute(kc, code: str) -> None:
    msg_id = kc.execute(code)
    while True:
        msg = await kc.get_iopub_msg(timeout=60)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    while (await kc.get_shell_msg(timeout=60))["parent_header"].get("msg_id") != msg_id:
        pass


async def bench(name: str, cells: int, tmp: str) -> dict:
    ksm = KernelSpecManager(kernel_dirs=[str(KERNELS)])
    # ipc as the agent uses; Deno's provisioner switches its kernel to tcp
    km = AsyncKernelManager(
        kernel_name=name, kernel_spec_manager=ksm, transport="ipc", connection_file=f"{tmp}/{name}.json"
    )
    t0 = time.perf_counter()
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    ready = time.perf_counter() - t0
    await execute(kc, TRIVIAL[name])
    first = time.perf_counter() - t0
    times = []
    for _ in range(cells):
        t = time.perf_counter()
        await execute(kc, TRIVIAL[name])
        times.append(time.perf_counter() - t)
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    return {
        "ready": ready,
        "first": first,
        "median": statistics.median(times),
        "p90": sorted(times)[int(0.9 * len(times))],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: await bench(name, args.cells, tmp) for name in TRIVIAL}
    base = results["python3"]["median"]
    print(f"{'kernel':<12}{'ready s':>9}{'1st cell s':>12}{'median ms':>11}{'p90 ms':>9}{'vs python':>11}")
    for name, r in results.items():
        print(
            f"{name:<12}{r['ready']:>9.2f}{r['first']:>12.2f}{r['median'] * 1000:>11.1f}"
            f"{r['p90'] * 1000:>9.1f}{r['median'] / base:>10.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
