"""Reads hold against a symlink swapped in between the policy's check and the open."""

from __future__ import annotations

import os

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.files.policy import PathPolicy
from kernelagent.settings import Settings


@pytest.fixture
def layout(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    (root / "d" / "f").write_text("inside")
    (outside / "f").write_text("secret")
    policy = PathPolicy(Settings(workspace=str(root), allowed_roots="{workspace}"))
    return policy, root, outside


def test_the_checked_file_opens(layout):
    policy, root, _ = layout
    fd = policy.open_checked(policy.resolve(str(root / "d" / "f")), "f")
    with os.fdopen(fd, "rb") as f:
        assert f.read() == b"inside"


def test_a_file_swapped_for_a_link_is_refused(layout):
    policy, root, outside = layout
    resolved = policy.resolve(str(root / "d" / "f"))
    os.remove(resolved)
    os.symlink(outside / "f", resolved)
    with pytest.raises(AgentError) as info:
        policy.open_checked(resolved, "f")
    assert info.value.status == 400 and info.value.code == "INVALID_PATH"


def test_a_directory_swapped_for_a_link_is_refused(layout):
    policy, root, outside = layout
    resolved = policy.resolve(str(root / "d" / "f"))
    os.rename(root / "d", root / "d-old")
    os.symlink(outside, root / "d")
    with pytest.raises(AgentError) as info:
        policy.open_checked(resolved, "f")
    assert info.value.status == 403 and info.value.code == "PATH_NOT_ALLOWED"
