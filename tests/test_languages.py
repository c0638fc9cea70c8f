"""Every language through /execute and the SDK: output, state, errors, deadlines, death, env, workdir."""

from __future__ import annotations

import base64
import os
import signal
import time

import pytest
from conftest import start_agent

# Per language: snippets for the same checks. `{var}` is an environment variable's name.
SNIPPETS = {
    "python": dict(
        hello="print('hello')",
        set_state="sv = 41",
        get_state="print(sv + 1)",
        fail="1/0",
        spin="while True: pass",
        env="import os; print(os.environ['{var}'])",
        cwd="import os; print(os.getcwd())",
        exit="import os; os._exit(3)",
    ),
    "javascript": dict(
        hello="console.log('hello')",
        set_state="let sv = 41",
        get_state="console.log(sv + 1)",
        fail="throw new Error('boom')",
        spin="while (true) {}",
        env="console.log(process.env['{var}'])",
        cwd="console.log(process.cwd())",
        exit="process.exit(3)",
    ),
    "typescript": dict(
        hello="console.log('hello')",
        set_state="let sv: number = 41",
        get_state="console.log(sv + 1)",
        fail="throw new Error('boom')",
        spin="while (true) {}",
        env="console.log(Deno.env.get('{var}'))",
        cwd="console.log(Deno.cwd())",
        exit="Deno.exit(3)",
    ),
    "bash": dict(
        hello="echo hello",
        set_state="sv=41",
        get_state="echo $((sv + 1))",
        fail="ls /no/such/dir",
        spin="sleep 60",
        env="printf '%s\\n' \"${var}\"",
        cwd="pwd",
        exit="exit 3",
    ),
    "go": dict(
        hello='fmt.Println("hello")',
        set_state="func sv() int { return 41 }",
        get_state="fmt.Println(sv() + 1)",
        fail="undefinedThing()",
        spin="for {}",
        env='fmt.Println(os.Getenv("{var}"))',
        cwd="wd, _ := os.Getwd()\nfmt.Println(wd)",
        exit="os.Exit(3)",
    ),
}
LANGUAGES = list(SNIPPETS)
NASTY = 'it\'s "q" \\ $HOME `uname` $(id) ${x}\nline two ünï 🚀'


@pytest.fixture(scope="module")
def contexts(agent):
    """One context per language for this module, so state checks do not meet other tests."""
    made = {lang: agent.post("/contexts", {"language": lang}).json()["context_id"] for lang in LANGUAGES}
    yield made
    for cid in made.values():
        agent.delete(f"/contexts/{cid}")


def run(agent, lang, code, **fields):
    return agent.execute(code, language=lang, **fields)


def test_health_lists_every_language(agent):
    assert set(LANGUAGES) <= set(agent.get("/health").json()["languages"])


@pytest.mark.parametrize(
    "alias,lang",
    [
        ("js", "javascript"),
        ("node", "javascript"),
        ("nodejs", "javascript"),
        ("sh", "bash"),
        ("shell", "bash"),
        ("golang", "go"),
        ("ts", "typescript"),
        ("deno", "typescript"),
        ("python3", "python"),
    ],
)
def test_aliases(agent, alias, lang):
    r = run(agent, alias, SNIPPETS[lang]["hello"])
    assert r["success"] and r["stdout"] == "hello\n" and r["language"] == lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_output_and_state(agent, contexts, lang):
    s, cid = SNIPPETS[lang], contexts[lang]
    assert run(agent, lang, s["hello"], context_id=cid)["stdout"] == "hello\n"
    assert run(agent, lang, s["set_state"], context_id=cid)["success"]
    r = run(agent, lang, s["get_state"], context_id=cid)
    assert r["success"] and r["stdout"] == "42\n", r


