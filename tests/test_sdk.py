"""The official hopx-ai SDK, unchanged, against the real agent."""

from __future__ import annotations

import base64


def _mime(output) -> str:
    return getattr(output.type, "value", output.type)


def test_sdk_run_code(sdk):
    r = sdk.run_code("print('hi from sdk')")
    assert r.success and r.exit_code == 0 and r.stdout == "hi from sdk\n"


def test_sdk_state(sdk):
    sdk.run_code("sdk_state = 7")
    assert sdk.run_code("print(sdk_state + 1)").stdout == "8\n"


def test_sdk_plot_and_table(sdk):
    r = sdk.run_code("plt.plot([3, 1, 2]); plt.show()")
    pngs = [o for o in r.rich_outputs if _mime(o) == "image/png"]
    assert pngs and base64.b64decode(pngs[0].data["image/png"]).startswith(b"\x89PNG")
    r = sdk.run_code("pd.DataFrame({'a': [1, 2]})")
    assert any(_mime(o) == "text/html" and "<table" in o.data["text/html"] for o in r.rich_outputs)


def test_sdk_exception_is_a_result(sdk):
    r = sdk.run_code("1/0")
    assert not r.success and r.exit_code != 0 and "ZeroDivisionError" in r.stderr


def test_sdk_timeout_is_a_result(sdk):
    r = sdk.run_code("import time; time.sleep(10)", timeout=2)
    assert not r.success
    assert sdk.run_code("print('next')").stdout == "next\n"


def test_sdk_env(sdk):
    r = sdk.run_code("import os; print(os.environ['SDK_VAR'])", env={"SDK_VAR": "a'b\"c$d"})
    assert r.stdout == "a'b\"c$d\n"


def test_sdk_health_info_sessions(sdk):
    # is_healthy() is True only when GET /health answers {"status": "healthy"}; any error is False
    assert sdk.is_healthy() is True
    info = sdk.get_agent_info()
    assert info["agent"] == "kernelagent"
    sdk.run_code("1")  # at least one kernel has run a cell
    sessions = sdk.get_jupyter_sessions()
    assert isinstance(sessions, list) and sessions
    assert all({"kernel_id", "execution_state"} <= s.keys() for s in sessions), sessions
