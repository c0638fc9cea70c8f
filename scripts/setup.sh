#!/usr/bin/env bash
# Idempotent set-up: system packages where missing, the project's .venv, kernels' toolchains.
# Safe to run again: each step checks before it acts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
WITH_TEST="${1:-}"

apt_missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2"); }
need_cmd python3 python3
need_cmd git git
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
if [ -f "$ROOT/scripts/system-packages.txt" ]; then
  while read -r cmd pkg; do
    [ -z "${cmd:-}" ] || [ "${cmd#\#}" != "$cmd" ] || need_cmd "$cmd" "$pkg"
  done < "$ROOT/scripts/system-packages.txt"
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${apt_missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

PY=python3
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY="$candidate"; break
  fi
done
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"

# Reinstall only when the project's dependencies changed.
extras=""; [ "$WITH_TEST" = "--test" ] && extras="[test]"
stamp="$VENV/.kernelagent-installed$extras"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT$extras"
  echo "$want" > "$stamp"
fi
if [ -x "$ROOT/scripts/setup_kernels.sh" ] || [ -f "$ROOT/scripts/setup_kernels.sh" ]; then
  VENV="$VENV" bash "$ROOT/scripts/setup_kernels.sh"
fi