@pytest.mark.parametrize("lang", LANGUAGES)
def test_error(agent, contexts, lang):
    r = run(agent, lang, SNIPPETS[lang]["fail"], context_id=contexts[lang])
    assert r["success"] is False and r["exit_code"] != 0
    assert r["error"]["ename"] and r["stderr"] or r["error"]["traceback"]
    assert run(agent, lang, SNIPPETS[lang]["hello"], context_id=contexts[lang])["success"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_deadline_then_next_call(agent, contexts, lang):
    s, cid = SNIPPETS[lang], contexts[lang]
    run(agent, lang, s["set_state"], context_id=cid)
    t0 = time.monotonic()
    r = run(agent, lang, s["spin"], context_id=cid, timeout=2)
    assert time.monotonic() - t0 < 15
    assert r["success"] is False and r["error"]["code"] == "EXECUTION_TIMEOUT"
    after = run(agent, lang, s["get_state"], context_id=cid)
    assert after["success"], after
    if r["error"]["state_preserved"]:
        assert after["stdout"] == "42\n"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_killed_kernel_is_replaced(agent, lang):
    cid = agent.post("/contexts", {"language": lang}).json()["context_id"]
    try:
        assert run(agent, lang, SNIPPETS[lang]["hello"], context_id=cid)["success"]
        pid = agent.get(f"/contexts/{cid}").json()["pid"]
        os.killpg(pid, signal.SIGKILL)  # kernels run in a session of their own
        time.sleep(0.2)
        r = run(agent, lang, SNIPPETS[lang]["hello"], context_id=cid)
        assert r["success"] and r["stdout"] == "hello\n" and r["kernel_restarted"] is True
        assert "fresh kernel" in r["stderr"]
        assert agent.get(f"/contexts/{cid}").json()["pid"] != pid
    finally:
        agent.delete(f"/contexts/{cid}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_runtime_exit_mid_cell(agent, lang):
    cid = agent.post("/contexts", {"language": lang}).json()["context_id"]
    try:
        r = run(agent, lang, SNIPPETS[lang]["exit"], context_id=cid, timeout=30)
        assert r["success"] is False and r["exit_code"] != 0
        if lang == "go":  # each Go cell is a program of its own: its exit is just a status
            assert r["exit_code"] == 3
        else:
            assert r["error"]["state_preserved"] is False
        nxt = run(agent, lang, SNIPPETS[lang]["hello"], context_id=cid)
        assert nxt["success"] and nxt["stdout"] == "hello\n", nxt
    finally:
        agent.delete(f"/contexts/{cid}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_env_and_workdir_as_data(agent, lang, tmp_path):
    s = SNIPPETS[lang]
    r = run(agent, lang, s["env"].format(var="NASTY"), env={"NASTY": NASTY})
    assert r["success"] and r["stdout"] == NASTY + "\n", r
    work = tmp_path / "work dir ü $x `y` 'q'"
    work.mkdir()
    r = run(agent, lang, s["cwd"], workdir=str(work))
    assert r["stdout"] == f"{work}\n", r
    r = run(agent, lang, s["cwd"])
    assert r["stdout"] == f"{agent.workspace}\n"


def test_bash_state_and_streams(agent, contexts):
    cid = contexts["bash"]
    run(agent, "bash", "cd /tmp; export KA_X=1; greet() { echo \"hi $1\"; }; alias ll='echo aliased'", context_id=cid)
    r = run(
        agent,
        "bash",
        "pwd; echo $KA_X; greet you; ll; echo oops >&2; exit_status_test() { return 7; }; exit_status_test",
        context_id=cid,
    )
    assert r["stdout"] == "/tmp\n1\nhi you\naliased\n" and r["stderr"] == "oops\n"
    assert r["exit_code"] == 7 and r["success"] is False
    run(agent, "bash", "cd -", context_id=cid)


def test_bash_interrupt_kills_children(agent, contexts):
    cid = contexts["bash"]
    r = run(agent, "bash", "sleep 300 & echo $! > /tmp/ka_bg_pid; sleep 301", context_id=cid, timeout=1)
    assert r["error"]["code"] == "EXECUTION_TIMEOUT"
    assert run(agent, "bash", "echo ok", context_id=cid)["stdout"] == "ok\n"
    r = run(agent, "bash", "pgrep -f 'sleep 301' || echo none", context_id=cid)
    assert r["stdout"] == "none\n"


def test_javascript_features(agent, contexts):
    cid = contexts["javascript"]
    r = run(
        agent,
        "js",
        "const fs = require('node:fs'); const os = require('os');\n"
        "await new Promise(r => setTimeout(r, 50));\ntypeof fs.readFileSync",
        context_id=cid,
    )
    assert r["success"] and r["result"] == "'function'"
    r = run(agent, "js", "function twice(x) { return 2 * x }", context_id=cid)
    assert run(agent, "js", "twice(21)", context_id=cid)["result"] == "42"
    r = run(agent, "js", "function f() { throw new TypeError('bad') }\nf()", context_id=cid)
    assert r["error"]["ename"] == "TypeError" and "bad" in r["stderr"] + "\n".join(r["error"]["traceback"])


def test_javascript_rich_output(agent):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    r = run(
        agent,
        "javascript",
        f"display.html('<b>bold</b>'); display.png('{png}'); "
        "display.svg('<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>'); display.json({a: 1}); "
        "display.markdown('# T')",
    )
    assert r["html"] == "<b>bold</b>" and r["png"] == png and r["svg"].startswith("<svg")
    assert r["json"] == {"a": 1} and r["markdown"] == "# T"
    assert len(r["rich_outputs"]) == 5


def test_go_declarations_persist(agent, contexts):
    cid = contexts["go"]
    r = run(
        agent,
        "go",
        "type point struct{ x, y int }\nconst scale = 3\nfunc (p point) sum() int { return (p.x + p.y) * scale }",
        context_id=cid,
    )
    assert r["success"], r
    r = run(agent, "go", "fmt.Println(point{1, 2}.sum())", context_id=cid)
    assert r["stdout"] == "9\n", r
    r = run(agent, "go", "x := 1", context_id=cid)
    assert r["success"] is False and "declared" in r["stderr"] and "not used" in r["stderr"]
    t0 = time.monotonic()
    for _ in range(3):
        assert run(agent, "go", "fmt.Println(point{1, 2}.sum())", context_id=cid)["stdout"] == "9\n"
    assert (time.monotonic() - t0) / 3 < 1.0  # cached builds; the bench measures this properly


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sdk_run_code(sdk, lang):
    s = SNIPPETS[lang]
    r = sdk.run_code(s["hello"], language=lang)
    assert r.success and r.stdout == "hello\n"
    r = sdk.run_code(s["fail"], language=lang)
    assert not r.success and r.exit_code != 0
    r = sdk.run_code(s["env"].format(var="SDK_NASTY"), language=lang, env={"SDK_NASTY": NASTY})
    assert r.stdout == NASTY + "\n"


def test_unavailable_language_names_the_available(agent):
    r = agent.post("/execute", {"code": "x", "language": "fortran"})
    assert r.status_code == 400
    for lang in LANGUAGES:
        assert lang in r.json()["message"]


def test_deno_kernel_ends_with_an_agent_killed_outright(agent_factory):
    """Deno's kernel does not watch its parent: its provisioner's PR_SET_PDEATHSIG must end it."""
    import psutil

    a = agent_factory(warm_languages="typescript")
    kids = psutil.Process(a.proc.pid).children(recursive=True)
    denos = [k for k in kids if k.name() == "deno"]
    assert denos, [k.name() for k in kids]  # the pooled kernel is deno itself, started by the agent
    assert all(k.ppid() == a.proc.pid for k in denos)
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(10)
    deadline = time.monotonic() + 10
    alive = denos
    while alive and time.monotonic() < deadline:
        alive = [k for k in alive if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    for k in alive:
        k.kill()
    assert not alive, [k.pid for k in alive]


def test_go_kernel_keeps_its_programs_in_gocache(tmp_path):
    """Go's own GOCACHE reaches the Go kernel through the agent (KERNELAGENT_* variables do not):
    the kernel's built programs live in it, beside Go's build cache."""
    gocache = tmp_path / "gocache"
    a = start_agent(tmp_path / "agent", {"GOCACHE": str(gocache), "KERNELAGENT_WARM_LANGUAGES": "python"})
    try:
        r = a.execute('fmt.Println("cached")', language="go")
        assert r["success"] and r["stdout"] == "cached\n", r
    finally:
        a.close()
    assert len(list((gocache / "kernelagent" / "bin").iterdir())) == 1
    assert list((gocache / "kernelagent").glob("gocell-*"))
    assert list(gocache.glob("[0-9a-f][0-9a-f]"))  # Go's own build cache
