"""The SDK's async client (AsyncSandbox), which parses answers differently from the sync one."""

from __future__ import annotations

import asyncio


def test_async_sandbox(agent):
    from hopx_ai import AsyncSandbox
    from hopx_ai._async_agent_client import AsyncAgentHTTPClient

    async def main():
        asb = AsyncSandbox("sb1", api_key="x")
        asb._agent_client = AsyncAgentHTTPClient(agent.url, jwt_token=agent.token)
        r = await asb.run_code("print('hi async')")
        assert r.success and r.stdout == "hi async\n"
        r = await asb.run_code("1/0")
        assert not r.success and "ZeroDivisionError" in r.stderr
        r = await asb.commands.run("echo cmd; exit 3")
        assert r.stdout == "cmd\n" and r.exit_code == 3 and not r.success
        path = str(agent.workspace / "async.txt")
        await asb.files.write(path, "hello async")
        assert await asb.files.read(path) == "hello async"
        assert any(p["pid"] for p in await asb.list_processes())
        assert "total_requests" in await asb.get_metrics_snapshot()

    asyncio.run(main())
