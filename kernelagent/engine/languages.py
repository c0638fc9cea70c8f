"""The languages the agent speaks: names, aliases, kernelspecs, what they need, warm-up code.

How each applies per-request env and workdir is in setup_codes.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import bad_request
from .setup_codes import bash_setup, go_setup, javascript_setup, python_setup, typescript_setup

SetupCode = Callable[[dict[str, str], list[str], str | None], str]


def python_stream_limit(limit: int) -> str:
    """Trim each execution's stdout/stderr inside the kernel, so a cell printing gigabytes never ships
    them to the agent. The first call installs the hooks; later calls change the limit. The agent
    keeps its own cap too; this one is set slightly above it so the agent still sees the overflow
    and reports `truncated`."""
    return f"""
def _ka_limit_streams(limit):
    import sys, types
    from collections import OrderedDict
    state = sys.modules.get('_kernelagent_limits')
    if state is not None:
        state.stream = limit
        return
    state = sys.modules['_kernelagent_limits'] = types.SimpleNamespace(stream=limit)
    def make_hook():
        used = OrderedDict()
        def hook(msg):
            parent = msg.get('parent_header', {{}}).get('msg_id')
            text = msg['content'].get('text', '')
            sent = used.get(parent, 0)
            used[parent] = sent + len(text)
            while len(used) > 32:
                used.popitem(last=False)
            if sent >= state.stream:
                return None
            if sent + len(text) > state.stream:
                msg['content']['text'] = text[:state.stream - sent]
            return msg
        return hook
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, 'register_hook'):
            stream.register_hook(make_hook())
_ka_limit_streams({limit})
del _ka_limit_streams
"""


def python_charts(max_points: int) -> str:
    """Figures shown also carry a structured chart (kernelagent_kernels.charts), at most
    `max_points` points per series."""
    return f"""
from kernelagent_kernels.charts import install as _ka_charts
_ka_charts(get_ipython(), {max_points!r})
del _ka_charts
"""


PYTHON_WARMUP = """\
import numpy as np
import pandas as pd
import matplotlib
import matplotlib.pyplot as plt
get_ipython().run_line_magic('matplotlib', 'inline')
get_ipython().run_line_magic('colors', 'nocolor')
"""


@dataclass(frozen=True)
class Language:
    name: str  # canonical name, as reported back in responses
    aliases: tuple[str, ...]
    kernel_name: str  # directory under kernels/
    setup_code: SetupCode
    warmup: str = ""  # run silently once a kernel starts (pre-imports, display settings)
    stream_limit: Callable[[int], str] | None = None  # code that caps output at the source
    charts: Callable[[int], str] | None = None  # code that adds structured charts to figures (points per series)
    requires: tuple[str, ...] = ()  # executables that must be on PATH for this language
    requires_modules: tuple[str, ...] = ()  # Python modules the kernel runs from (deno ships in one)


LANGUAGES: dict[str, Language] = {
    "python": Language(
        name="python",
        aliases=("python", "python3", "py", "ipython"),
        kernel_name="python3",
        setup_code=python_setup,
        warmup=PYTHON_WARMUP,
        stream_limit=python_stream_limit,
        charts=python_charts,
    ),
    "javascript": Language(
        name="javascript",
        aliases=("javascript", "js", "node", "nodejs"),
        kernel_name="javascript",
        setup_code=javascript_setup,
        requires=("node",),
    ),
    "bash": Language(
        name="bash",
        aliases=("bash", "sh", "shell"),
        kernel_name="bash",
        setup_code=bash_setup,
        requires=("bash",),
    ),
    "go": Language(
        name="go",
        aliases=("go", "golang"),
        kernel_name="go",
        setup_code=go_setup,
        requires=("go", "goimports"),
    ),
    "typescript": Language(
        name="typescript",
        aliases=("typescript", "ts", "deno"),
        kernel_name="typescript",
        setup_code=typescript_setup,
        requires_modules=("deno",),
    ),
}


def canonical(name: str | None, available: list[str]) -> Language:
    """Resolve a requested language (or alias) to one this agent can run, or a 400 naming the options."""
    wanted = (name or "python").strip().lower()
    for lang in LANGUAGES.values():
        if wanted in lang.aliases and lang.name in available:
            return lang
    raise bad_request(
        f"Unsupported language '{name}'. Available: {', '.join(available)}",
        code="INVALID_REQUEST",
        available_languages=available,
    )
