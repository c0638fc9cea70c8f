"""Python kernels forked from a warm template (zygote): isolation, signals, death, the template's
own death, fallback to a launch, /health and the setting that turns it off."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest


def forked_context(agent) -> str:
    info = agent.post("/contexts", {"language": "python"}).json()
    assert info["kernel_mode"] == "fork", info
    return info["context_id"]


def template_info(agent) -> dict:
    return agent.get("/health").json()["kernel_modes"]["python"]


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_health_says_how_each_language_starts(agent):
    modes = agent.get("/health").json()["kernel_modes"]
    assert modes["python"]["mode"] == "fork"
    assert modes["python"]["template"]["state"] == "ready"
    assert psutil.Process(modes["python"]["template"]["pid"]).ppid() == agent.proc.pid
    assert all(m["mode"] == "launch" for lang, m in modes.items() if lang != "python")


def test_no_state_leaks_between_forked_contexts(agent, tmp_path):
    a, b = forked_context(agent), forked_context(agent)
    path = tmp_path / "held-open"
    r = agent.execute(
        f"import json, random, numpy as np\nleaked = 1\njson.ka_leak = 2\nheld = open({str(path)!r}, 'w')\n"
        "print(random.random(), np.random.rand())",
        context_id=a,
    )
    assert r["success"], r
    c = forked_context(agent)  # forked after a's changes
    for cid in (b, c):
        out = agent.execute(
            "import json, os\n"
            "fds = []\n"
            "for n in os.listdir('/proc/self/fd'):\n"
            "    try: fds.append(os.readlink(f'/proc/self/fd/{n}'))\n"
            "    except OSError: pass\n"
            "print('leaked' in globals(), hasattr(json, 'ka_leak'), any('held-open' in f for f in fds))",
            context_id=cid,
        )
        assert out["stdout"] == "False False False\n", out
    code = "import random, numpy as np; print(random.random(), np.random.rand())"
    draws = [agent.execute(code, context_id=x)["stdout"].split() for x in (a, b, c)]
    assert len({d[0] for d in draws}) == 3 and len({d[1] for d in draws}) == 3, draws  # each seeded afresh
    for cid in (a, b, c):
        agent.delete(f"/contexts/{cid}")


def test_forked_kernel_is_a_process_of_its_own(agent):
    cid = forked_context(agent)
    info = agent.get(f"/contexts/{cid}").json()
    code = (
        "import os, threading, numpy as np, matplotlib.pyplot as plt\n"
        "box = []\nt = threading.Thread(target=lambda: box.append(os.getpid())); t.start(); t.join()\n"
        "m = np.ones((600, 600)); s = (m @ m).sum()\n"
        "print(os.getpid(), box[0], os.getsid(0) == os.getpid(), int(s), os.environ['JPY_PARENT_PID'])\n"
        "plt.plot([1, 2, 3]); plt.show()"
    )
    r = agent.execute(code, context_id=cid)
    pid, thread_pid, own_session, total, parent = r["stdout"].split()
    assert int(pid) == int(thread_pid) == info["pid"]
    assert own_session == "True" and int(total) == 600 * 600 * 600
    assert int(parent) == agent.proc.pid
    assert any(o.get("type") == "image/png" or "image/png" in str(o) for o in r["rich_outputs"])
    # The tree marker is where the agent looks for it: /proc/<pid>/environ, not only os.environ.
    with open(f"/proc/{info['pid']}/environ", "rb") as f:
        environ = f.read().split(b"\0")
    assert any(e.startswith(b"KA_TREE=") for e in environ), environ[:5]
    assert not any(e.startswith(b"KA_TEMPLATE_PAD=") for e in environ)
    agent.delete(f"/contexts/{cid}")


def test_interrupt_reaches_a_forked_kernel(agent):
    cid = forked_context(agent)
    agent.execute("kept = 7", context_id=cid)
    r = agent.execute("import time; time.sleep(30)", timeout=1, context_id=cid)
    assert r["error"]["code"] == "EXECUTION_TIMEOUT" and r["error"]["state_preserved"] is True
    box = {}
    t = threading.Thread(target=lambda: box.update(r=agent.execute("import time; time.sleep(60)", context_id=cid)))
    t.start()
    time.sleep(1.0)
    assert agent.post(f"/contexts/{cid}/interrupt").status_code == 200
    t.join(20)
    assert box["r"]["error"]["ename"] == "KeyboardInterrupt"
    assert agent.execute("print(kept)", context_id=cid)["stdout"] == "7\n"
    agent.delete(f"/contexts/{cid}")


@pytest.mark.parametrize("how", ["running", "idle"])
def test_sigkilled_forked_kernel_is_reported_and_replaced(agent, how):
    cid = forked_context(agent)
    pid = agent.get(f"/contexts/{cid}").json()["pid"]
    agent.execute("x = 1", context_id=cid)
    if how == "running":
        r = agent.execute("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", context_id=cid)
        assert r["error"]["code"] == "KERNEL_DIED" and "killed by SIGKILL" in r["error"]["message"], r
        after = agent.execute("print('x' in globals())", context_id=cid)
    else:
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(pid))  # reaped: all its threads have exited
        after = agent.execute("print('x' in globals())", context_id=cid)
        assert "killed by SIGKILL" in after["stderr"], after
    assert after["success"] and after["stdout"].endswith("False\n"), after
    info = agent.get(f"/contexts/{cid}").json()
    assert info["pid"] != pid and info["kernel_mode"] == "fork"
    agent.delete(f"/contexts/{cid}")


def test_dead_template_is_restarted_and_its_kernels_live_on(agent_factory):
    a = agent_factory()
    cid = forked_context(a)
    a.execute("kept = 'here'", context_id=cid)
    old = template_info(a)["template"]["pid"]
    os.kill(old, signal.SIGKILL)
    info = wait_for(lambda: (t := template_info(a))["template"]["pid"] not in (old, None) and t["mode"] == "fork" and t)
    assert info["template"]["restarts"] >= 1
    assert a.execute("print(kept)", context_id=cid)["stdout"] == "here\n"  # forked before, still alive
    # the pool's kernel may be one forked before, or launched while the template was down
    fresh = [a.post("/contexts", {"language": "python"}).json()["pid"] for _ in range(3)]
    assert info["template"]["pid"] in {psutil.Process(pid).ppid() for pid in fresh}
    # a kernel whose template died has no one to report its status: it is still found dead
    orphan = a.get(f"/contexts/{cid}").json()["pid"]
    os.kill(orphan, signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(orphan))
    r = a.execute("print('kept' in globals())", context_id=cid)
    assert r["stdout"] == "False\n" and "had died while idle (exit status unknown)" in r["stderr"], r


def test_failed_fork_falls_back_to_a_launch(agent_factory):
    a = agent_factory(pool_size="0")
    template = psutil.Process(wait_for(lambda: template_info(a)["template"]["pid"]))
    limits = template.rlimit(psutil.RLIMIT_NOFILE)
    used = {int(n) for n in os.listdir(f"/proc/{template.pid}/fd")}
    lowest_free = min(set(range(len(used) + 1)) - used)
    template.rlimit(psutil.RLIMIT_NOFILE, (lowest_free, limits[1]))  # its next pipe() fails
    try:
        info = a.post("/contexts", {"language": "python"}).json()
        assert info["kernel_mode"] == "launch", info
        assert a.execute("print(6 * 7)", context_id=info["context_id"])["stdout"] == "42\n"
        state = template_info(a)["template"]
        assert state["fallbacks"] >= 1 and "fork" in state["last_error"], state
    finally:
        template.rlimit(psutil.RLIMIT_NOFILE, limits)
    assert forked_context(a)


def test_setting_off_launches_kernels(agent_factory):
    a = agent_factory(kernel_templates="false")
    assert template_info(a) == {"mode": "launch"}
    info = a.post("/contexts", {"language": "python"}).json()
    assert info["kernel_mode"] == "launch"
    assert psutil.Process(info["pid"]).ppid() == a.proc.pid
    assert a.execute("print(1 + 1)", context_id=info["context_id"])["stdout"] == "2\n"


def test_forked_kernels_and_template_end_with_the_agent(agent_factory):
    a = agent_factory()
    kernel = a.get(f"/contexts/{forked_context(a)}").json()["pid"]
    template = template_info(a)["template"]["pid"]
    a.proc.kill()  # no orderly shutdown: the kernel watches the agent itself, the template dies with it
    a.proc.wait()

    def gone(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(lambda: gone(kernel) and gone(template), timeout=10)
