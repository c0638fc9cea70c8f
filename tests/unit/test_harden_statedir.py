"""Private directories: 0700 whatever they were, and run directories of dead agents cleared."""

from __future__ import annotations

import os
import stat

from kernelagent.core.statedir import clear_stale, fresh_run_dir, private_dir
from kernelagent.engine.supply import MAX_RUNTIME_PATH, runtime_base


def test_private_dir_narrows_an_existing_mode(tmp_path):
    d = tmp_path / "state"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    private_dir(str(d))
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


def test_stale_run_dirs_go_live_ones_stay(tmp_path):
    dead, live, other = tmp_path / "run-4194999", tmp_path / f"run-{os.getppid()}", tmp_path / "notes"
    for d in (dead, live, other):
        d.mkdir()
    assert clear_stale(str(tmp_path)) == [str(dead)]
    assert live.exists() and other.exists() and not dead.exists()


def test_fresh_run_dir_is_named_after_the_agent(tmp_path):
    path = fresh_run_dir(str(tmp_path / "runtime"))
    assert os.path.basename(path) == f"run-{os.getpid()}"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


def test_runtime_base_keeps_socket_paths_short():
    assert runtime_base("/root/.kernelagent") == "/root/.kernelagent/runtime"
    long = "/x" * 40
    assert not runtime_base(long).startswith(long)
    assert len("/home/someone/.kernelagent/runtime") < MAX_RUNTIME_PATH
