#!/usr/bin/env bash
# Set everything up, then start the agent (default: port 7777, workspace /workspace).
# Extra arguments go to `kernelagent serve`, e.g. --host 0.0.0.0 --port 8000.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/kernelagent" serve "$@"
