"""The JavaScript SDK (@hopx-ai/sdk 0.5.1) against the real agent: tests/js/sdk_check.js, run by node.

`scripts/setup.sh --test` installs the SDK (and ws) from npm into tests/js/node_modules, pinned by
tests/js/package-lock.json. The script reaches the agent through a stand-in control plane of its
own, as a user's code would through HopX's, and prints one JSON line per check; each must pass.
The desktop checks run under a real Xvfb, with an xev window (which logs the input it gets into the
workspace) and an xterm showing a word for OCR.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, Agent, start_agent

JS = ROOT / "tests" / "js"
XEV, WORD_WINDOW, WORD = "jsdk-xev", "jsdk-word", "OSPREY"


def run_checks(agent: Agent, sections: str, **extra: str) -> list[dict]:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "@hopx-ai" / "sdk").is_dir():
        pytest.fail("node or the JS SDK is missing: run scripts/setup.sh --test")
    env = {
        **os.environ,
        "AGENT_URL": agent.url,
        "AGENT_TOKEN": agent.token,
        "WORKSPACE": str(agent.workspace),
        "SECTIONS": sections,
        **extra,
    }
    done = subprocess.run([node, "sdk_check.js"], cwd=JS, env=env, capture_output=True, text=True, timeout=600)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    failed = [r for r in results if not r["ok"]]
    assert not failed and results and results[-1]["name"] == "done", (
        "\n".join(f"{r['name']}: {r.get('error')}" for r in failed) or done.stdout + done.stderr
    )
    return results


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Iterator[Agent]:
    a = start_agent(tmp_path_factory.mktemp("jsdesk"), {"KERNELAGENT_WARM_LANGUAGES": "python"})
    assert a.get("/health").json()["desktop"]["available"], a.log.read_text()
    yield a
    a.close()


@pytest.fixture
def windows(desk) -> Iterator[None]:
    """xev, logging into the workspace, and an xterm that shows WORD; ended after the test."""
    display = desk.get("/health").json()["desktop"]["display"]
    env = {**os.environ, "DISPLAY": display}
    log = (desk.workspace / "xev.log").open("w")
    xev = ["xev", "-name", XEV, "-geometry", "300x200+500+300", "-event", "keyboard", "-event", "button"]
    xterm = ["xterm", "-T", WORD_WINDOW, "-fa", "DejaVu Sans Mono", "-fs", "28", "-bg", "white", "-fg", "black",
             "-geometry", "20x3+40+40", "-e", "sh", "-c", f"printf '{WORD}'; sleep 600"]  # fmt: skip
    started = [subprocess.Popen(xev, env=env, stdout=log), subprocess.Popen(xterm, env=env)]
    yield
    for p in started:
        p.kill()
        p.wait()
    log.close()


def test_every_desktop_call_the_typed_fields_and_the_workspace(desk, windows):
    """The SDK's defaults throughout: workdir and paths `/workspace`, whatever this machine has there."""
    real = Path("/workspace").is_dir() and Path("/workspace").resolve() != desk.workspace.resolve()
    results = run_checks(desk, "fields,workspace,desktop", XEV_TITLE=XEV, WORD_TITLE=WORD_WINDOW, WORD=WORD)
    names = {r["name"] for r in results}
    expected = {"metrics snapshot (MetricsSnapshot)", "terminal starts in the workspace", "every desktop method called"}
    assert expected <= names
    print(f"{len(results)} checks passed ({'a real' if real else 'no'} /workspace on this machine)")


def test_the_workspace_rule_beside_a_real_directory_of_that_name(agent_factory, tmp_path):
    """A real directory where the alias points (inside the file API's roots): the SDK still reaches the workspace."""
    real = tmp_path / "real" / "workspace"
    real.mkdir(parents=True)
    (real / "decoy.txt").write_text("the real directory, not the workspace")
    agent = agent_factory(workspace_alias=str(real), desktop="false")
    run_checks(agent, "workspace", ALIAS=str(real), DECOY="decoy.txt")
    assert not (real / "js-sdk.txt").exists() and (agent.workspace / "js-sdk.txt").exists()
