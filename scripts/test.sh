#!/usr/bin/env bash
# Set everything up (test extras too), then check and test. Extra arguments go to pytest and skip
# the static checks (scripts/test.sh -k files -x); with none, lint, format and types run first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
if [ $# -eq 0 ]; then
  echo "checks: ruff check, ruff format --check, mypy"
  "$ROOT/.venv/bin/ruff" check --quiet .
  "$ROOT/.venv/bin/ruff" format --check --quiet .
  "$ROOT/.venv/bin/mypy" | tail -1
fi
exec "$ROOT/.venv/bin/python" -m pytest "$@"
