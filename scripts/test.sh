#!/usr/bin/env bash
# Set everything up (test extras too), then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
