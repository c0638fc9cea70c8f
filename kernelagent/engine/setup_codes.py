"""Set-up code that applies per-request env and workdir in each language's kernel.

The agent runs the returned code as a silent execute_request (silent=True, store_history=False)
before the user's code. Values travel as data: `repr` for Python, JSON literals for JavaScript/TypeScript and the
Go kernel's setup command, `shlex.quote` for bash; never pasted raw into source. An empty string
means there is nothing to do. Every function has the signature
`(set_env: dict[str, str], unset: list[str], workdir: str | None) -> str`.
"""

from __future__ import annotations

import json
import re
import shlex

_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def python_setup(set_env: dict[str, str], unset: list[str], workdir: str | None) -> str:
    lines = ["import os as _ka_os"]
    if set_env:
        lines.append(f"_ka_os.environ.update({set_env!r})")
    for key in unset:
        lines.append(f"_ka_os.environ.pop({key!r}, None)")
    if workdir is not None:
        lines.append(f"_ka_os.chdir({workdir!r})")
    lines.append("del _ka_os")
    return "\n".join(lines)


def javascript_setup(set_env: dict[str, str], unset: list[str], workdir: str | None) -> str:
    lines = []
    if set_env:
        lines.append(f"Object.assign(process.env, {json.dumps(set_env)});")
    lines += [f"delete process.env[{json.dumps(key)}];" for key in unset]
    if workdir is not None:
        lines.append(f"process.chdir({json.dumps(workdir)});")
    # `void 0` last, so even a non-silent run shows no result value.
    return "\n".join(lines + ["void 0;"]) if lines else ""


def typescript_setup(set_env: dict[str, str], unset: list[str], workdir: str | None) -> str:
    lines = [f"Deno.env.set({json.dumps(k)}, {json.dumps(v)});" for k, v in set_env.items()]
    lines += [f"Deno.env.delete({json.dumps(key)});" for key in unset]
    if workdir is not None:
        lines.append(f"Deno.chdir({json.dumps(workdir)});")
    return "\n".join(lines + ["void 0;"]) if lines else ""


def bash_setup(set_env: dict[str, str], unset: list[str], workdir: str | None) -> str:
    """`builtin` guards against a user's function or alias named export/unset/cd.

    Raises ValueError for a name bash cannot hold as a variable (the caller should answer 400).
    """
    for key in [*set_env, *unset]:
        if not _SHELL_NAME.match(key):
            raise ValueError(f"'{key}' is not a valid environment variable name for bash")
    lines = [f"builtin export {key}={shlex.quote(value)}" for key, value in set_env.items()]
    if unset:
        lines.append("builtin unset -v " + " ".join(unset))
    if workdir is not None:
        lines.append(f"builtin cd -- {shlex.quote(workdir)}")
    return "\n".join(lines)


def go_setup(set_env: dict[str, str], unset: list[str], workdir: str | None) -> str:
    """The Go kernel reads a first line `//kernelagent:setup {json}` as a command that changes
    its own process environment (inherited by builds and programs) and working directory."""
    if not (set_env or unset or workdir is not None):
        return ""
    payload = {"set": set_env, "unset": list(unset), "workdir": workdir}
    return "//kernelagent:setup " + json.dumps(payload)  # json.dumps escapes newlines: one line
