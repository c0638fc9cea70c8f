"""The workspace alias (core/workdir.py): whole path components, mapped as through a symlink."""

from __future__ import annotations

from collections import deque

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.core.workdir import in_workspace, resolve_workdir
from kernelagent.metrics import p95_duration_ms
from kernelagent.settings import Settings


def test_in_workspace_maps_whole_components_like_a_symlink():
    s = Settings(workspace="/srv/ws", workspace_alias="/workspace")
    assert in_workspace(s, "/workspace") == "/srv/ws"
    assert in_workspace(s, "/workspace/") == "/srv/ws"
    assert in_workspace(s, "//workspace/./a/b") == "/srv/ws/a/b"
    assert in_workspace(s, "/workspace/../etc") == "/srv/ws/../etc"  # `..` is resolved later, as through a link
    assert in_workspace(s, "/workspaces/a") == "/workspaces/a"
    assert in_workspace(s, "/tmp/workspace") == "/tmp/workspace"
    assert in_workspace(s, "workspace/a") == "workspace/a"
    assert in_workspace(Settings(workspace="/srv/ws", workspace_alias=""), "/workspace") == "/workspace"
    assert in_workspace(Settings(workspace="/srv/ws", workspace_alias="/"), "/etc") == "/etc"  # never everything


def test_resolve_workdir_maps_the_alias_and_names_the_path_as_sent(tmp_path):
    (tmp_path / "sub").mkdir()
    s = Settings(workspace=str(tmp_path), workspace_alias="/workspace")
    assert resolve_workdir(s, "/workspace") == str(tmp_path)
    assert resolve_workdir(s, "/workspace/sub") == str(tmp_path / "sub")
    assert resolve_workdir(s, None) == str(tmp_path)
    with pytest.raises(AgentError) as err:
        resolve_workdir(s, "/workspace/missing")
    assert err.value.code == "DIRECTORY_NOT_FOUND" and err.value.details["path"] == "/workspace/missing"


def test_p95_is_the_nearest_rank_of_recent_durations():
    assert p95_duration_ms(deque()) == 0.0
    assert p95_duration_ms(deque(i / 1000 for i in range(100, 0, -1))) == 95.0
    assert p95_duration_ms(deque([0.002])) == 2.0
