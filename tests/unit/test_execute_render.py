"""The rendering of a run into the /execute answer, and the bounded gathering of its outputs: no kernels."""

from __future__ import annotations

import signal

from kernelagent.engine import render
from kernelagent.engine.outputs import Outputs


def gathered(**caps: int) -> Outputs:
    return Outputs(caps.get("stdout", 1000), caps.get("stderr", 1000), caps.get("rich", 10_000))


def test_plain_run_has_no_optional_fields():
    out = gathered()
    out.add_stream("stdout", "hi\n")
    answer = render.answer(
        outputs=out,
        reply={"status": "ok", "execution_count": 3},
        exit_code=0,
        error=None,
        execution_time=0.0012345678,
        language="python",
        context_id="default-python",
        restarted=False,
    )
    assert answer["success"] is True and answer["exit_code"] == 0
    assert answer["stdout"] == "hi\n" and answer["stderr"] == "" and answer["rich_outputs"] == []
    assert answer["execution_count"] == 3 and answer["execution_time"] == 0.001235
    assert answer["truncated"] is False
    # absent, not null: what the SDK and the contract see today
    for key in ("error", "kernel_restarted", "truncation", "result", "png", "html", "svg", "markdown", "json"):
        assert key not in answer, key


def test_no_reply_gives_a_null_execution_count():
    answer = render.answer(
        outputs=gathered(),
        reply=None,
        exit_code=124,
        error=None,
        execution_time=1,
        language="python",
        context_id="c",
        restarted=True,
    )
    assert answer["execution_count"] is None  # present and null
    assert answer["success"] is False and answer["kernel_restarted"] is True


def test_result_and_top_level_mime_fields_take_the_first_of_each():
    out = gathered()
    out.add_display("execute_result", {"data": {"text/plain": "42"}, "execution_count": 1})
    out.add_display("display_data", {"data": {"text/html": "<b>1</b>", "text/plain": "1"}})
    out.add_display("display_data", {"data": {"text/html": "<b>2</b>", "application/json": {"a": 1}}})
    fields = render.output_fields(out)
    assert fields["result"] == "42"  # a plain value is the result, not a rich output
    assert [o["type"] for o in fields["rich_outputs"]] == ["text/html", "text/html"]
    assert fields["html"] == "<b>1</b>" and fields["json"] == {"a": 1}
    assert "png" not in fields


def test_truncation_says_what_was_cut():
    out = gathered(stdout=10, rich=5)
    out.add_stream("stdout", "x" * 50)
    out.add_display("display_data", {"data": {"image/png": "A" * 100}})
    fields = render.output_fields(out)
    assert fields["truncated"] is True
    assert fields["truncation"] == {
        "stdout": True,
        "stderr": False,
        "rich_outputs_dropped": 1,
        "limits": {"stdout_bytes": 10, "stderr_bytes": 1000, "rich_bytes": 5},
    }
    assert fields["stdout"].startswith("x" * 10) and "truncated" in fields["stdout"]


def test_listener_may_hear_more_than_is_kept():
    heard: list[tuple[str, str]] = []
    out = Outputs(5, 5, 100, listener=lambda kind, text: heard.append((kind, text)), forward_limit=8)
    out.add_stream("stdout", "abcdefghij")
    assert heard == [("stdout", "abcdefgh")]
    assert out.stdout.truncated


def test_exit_code():
    out = gathered()
    assert render.exit_code({"status": "ok"}, out) == 0
    assert render.exit_code({"status": "ok", "exit_code": 3}, out) == 3  # a wrapper kernel's own
    assert render.exit_code({"status": "error"}, out) == 1
    assert render.exit_code(None, out) == 0
    out.add_error({"ename": "E", "evalue": "v", "traceback": []})
    assert render.exit_code({"status": "ok"}, out) == 1


def test_kernel_error_strips_ansi_and_marks_an_ended_runtime():
    out = gathered()
    out.add_error({"ename": "ValueError", "evalue": "bad", "traceback": ["\x1b[31mValueError\x1b[0m: bad"]})
    error = render.kernel_error(out.error)
    assert error == {
        "ename": "ValueError",
        "evalue": "bad",
        "traceback": ["ValueError: bad"],
        "code": "EXECUTION_ERROR",
        "message": "ValueError: bad",
    }
    assert "ValueError: bad" in out.stderr.text()
    ended = render.kernel_error(out.error, kernel_restarted=True)
    assert ended["state_preserved"] is False and ended["kernel_restarted"] is True


def test_timeout_error():
    kept = render.timeout_message(1.5, preserved=True)
    assert kept == "Execution timed out after 1.5 s: the kernel was interrupted; its state is kept"
    error = render.timeout_error(render.timeout_message(2, preserved=False), preserved=False)
    assert error["code"] == "EXECUTION_TIMEOUT" and error["ename"] == "TimeoutError"
    assert error["state_preserved"] is False and error["kernel_restarted"] is True
    assert "restarted" in error["message"]


def test_death_cause_in_words_and_as_a_shell_exit_code():
    assert render.death_cause(-signal.SIGKILL) == ("killed by SIGKILL (possibly out of memory)", 137)
    assert render.death_cause(-signal.SIGSEGV) == ("killed by SIGSEGV", 139)
    assert render.death_cause(1) == ("exited with status 1", 1)
    assert render.death_cause(0) == ("exited with status 0", 1)
    assert render.death_cause(None) == ("exit status unknown", 1)
    error = render.death_error("killed by SIGSEGV")
    assert error["code"] == "KERNEL_DIED" and "SIGSEGV" in error["message"]
