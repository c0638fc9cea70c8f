"""The unit tier: pure modules of kernelagent, tested in-process.

No agent, no kernels, no node/Go/Deno, no network: the whole tier runs in seconds with
`.venv/bin/python -m pytest tests/unit`. The end-to-end fixtures of tests/conftest.py are defined
but never started here; a unit test that asks for one is refused at collection.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
E2E_FIXTURES = {"agent", "agent_factory", "sdk"}


def pytest_configure(config):
    config.addinivalue_line("markers", "unit: in-process test of a pure module (every test under tests/unit)")


def pytest_collection_modifyitems(config, items):
    # this hook sees every collected item, not only this directory's: pick ours by path
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.unit)
        wanted = E2E_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if wanted:
            raise pytest.UsageError(
                f"{item.nodeid}: unit tests run without an agent; "
                f"it asks for {sorted(wanted)} (move it out of tests/unit)"
            )
