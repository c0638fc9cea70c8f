"""The API document is true: schemathesis drives every documented operation of a live agent with
generated requests (a bounded number each) and finds no 5xx and no answer that breaks its schema.

The agent under test is private, with short deadlines, a file policy limited to its workspace and
few contexts, since generated requests run real commands and code. POST /execute/async is left
out: its callback URL would make the agent call whatever address was generated.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from kernelagent import __version__
from kernelagent.api.openapi import document
from kernelagent.app import all_routes

DOCUMENT = document(all_routes(), __version__)
EXAMPLES = 8  # per operation: enough to find type errors, small enough for CI
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def probed_agent(tmp_path_factory):
    from conftest import start_agent

    agent = start_agent(
        tmp_path_factory.mktemp("probed"),
        {
            "KERNELAGENT_WARM_LANGUAGES": "python",
            "KERNELAGENT_ALLOWED_ROOTS": "{workspace}",
            "KERNELAGENT_MAX_TIMEOUT": "5",
            "KERNELAGENT_DEFAULT_TIMEOUT": "3",
            "KERNELAGENT_COMMAND_TIMEOUT": "3",
            "KERNELAGENT_BACKGROUND_TIMEOUT": "3",
            "KERNELAGENT_ASYNC_TIMEOUT": "3",
            "KERNELAGENT_MAX_CONTEXTS": "2",
            "KERNELAGENT_KILL_GRACE": "0.5",
        },
    )
    yield agent
    agent.close()


def test_the_agent_serves_this_document(probed_agent):
    served = probed_agent.get("/openapi.json")
    assert served.status_code == 200
    assert served.json()["paths"] == DOCUMENT["paths"]


# The schema is built in-process from the same route table the agent serves (checked above), so
# the operations are known when tests are collected; the requests go to the live agent.
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path="/execute/async")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_keeps_its_document(case, probed_agent):
    case.call_and_validate(
        base_url=probed_agent.url, headers={"Authorization": f"Bearer {probed_agent.token}"}, checks=CHECKS, timeout=30
    )
