"""The image's release check, SDK side (run by docker/smoke.sh): the hopx-ai SDK, unchanged, drives
a kernelagent container through what a sandbox user does first. Prints one line per step; any
wrong answer raises."""

from __future__ import annotations

import base64
import sys
import time

from hopx_ai import Sandbox

PLOT = "import sys, getpass\nprint(sys.version.split()[0], getpass.getuser())\nplt.plot([3, 1, 2]); plt.show()"
JS = "const xs = [1, 2, 3]; console.log(xs.map(x => x * 2).join(','), process.version)"


def step(name: str, fn) -> None:
    started = time.monotonic()
    detail = fn()
    print(f"sdk: {name}: ok in {time.monotonic() - started:.2f} s ({detail})", flush=True)


def main(url: str, token: str) -> None:
    sb = Sandbox.debug(agent_url=url, jwt_token=token)

    def python_plot() -> str:
        r = sb.run_code(PLOT)
        assert r.success, r.stderr
        pngs = [o for o in r.rich_outputs if getattr(o.type, "value", o.type) == "image/png"]
        assert pngs and base64.b64decode(pngs[0].data["image/png"]).startswith(b"\x89PNG"), r.rich_outputs
        return f"python {r.stdout.strip()}, a {len(pngs[0].data['image/png'])} B base64 PNG"

    def javascript() -> str:
        r = sb.run_code(JS, language="javascript")
        assert r.success and r.stdout.startswith("2,4,6"), (r.stdout, r.stderr)
        return f"node {r.stdout.split()[-1]}"

    def command() -> str:
        r = sb.commands.run("id -un && go version && deno --version | head -1")
        assert r.exit_code == 0, r.stderr
        return " | ".join(r.stdout.split("\n")[:3])

    def files() -> str:
        text = "round trip: ünïcode, 'quotes', $dollars\n"
        sb.files.write("/workspace/smoke.txt", text)
        assert sb.files.read("/workspace/smoke.txt") == text
        r = sb.commands.run("stat -c '%U %s' /workspace/smoke.txt")
        return f"/workspace/smoke.txt back equal; owner and size: {r.stdout.strip()}"

    def tree() -> str:
        # the agent (root) must find and end what `sandbox` started, a double-forked setsid escapee included
        r = sb.commands.run("(setsid sleep 313 &); sleep 60", timeout=2)
        assert r.exit_code != 0
        deadline = time.monotonic() + 10
        while (left := sb.commands.run("pgrep -c -f 'sleep [3]13' || true").stdout.strip()) != "0":
            assert time.monotonic() < deadline, f"{left} escapee(s) still run after the deadline"
            time.sleep(0.2)
        return "a deadline ended the command's tree, a double-forked setsid child included"

    def screenshot() -> str:
        png = sb.desktop.screenshot()
        assert png.startswith(b"\x89PNG"), png[:16]
        return f"{len(png)} B PNG of {sb.desktop.get_display().resolution}"

    step("python with a plot", python_plot)
    step("javascript", javascript)
    step("command", command)
    step("command tree killed at its deadline", tree)
    step("file round trip", files)
    step("desktop screenshot", screenshot)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
