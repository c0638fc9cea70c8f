"""The project's kernels (javascript, bash, go, typescript) driven directly through jupyter_client.

Real kernels from the kernelspecs of kernels/kernelagent_kernels, started by AsyncKernelManager
over ipc as the agent does (Deno's kernel, which can only bind tcp, gets it from its provisioner),
no mocks. One kernel per language is shared by that language's tests (state carries between
them, so names are unique per test), on one event loop for the module. go, goimports and deno
are expected to be installed by scripts/setup_kernels.sh; if they are missing these tests fail,
they are not skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import statistics
import time

import pytest
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from kernelagent_kernels import kernelspecs_dir

from kernelagent.engine.setup_codes import bash_setup, go_setup, javascript_setup, typescript_setup

KERNELS = kernelspecs_dir()
LANGS = ["javascript", "bash", "go", "typescript"]
SETUP = {"javascript": javascript_setup, "bash": bash_setup, "go": go_setup, "typescript": typescript_setup}

NASTY = {
    "KA_QUOTES": 'it\'s "quoted" \\ back\\slash',
    "KA_DOLLAR": "$HOME ${PATH} $(id) `whoami` %s {}",
    "KA_NEWLINES": "line1\nline2\n\ttabbed\n",
    "KA_UNICODE": "ünïcødé ✓ 🚀 ‮ end",
}

# Per language: code printing the NASTY values as one JSON object, code printing the cwd, a busy
# loop, and code making state / reading it back.
PRINT_ENV = {
    "javascript": "console.log(JSON.stringify(Object.fromEntries(%s.map(k => [k, process.env[k] ?? null]))))",
    "typescript": "console.log(JSON.stringify(Object.fromEntries(%s.map(k => [k, Deno.env.get(k) ?? null]))))",
    "bash": 'for k in %s; do if [ -n "${!k+x}" ]; then printf \'%%s\\0%%s\\0\' "$k" "${!k}"; fi; done',
    "go": (
        "m := map[string]*string{}\nfor _, k := range %s {\n"
        "if v, ok := os.LookupEnv(k); ok { m[k] = &v } else { m[k] = nil }\n}\n"
        "b, _ := json.Marshal(m)\nfmt.Println(string(b))"
    ),
}
PRINT_CWD = {
    "javascript": "console.log(process.cwd())",
    "typescript": "console.log(Deno.cwd())",
    "bash": "pwd -P",
    "go": "d, _ := os.Getwd()\nfmt.Println(d)",
}
BUSY = {
    "javascript": "let busyMark = 1; while (true) {}",
    "typescript": "let busyMark = 1; while (true) {}",
    "bash": "busyMark=1; while true; do :; done",
    "go": "for {}",
}
STATE = {  # (define, use, expected stdout)
    "javascript": (
        "let st = 20; const sf = (n) => n + st; class SK { v() { return 2 } }",
        "console.log(sf(1), new SK().v())",
        "21 2\n",
    ),
    "typescript": ("let st: number = 20; const sf = (n: number) => n + st;", "console.log(sf(1))", "21\n"),
    "bash": (
        "st=20; sf() { echo $(( $1 + st )); }; alias sa='echo aliased'; cd /; export SE=exported",
        "sf 1; sa; pwd; bash -c 'echo $SE'",
        "21\naliased\n/\nexported\n",
    ),
    "go": (
        'import "strings"\ntype SK struct{ N int }\nconst SC = 20\nfunc sf(n int) int { return n + SC }',
        'fmt.Println(sf(1), strings.Repeat("x", 2), SK{3})',
        "21 xx {3}\n",
    ),
}
ERROR = {
    "javascript": "null.boom",
    "typescript": "throw new Error('boom')",
    "bash": "echo before; exit_with() { return 3; }; exit_with",
    "go": "fmt.Println(notDefined)",
}


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


class Kernel:
    def __init__(self, km, kc, grace):
        self.km, self.kc = km, kc
        self.grace = grace  # Deno may publish a cell's stream output just after its idle status

    async def run(self, code, *, silent=False, interrupt_after=None, timeout=60):
        """Run one cell: returns (outputs as (msg_type, content, arrival time), reply content)."""
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent)
        if interrupt_after is not None:
            asyncio.get_running_loop().call_later(
                interrupt_after, lambda: asyncio.ensure_future(self.km.interrupt_kernel())
            )
        outputs = []
        idle = False
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = await self.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                if self.grace and idle:
                    break
                raise
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                if self.grace:
                    idle = True
                    deadline = time.monotonic() + self.grace
                    continue
                break
            if kind not in ("status", "execute_input"):
                outputs.append((kind, msg["content"], time.monotonic()))
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.kc.get_shell_msg(timeout=deadline - time.monotonic())
            if reply["parent_header"].get("msg_id") == msg_id:
                return outputs, reply["content"]

    async def stdout(self, code, **kw):
        outputs, reply = await self.run(code, **kw)
        assert reply["status"] == "ok", (reply, outputs)
        return text(outputs, "stdout")


def text(outputs, name):
    return "".join(c["text"] for kind, c, _ in outputs if kind == "stream" and c["name"] == name)


async def start_kernel(name, tmp):
    ksm = KernelSpecManager(kernel_dirs=[str(KERNELS)])
    spec = ksm.get_kernel_spec(name)
    km = AsyncKernelManager(
        kernel_name=name,
        kernel_spec_manager=ksm,
        transport="ipc",
        connection_file=str(tmp / f"{name}.json"),
    )
    km.ip = str(tmp / f"{name}-ipc")  # the provisioner of Deno's kernel switches to tcp
    await km.start_kernel(env={**os.environ, "KA_KERNEL_SCRATCH": str(tmp)})  # as the agent does
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    return Kernel(km, kc, spec.metadata.get("kernelagent", {}).get("late_output_grace", 0))


@pytest.fixture(scope="module")
def kernels(loop, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kernels")
    started = {}

    def get(name):
        if name not in started:
            started[name] = loop.run_until_complete(start_kernel(name, tmp))
        return started[name]

    yield get
    for k in started.values():
        k.kc.stop_channels()
        loop.run_until_complete(k.km.shutdown_kernel(now=True))


@pytest.mark.parametrize("lang", LANGS)
def test_stdout_and_stderr_are_separate(lang, kernels, loop):
    code = {
        "javascript": "console.log('to out'); console.error('to err')",
        "typescript": "console.log('to out'); console.error('to err')",
        "bash": "echo to out; echo to err >&2",
        "go": 'fmt.Println("to out")\nfmt.Fprintln(os.Stderr, "to err")',
    }[lang]
    outputs, reply = loop.run_until_complete(kernels(lang).run(code))
    assert reply["status"] == "ok"
    assert text(outputs, "stdout") == "to out\n"
    assert text(outputs, "stderr") == "to err\n"
    if lang != "typescript":
        assert reply["exit_code"] == 0


@pytest.mark.parametrize("lang", LANGS)
def test_state_persists_between_cells(lang, kernels, loop):
    define, use, expected = STATE[lang]
    k = kernels(lang)
    loop.run_until_complete(k.stdout(define))
    loop.run_until_complete(k.stdout(define))  # running a defining cell again is allowed
    assert loop.run_until_complete(k.stdout(use)) == expected


@pytest.mark.parametrize("lang", LANGS)
def test_error_is_reported(lang, kernels, loop):
    outputs, reply = loop.run_until_complete(kernels(lang).run(ERROR[lang]))
    assert reply["status"] == "error"
    errors = [c for kind, c, _ in outputs if kind == "error"]
    assert errors and errors[0]["ename"] == reply["ename"]
    if lang == "javascript":
        assert reply["ename"] == "TypeError" and reply["exit_code"] == 1
        assert any("cell[" in line for line in reply["traceback"])  # the stack
    elif lang == "typescript":
        assert reply["evalue"] == "boom"
    elif lang == "bash":
        assert reply["exit_code"] == 3 and reply["ename"] == "ExitCode"
        assert text(outputs, "stdout") == "before\n"
    elif lang == "go":
        assert reply["ename"] == "CompileError" and reply["exit_code"] == 1
        assert "undefined: notDefined" in text(outputs, "stderr")


@pytest.mark.parametrize("lang", LANGS)
def test_interrupt_busy_loop_keeps_state(lang, kernels, loop):
    k = kernels(lang)
    before = {"javascript": "let keep = 41", "typescript": "let keep = 41", "bash": "keep=41", "go": "var keep = 41"}[
        lang
    ]
    after = {
        "javascript": "console.log(keep + 1, busyMark)",
        "typescript": "console.log(keep + 1, busyMark)",
        "bash": "echo $((keep + 1)) $busyMark",
        "go": "fmt.Println(keep + 1)",
    }[lang]
    loop.run_until_complete(k.run(before))
    started = time.monotonic()
    outputs, reply = loop.run_until_complete(k.run(BUSY[lang], interrupt_after=1.0, timeout=30))
    assert time.monotonic() - started < 15
    assert reply["status"] == "error"
    if lang != "typescript":  # Deno reports a generic "Execution failed"
        assert reply["ename"] == "KeyboardInterrupt" and reply["exit_code"] == 130
    expected = {"go": "42\n"}.get(lang, "42 1\n")
    assert loop.run_until_complete(k.stdout(after)) == expected


@pytest.mark.parametrize("lang", LANGS)
def test_env_and_workdir_setup_code_carries_values_intact(lang, kernels, loop, tmp_path):
    k = kernels(lang)
    workdir = tmp_path / "work dir ü $x `y` 'q'"
    workdir.mkdir()
    setup = SETUP[lang]
    _, reply = loop.run_until_complete(k.run(setup({"KA_GONE": "x"}, [], None), silent=True))
    assert reply["status"] == "ok"
    _, reply = loop.run_until_complete(k.run(setup(NASTY, ["KA_GONE"], str(workdir)), silent=True))
    assert reply["status"] == "ok", reply
    names = [*NASTY, "KA_GONE"]
    listing = {"bash": " ".join(names), "go": "[]string{{{}}}".format(", ".join(map(json.dumps, names)))}
    out = loop.run_until_complete(k.stdout(PRINT_ENV[lang] % listing.get(lang, json.dumps(names))))
    if lang == "bash":
        parts = out.split("\0")[:-1]
        got = dict(zip(parts[::2], parts[1::2], strict=True))
    else:
        got = {key: value for key, value in json.loads(out).items() if value is not None}
    assert got == NASTY
    cwd = loop.run_until_complete(k.stdout(PRINT_CWD[lang]))
    assert os.path.realpath(cwd.rstrip("\n")) == os.path.realpath(workdir)


@pytest.mark.parametrize("lang", ["javascript", "bash"])
def test_output_streams_while_the_cell_runs(lang, kernels, loop):
    code = {
        "javascript": "console.log('early'); const t0 = Date.now(); while (Date.now() - t0 < 1500) {}",
        "bash": "echo early; sleep 1.5",
    }[lang]
    started = time.monotonic()
    outputs, _ = loop.run_until_complete(kernels(lang).run(code))
    first = next(t for kind, c, t in outputs if kind == "stream")
    assert first - started < 1.0


def test_javascript_display_and_result(kernels, loop):
    code = """
