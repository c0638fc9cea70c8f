"""Median /execute round trip of a trivial cell per language, beside Python's, in the same run.

Targets: JavaScript and Bash within 2x of Python; Go under 150 ms for a cached cell.
Run: .venv/bin/python bench/languages_bench.py [N]
"""

from __future__ import annotations

import sys

from common import KeepAlive, agent, line, summary, timed

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
CELLS = {
    "python": "1+1",
    "javascript": "1+1",
    "bash": "echo hi",
    "go": 'fmt.Println("hi")',
    "typescript": "1+1",
}


def main() -> None:
    a = agent(warm_languages="all")
    try:
        client = KeepAlive(a.url, a.token)
        figures = {}
        for lang, code in CELLS.items():
            body = {"code": code, "language": lang}
            assert client.post("/execute", body)["success"], lang
            figures[lang] = summary(timed(lambda b=body: client.post("/execute", b), N if lang != "go" else N // 4))
        base = figures["python"]["median_ms"]
        for lang, fig in figures.items():
            line(f"/execute {lang:<11} {CELLS[lang]!r}", fig | {"x_python": fig["median_ms"] / base})
        print("targets: javascript and bash <= 2x python; go < 150 ms for a cached cell")
    finally:
        a.close()


if __name__ == "__main__":
    main()
