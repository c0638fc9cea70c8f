"""The pieces of jobs and commands that need no agent and no kernel: spill files, webhook signing,
the running-jobs limit, command specs, and one command's tree ended at its deadline."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import time

import psutil
import pytest

from kernelagent.commands import CommandService
from kernelagent.core.errors import AgentError
from kernelagent.environment import EnvStore
from kernelagent.jobs import Job, JobService
from kernelagent.jobs.spill import Spill
from kernelagent.jobs.webhook import Webhook, retryable, sign
from kernelagent.models.base import parse_json
from kernelagent.models.commands import CommandRequest
from kernelagent.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    (tmp_path / "ws").mkdir()
    return Settings(workspace=str(tmp_path / "ws"), state_dir=str(tmp_path / "state"), kill_grace=0.5)


def test_spill_keeps_its_limit_and_says_what_it_dropped(tmp_path):
    async def scenario() -> None:
        spill = Spill(str(tmp_path / "out"), limit=10)
        spill.add("héllo ")  # 7 bytes
        spill.add("world")  # 3 of 5 kept
        spill.add("more")
        await spill.close()

    asyncio.run(scenario())
    data = (tmp_path / "out").read_bytes()
    assert data.startswith("héllo wor".encode())
    assert data.endswith(b"\n[... 6 more bytes not kept by kernelagent ...]\n")


def test_spill_file_exists_when_nothing_was_written(tmp_path):
    asyncio.run(Spill(str(tmp_path / "empty"), limit=10).close())
    assert (tmp_path / "empty").read_bytes() == b""
    assert oct(os.stat(tmp_path / "empty").st_mode & 0o777) == "0o600"


def test_webhook_signature_and_headers():
    body = json.dumps({"execution_id": "proc_1"})
    hook = Webhook("http://127.0.0.1:9/hook", {"Authorization": "Bearer t"}, "s3cret", attempts=2)
    req = hook.request("proc_1", body, timeout=5)
    ts = req.headers["X-HOPX-Timestamp"]
    expected = hmac.new(b"s3cret", ts.encode() + body.encode(), hashlib.sha256).hexdigest()
    assert req.headers["X-HOPX-Signature"] == sign("s3cret", ts, body) == f"sha256={expected}"
    assert req.headers["Authorization"] == "Bearer t" and req.headers["X-HOPX-Delivery-Attempt"] == "2"
    assert req.method == "POST" and req.follow_redirects is False
    unsigned = Webhook("http://h/x", {}, None).request("proc_1", body, timeout=5)
    assert "X-HOPX-Signature" not in unsigned.headers and "X-HOPX-Timestamp" not in unsigned.headers
    assert Webhook("http://h/x", {}, None).info()["signed"] is False
    assert [retryable(c) for c in (400, 404, 408, 429, 500, 503)] == [False, False, True, True, True, True]


def test_running_jobs_are_bounded_and_slots_come_back(settings):
    settings.max_running_jobs = 1

    async def scenario() -> None:
        jobs = JobService(settings, engine=None, commands=None)  # type: ignore[arg-type]
        await jobs.start()
        first = Job("command", "background", None, settings, jobs.spill_dir)
        jobs._register(first)
        with pytest.raises(AgentError) as exc:
            jobs._register(Job("command", "background", None, settings, jobs.spill_dir))
        assert exc.value.status == 429 and exc.value.code == "RATE_LIMIT_EXCEEDED"
        first.finish("completed", 0)
        jobs._settle(first)
        jobs._settle(first)  # twice is once
        assert jobs.running.used == 0
        second = Job("command", "background", None, settings, jobs.spill_dir)
        jobs._register(second)
        assert jobs.list(output=False)["count"] == 2 and jobs.running.used == 1
        second.finish("completed", 0)
        jobs._settle(second)
        await jobs.stop()

    asyncio.run(scenario())


def test_job_record_and_webhook_payload(settings, tmp_path):
    async def scenario() -> None:
        job = Job("execution", "async", "n", settings, str(tmp_path))
        job.on_output("stdout", "out\n")
        job.on_output("display", {})
        job.mark_running(123)
        job.result = {"stdout": "out\n", "context_id": "c", "png": "iVBOR", "execution_time": 0.5, "success": True}
        job.finish("completed", 0)
        rec = job.info()
        assert rec["process_id"] == rec["execution_id"] == job.id and rec["success"] is True
        assert rec["stdout"] == "out\n" and rec["png"] == "iVBOR" and rec["rich_output_count"] == 1
        assert "stdout" not in job.info(output=False)
        payload = job.payload("now")
        assert "context_id" not in payload and payload["status"] == "completed" and payload["execution_time"] == 0.5
        await job.close_spills()

    asyncio.run(scenario())


def test_command_spec_applies_the_settings(settings):
    service = CommandService(settings, EnvStore())
    spec = service.spec(parse_json(CommandRequest, b'{"command": "pwd", "env": {"K": "v"}}'))
    assert spec.timeout == settings.command_timeout and spec.workdir == settings.workspace and spec.env["K"] == "v"
    assert service.spec(parse_json(CommandRequest, b'{"command": "pwd"}'), background=True).timeout == 300.0
    for raw, code in [
        (b'{"command": "pwd", "timeout": 1e9}', "INVALID_REQUEST"),
        (b'{"command": "pwd", "workdir": "/no/such/dir"}', "DIRECTORY_NOT_FOUND"),
        (b'{"command": "pwd", "workdir": "relative"}', "INVALID_PATH"),
    ]:
        with pytest.raises(AgentError) as exc:
            service.spec(parse_json(CommandRequest, raw))
        assert exc.value.code == code


def test_deadline_ends_the_command_tree(settings, tmp_path):
    """A command and the child it left in the background are both gone after its deadline."""
    pidfile = tmp_path / "child"
    service = CommandService(settings, EnvStore())
    body = json.dumps({"command": f"sleep 300 & echo $! > {pidfile}; echo started; wait", "timeout": 0.5})

    async def scenario():
        run = service.new_run(service.spec(parse_json(CommandRequest, body.encode())))
        await run.run()
        return run.response()

    t0 = time.monotonic()
    answer = asyncio.run(scenario())
    assert answer["timed_out"] is True and answer["exit_code"] == 124 and answer["stdout"] == "started\n"
    assert answer["error"]["code"] == "EXECUTION_TIMEOUT" and time.monotonic() - t0 < 5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the command's child survived its deadline"
        time.sleep(0.05)
