"""The engine's bounds: contexts at once (also when created concurrently) and executions queued on
one context, each a 429 RATE_LIMIT_EXCEEDED in the envelope, freed when the holder ends."""

from __future__ import annotations

import concurrent.futures
import time

import httpx


def _create(agent) -> httpx.Response:
    return agent.post("/contexts", {"language": "python"})


def test_max_contexts_holds_under_concurrent_creates_and_frees_on_delete(agent_factory):
    a = agent_factory(max_contexts=1, pool_size=2)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _create(a), range(4)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201, 429, 429, 429], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 429).json()
    assert refused["code"] == "RATE_LIMIT_EXCEEDED" and refused["details"]["limit"] == 1
    made = next(r for r in answers if r.status_code == 201).json()["context_id"]
    assert _create(a).status_code == 429
    assert a.delete(f"/contexts/{made}").status_code == 200
    assert _create(a).status_code == 201


def test_queue_per_context_is_bounded(agent_factory):
    a = agent_factory(max_queue_per_context=1)
    ctx = _create(a).json()["context_id"]
    run = {"context_id": ctx, "timeout": 30}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(a.post, "/execute", {**run, "code": "import time; time.sleep(3); 'first'"})
        a_deadline = time.monotonic() + 10
        while not a.get(f"/contexts/{ctx}").json()["busy"]:
            assert time.monotonic() < a_deadline
        second = pool.submit(a.post, "/execute", {**run, "code": "'second'"})
        while a.get(f"/contexts/{ctx}").json()["queued"] < 1:
            assert time.monotonic() < a_deadline
        third = a.post("/execute", {**run, "code": "'third'"})
        assert third.status_code == 429 and third.json()["code"] == "RATE_LIMIT_EXCEEDED", third.text
        assert first.result().json()["success"] and second.result().json()["success"]
    assert a.post("/execute", {**run, "code": "'after'"}).json()["success"]
