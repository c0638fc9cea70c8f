"""/notebooks/run and /contexts/{id}/notebook typed at the edge: a wrong type is a 400 in the envelope
naming the field, a notebook nbformat refuses is a 400 with its reason, never a 500."""

from __future__ import annotations

import pytest

NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"notebook": 5}, "notebook"),
        ({"notebook": [NOTEBOOK]}, "notebook"),
        ({"path": 5}, "path"),
        ({"path": "/tmp/a\u0000.ipynb"}, "path"),
        ({"path": ""}, "path"),
        ({"notebook": NOTEBOOK, "output_path": ""}, "output_path"),
        ({"notebook": NOTEBOOK, "context_id": 5}, "context_id"),
        ({"notebook": NOTEBOOK, "language": 5}, "language"),
        ({"notebook": NOTEBOOK, "keep_context": "yes"}, "keep_context"),
        ({"notebook": NOTEBOOK, "timeout": "10"}, "timeout"),
        ({"notebook": NOTEBOOK, "timeout": 0}, "timeout"),
        ({"notebook": NOTEBOOK, "total_timeout": True}, "total_timeout"),
        ({"notebook": NOTEBOOK, "continue_on_error": 1}, "continue_on_error"),
        ({"notebook": NOTEBOOK, "env": {"A": None}}, "env.A"),
        ({"notebook": NOTEBOOK, "workdir": 5}, "workdir"),
        ({"notebook": NOTEBOOK, "write": "true"}, "write"),
        ({"notebook": NOTEBOOK, "output_path": ["/tmp/x.ipynb"]}, "output_path"),
        ({"notebook": NOTEBOOK, "idempotency_key": 5}, "idempotency_key"),
    ],
)
def test_run_wrong_type_is_a_400_naming_the_field(agent, body, field):
    r = agent.post("/notebooks/run", body)
    assert r.status_code == 400, (body, r.text)
    error = r.json()
    assert error["code"] == "INVALID_REQUEST"
    assert error["details"]["field"] == field and field in error["message"]
    assert error["request_id"] and error["path"] == "/notebooks/run"


def test_run_needs_a_notebook_or_a_path_not_both(agent):
    r = agent.post("/notebooks/run", {})
    assert r.status_code == 400 and r.json()["code"] == "MISSING_PARAMETER"
    assert r.json()["details"]["parameter"] == "notebook"
    r = agent.post("/notebooks/run", {"notebook": NOTEBOOK, "path": "/tmp/x.ipynb"})
    assert r.status_code == 400 and r.json()["details"]["field"] == "path"
    r = agent.post("/notebooks/run", [NOTEBOOK])
    assert r.status_code == 400 and r.json()["code"] == "INVALID_JSON"


@pytest.mark.parametrize(
    "notebook,reason",
    [
        ({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}, "missing an expected key: cells"),
        ({**NOTEBOOK, "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "source": 5}]}, "(at cells/0"),
        ({"nbformat": 12, "cells": []}, "Unsupported nbformat version 12"),
    ],
)
def test_a_notebook_nbformat_refuses_is_a_400_with_its_reason(agent, notebook, reason):
    r = agent.post("/notebooks/run", {"notebook": notebook})
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["code"] == "INVALID_REQUEST" and error["details"]["field"] == "notebook"
    assert reason in error["details"]["reason"] and error["message"].startswith("Invalid notebook: ")


def test_a_notebook_file_that_is_not_one_is_a_400_with_its_reason(agent):
    (agent.workspace / "broken.ipynb").write_text("{not json")
    r = agent.post("/notebooks/run", {"path": str(agent.workspace / "broken.ipynb")})
    assert r.status_code == 400 and r.json()["details"]["field"] == "notebook"
    assert "JSON" in r.json()["details"]["reason"]


def test_limits_and_places_are_checked_before_anything_runs(agent):
    r = agent.post("/notebooks/run", {"notebook": NOTEBOOK, "total_timeout": 10**9})
    assert r.status_code == 400 and r.json()["details"]["field"] == "total_timeout"
    r = agent.post("/notebooks/run", {"notebook": NOTEBOOK, "timeout": 10**9})
    assert r.status_code == 400 and r.json()["details"]["field"] == "timeout"
    r = agent.post("/notebooks/run", {"notebook": NOTEBOOK, "write": True})
    assert r.status_code == 400 and r.json()["details"]["field"] == "write"
    r = agent.post("/notebooks/run", {"notebook": NOTEBOOK, "output_path": "/etc/out.ipynb"})
    assert r.status_code == 403 and r.json()["code"] == "PATH_NOT_ALLOWED"
    r = agent.post("/notebooks/run", {"path": "/etc/passwd"})
    assert r.status_code == 403 and r.json()["code"] == "PATH_NOT_ALLOWED"
    r = agent.post("/notebooks/run", {"path": str(agent.workspace / "absent.ipynb")})
    assert r.status_code == 404 and r.json()["code"] == "FILE_NOT_FOUND"
    r = agent.post("/notebooks/run", {"notebook": NOTEBOOK, "language": "cobol"})
    assert r.status_code == 400 and "python" in r.json()["details"]["available_languages"]
    r = agent.post("/notebooks/run", {"notebook": NOTEBOOK, "context_id": "no-such-context"})
    assert r.status_code == 404 and r.json()["code"] == "CONTEXT_NOT_FOUND"


def test_the_notebook_of_an_unknown_context_is_a_404(agent):
    r = agent.get("/contexts/no-such-context/notebook")
    assert r.status_code == 404 and r.json()["code"] == "CONTEXT_NOT_FOUND"
