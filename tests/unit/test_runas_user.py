"""core.runas: looking the user up, the spawn arguments and environment it gives, its directory checks."""

from __future__ import annotations

import os
import pwd

import pytest

from kernelagent.core.runas import RunAs, RunAsError, run_as, shared_base
from kernelagent.engine.supply import runtime_base


def nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user here")


def test_unknown_user_is_refused_with_the_setting_named():
    with pytest.raises(RunAsError, match="no local user called 'no-such-user-kagent'.*KERNELAGENT_RUN_AS_USER"):
        RunAs.lookup("no-such-user-kagent")


def test_empty_setting_and_the_agents_own_user_change_nothing():
    assert run_as("") is None
    assert run_as("  ") is None
    assert run_as(pwd.getpwuid(os.geteuid()).pw_name) is None
    assert run_as(str(os.geteuid())) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may run code as another user")
def test_lookup_by_name_and_by_uid():
    entry = nobody()
    user = RunAs.lookup("nobody")
    assert (user.name, user.uid, user.gid, user.home) == ("nobody", entry.pw_uid, entry.pw_gid, entry.pw_dir)
    assert entry.pw_gid in user.groups
    assert RunAs.lookup(str(entry.pw_uid)) == user
    used = run_as("nobody")
    assert used is not None and used.uid == entry.pw_uid
    if not os.path.isdir(entry.pw_dir):  # a stand-in home it can write, beside the kernels' run dirs
        assert used.home == os.path.join(shared_base(), "home-nobody")


def test_popen_kwargs_and_environment():
    user = RunAs("u", 1234, 2345, (2345, 7), "/home/u")
    assert user.popen_kwargs() == {"user": 1234, "group": 2345, "extra_groups": [2345, 7]}
    env = user.environ({"HOME": "/root", "USER": "root", "LOGNAME": "root", "PATH": "/bin"})
    assert env == {"HOME": "/home/u", "USER": "u", "LOGNAME": "u", "PATH": "/bin"}
    kept = user.environ({"HOME": "/set/by/caller", "USER": "root"}, keep={"HOME": "/set/by/caller"})
    assert kept == {"HOME": "/set/by/caller", "USER": "u", "LOGNAME": "u"}


def test_can_write_by_mode_bits(tmp_path):
    st = os.stat(tmp_path)
    owner = RunAs("o", st.st_uid, 99999, (99999,), "/")
    group = RunAs("g", 99998, st.st_gid, (st.st_gid,), "/")
    other = RunAs("x", 99997, 99997, (99997,), "/")
    os.chmod(tmp_path, 0o750)
    assert owner.can_write(str(tmp_path)) and not group.can_write(str(tmp_path)) and not other.can_write(str(tmp_path))
    os.chmod(tmp_path, 0o773)
    assert group.can_write(str(tmp_path)) and other.can_write(str(tmp_path))


def test_runtime_dir_leaves_the_state_dir_when_code_runs_as_another_user():
    assert runtime_base("/st") == "/st/runtime"
    outside = runtime_base("/st", outside=True)
    assert not outside.startswith("/st/") and outside.endswith(f"kernelagent-{os.getuid()}-runas")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give files away")
def test_give_does_not_follow_a_link(tmp_path):
    target = tmp_path / "target"
    target.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    RunAs("u", 12345, 12345, (12345,), "/").give(str(link))
    assert os.lstat(link).st_uid == 12345 and os.stat(target).st_uid == 0
