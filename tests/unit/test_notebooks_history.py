"""A context's history: executions kept in order, bounded in cells and size, what was dropped counted."""

from __future__ import annotations

from typing import Any

from kernelagent.engine.history import History, answer_size


def answer(stdout: str = "", **extra: Any) -> Any:
    return {
        "success": True,
        "exit_code": 0,
        "execution_time": 0.5,
        "stdout": stdout,
        "stderr": "",
        "rich_outputs": [],
        "truncated": False,
        "execution_count": 1,
        **extra,
    }


def test_entries_in_order_with_their_sequence_and_start():
    h = History(10, 10_000)
    h.record("a = 1", answer())
    h.record("print(a)", answer("1\n"), started=123.0)
    first, second = h.entries()
    assert (first.seq, first.code, second.seq, second.code) == (1, "a = 1", 2, "print(a)")
    assert second.started == 123.0 and second.answer["stdout"] == "1\n"
    assert h.state() == {
        "cells": 2,
        "bytes": len("a = 1") + len("print(a)") + 2,
        "dropped_cells": 0,
        "dropped_outputs": 0,
        "truncated": False,
        "limits": {"cells": 10, "bytes": 10_000},
    }


def test_the_oldest_go_first_past_the_cell_bound():
    h = History(3, 10_000)
    for i in range(5):
        h.record(f"x = {i}", answer())
    assert [e.code for e in h.entries()] == ["x = 2", "x = 3", "x = 4"]
    assert [e.seq for e in h.entries()] == [3, 4, 5]
    state = h.state()
    assert state["cells"] == 3 and state["dropped_cells"] == 2 and state["truncated"] is True


def test_the_oldest_go_first_past_the_size_bound():
    h = History(100, 250)
    for i in range(4):
        h.record(f"print({i})", answer(str(i) * 100))  # 108 each
    assert [e.code for e in h.entries()] == ["print(2)", "print(3)"]
    assert h.size == 216 <= 250 and h.state()["dropped_cells"] == 2


def test_one_execution_over_the_size_bound_keeps_its_code_and_error_not_its_outputs():
    h = History(100, 50)
    h.record("small", answer("ok"))
    error = {"code": "EXECUTION_ERROR", "ename": "E", "evalue": "v", "traceback": [], "message": "E: v"}
    png = {"type": "image/png", "data": {"image/png": "A" * 500}, "metadata": {}, "output_type": "display_data"}
    h.record("big()", answer("x" * 100, rich_outputs=[png], png="A" * 500, error=error, success=False))
    small, big = h.entries()
    assert big.answer["stdout"] == "" and big.answer["rich_outputs"] == [] and "png" not in big.answer
    assert big.answer["error"] == error and big.answer["success"] is False
    assert big.outputs_dropped == 600 and big.size == len("big()")
    assert h.state()["dropped_outputs"] == 1 and h.state()["truncated"] is True


def test_sizes_count_code_streams_result_and_rich_data():
    rich = {"type": "application/json", "data": {"text/plain": "abc", "application/json": {"k": 1}}}
    a = answer("12", stderr="345", result="67", rich_outputs=[rich])
    assert answer_size("code", a) == 4 + 2 + 3 + 2 + 3 + len('{"k": 1}')


def test_clear_forgets_everything_and_zero_cells_keeps_none():
    h = History(2, 1000)
    for i in range(3):
        h.record(str(i), answer())
    h.clear()
    assert len(h) == 0 and h.size == 0 and h.state()["truncated"] is False
    h.record("again", answer())
    assert h.entries()[0].seq == 4  # sequence numbers keep going: cell ids stay unique
    off = History(0, 1000)
    off.record("x", answer())
    assert off.entries() == [] and off.state()["dropped_cells"] == 1
