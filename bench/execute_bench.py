"""/execute of `1+1` over keep-alive HTTP beside raw jupyter_client on the same kind of kernel, same run.

Also the time to the first result in a new context (a warm kernel from the pool).
Run: .venv/bin/python bench/execute_bench.py [N]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

from common import KeepAlive, agent, line, summary, timed
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from kernelagent_kernels import kernelspecs_dir

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500


async def raw_samples(n: int) -> list[float]:
    """execute_request -> idle on a kernel started from the same kernelspec, over ipc."""
    runtime = tempfile.mkdtemp()
    km = AsyncKernelManager(
        kernel_name="python3",
        transport="ipc",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernelspecs_dir())]),
        connection_file=os.path.join(runtime, "k.json"),
    )
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)

    async def once():
        msg_id = kc.execute("1+1")
        while True:
            msg = await kc.get_iopub_msg()
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break
        await kc.get_shell_msg()

    for _ in range(20):
        await once()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        await once()
        samples.append(time.perf_counter() - t0)
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    return samples


def main() -> None:
    a = agent(pool_size=2)
    try:
        client = KeepAlive(a.url, a.token)
        body = {"code": "1+1", "language": "python"}
        assert client.post("/execute", body)["result"] == "2"
        raw = summary(asyncio.run(raw_samples(N)))
        http = summary(timed(lambda: client.post("/execute", body), N))
        line("raw jupyter_client execute 1+1", raw)
        line("kernelagent POST /execute 1+1", http)
        print(
            f"ratio median http/raw = {http['median_ms'] / raw['median_ms']:.2f}x (target: median < 5 ms and <= 1.5x)"
        )
        firsts = []
        for _ in range(5):
            t0 = time.perf_counter()
            cid = client.post("/contexts", {"language": "python"})["context_id"]
            r = client.post("/execute", {"code": "1+1", "context_id": cid})
            firsts.append(time.perf_counter() - t0)
            assert r["result"] == "2"
            a.delete(f"/contexts/{cid}")
            time.sleep(4)  # let the pool refill, as it would between real sessions
        line("new context -> first result", summary(firsts) | {"max_ms": max(firsts) * 1000})
        print("target: time to first result in a new context < 50 ms")
    finally:
        a.close()


if __name__ == "__main__":
    main()
