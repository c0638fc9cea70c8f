"""The process-tree marker: found again by /proc scan after the process left the session."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

from kernelagent.core import proc


def test_a_marked_process_is_found_after_setsid_and_killed():
    tree = proc.new_tree()
    assert tree.startswith(f"{os.getpid()}-")
    env = proc.marked_env(dict(os.environ), tree)
    child = subprocess.Popen(["setsid", "sleep", "30"], env=env)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not proc.marked(tree):
            time.sleep(0.05)
        assert [p.pid for p in proc.marked(tree)] == [child.pid]
        assert proc.marked(proc.new_tree()) == []
        asyncio.run(proc.kill_tree([], 1.0, tree=tree))
        assert child.wait(5) is not None
    finally:
        if child.poll() is None:
            child.kill()