display.html('<b>h</b>'); display.png(Buffer.from('png')); display.svg('<svg/>');
display.json({a: [1]}); display.markdown('# m'); display({'text/csv': 'a,b'});
const r = await Promise.resolve(6); r * 7
"""
    outputs, reply = loop.run_until_complete(kernels("javascript").run(code))
    assert reply["status"] == "ok"
    bundles = [c["data"] for kind, c, _ in outputs if kind == "display_data"]
    assert bundles == [
        {"text/html": "<b>h</b>"},
        {"image/png": "cG5n"},
        {"image/svg+xml": "<svg/>"},
        {"application/json": {"a": [1]}},
        {"text/markdown": "# m"},
        {"text/csv": "a,b"},
    ]
    results = [c["data"] for kind, c, _ in outputs if kind == "execute_result"]
    assert results == [{"text/plain": "42"}]


def test_javascript_node_runtime(kernels, loop):
    code = (
        "const os = require('node:os'); const { execSync } = require('child_process');\n"
        "console.log(typeof os.cpus().length, execSync('echo child').toString().trim(), typeof process.env.PATH)"
    )
    assert loop.run_until_complete(kernels("javascript").stdout(code)) == "number child string\n"


def test_javascript_awaiting_cell_is_interrupted(kernels, loop):
    _, reply = loop.run_until_complete(kernels("javascript").run("await new Promise(() => {})", interrupt_after=0.5))
    assert reply["ename"] == "KeyboardInterrupt"


def test_bash_interrupt_stops_children(kernels, loop):
    k = kernels("bash")
    _, reply = loop.run_until_complete(k.run("sh -c 'sleep 31.4159; echo not-killed'", interrupt_after=0.5))
    assert reply["exit_code"] == 130
    assert loop.run_until_complete(k.stdout("pgrep -f 'sleep 31.4159' || echo none")) == "none\n"


def test_bash_trivial_round_trip_is_fast(kernels, loop):
    k = kernels("bash")
    times = []
    for _ in range(20):
        t = time.perf_counter()
        loop.run_until_complete(k.stdout("echo hi"))
        times.append(time.perf_counter() - t)
    assert statistics.median(times) < 0.05  # target is < 10 ms; generous for a busy machine


def test_go_repeated_cell_uses_cache_and_statements_do_not_rerun(kernels, loop):
    k = kernels("go")
    assert loop.run_until_complete(k.stdout('fmt.Println("once")')) == "once\n"
    started = time.perf_counter()
    assert loop.run_until_complete(k.stdout('fmt.Println("once")')) == "once\n"
    assert time.perf_counter() - started < 1.0  # no build; ~15 ms when the machine is quiet
    assert loop.run_until_complete(k.stdout('fmt.Println("next")')) == "next\n"  # "once" not re-run


def test_go_runtime_failure_reports_exit_status(kernels, loop):
    outputs, reply = loop.run_until_complete(kernels("go").run('panic("kaboom")'))
    assert reply["ename"] == "ExitCode" and reply["exit_code"] == 2
    assert "kaboom" in text(outputs, "stderr")


def test_dead_child_stops_the_kernel(loop, tmp_path):
    async def scenario():
        k = await start_kernel("javascript", tmp_path)
        try:
            _, reply = await k.run("process.exit(5)")
            assert reply["ename"] == "KernelDied" and reply["exit_code"] == 5
            for _ in range(50):
                if not await k.km.is_alive():
                    break
                await asyncio.sleep(0.1)
            assert not await k.km.is_alive()
        finally:
            k.kc.stop_channels()
            await k.km.shutdown_kernel(now=True)

    loop.run_until_complete(scenario())
