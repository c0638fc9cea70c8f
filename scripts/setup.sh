#!/usr/bin/env bash
# Idempotent set-up: system packages where missing, the project's .venv, kernels' toolchains.
# Safe to run again: each step checks before it acts. It says what it does in a few "setup:" lines;
# apt's, pip's and the toolchains' own output goes to the log ($SETUP_LOG, default .venv/setup.log),
# whose tail is printed if a step fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
WITH_TEST="${1:-}"  # --test: the test extras too; --system-only: the system packages, then stop

mkdir -p "$VENV"
export SETUP_LOG="${SETUP_LOG:-$VENV/setup.log}"
: >"$SETUP_LOG"
# shellcheck source=scripts/setup_log.sh
source "$ROOT/scripts/setup_log.sh"

apt_missing=()
# a command on PATH, or (starting with /) a file the package installs
need_cmd() { { [ "${1#/}" != "$1" ] && [ -e "$1" ]; } || command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2"); }
need_cmd python3 python3
need_cmd git git
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
if [ -f "$ROOT/scripts/system-packages.txt" ]; then
  while read -r cmd pkg; do
    [ -z "${cmd:-}" ] || [ "${cmd#\#}" != "$cmd" ] || need_cmd "$cmd" "$pkg"
  done < "$ROOT/scripts/system-packages.txt"
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  logged "apt-get update" $SUDO apt-get update
  logged "installing system packages (${apt_missing[*]})" \
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_missing[@]}"
  say "system packages installed: ${apt_missing[*]}"
else
  say "system packages ok"
fi
# The image builds this step as a layer of its own, so a code change does not reinstall them.
[ "$WITH_TEST" = "--system-only" ] && exit 0

PY=python3
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY="$candidate"; break
  fi
done
if "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
  say "venv ok: .venv ($("$VENV/bin/python" --version))"
else
  logged "creating .venv with $PY" "$PY" -m venv "$VENV"
  say "venv created: .venv ($("$VENV/bin/python" --version))"
fi

# Reinstall only when the project's dependencies changed.
extras=""; [ "$WITH_TEST" = "--test" ] && extras="[test]"
stamp="$VENV/.kernelagent-installed$extras"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  logged "upgrading pip" "$VENV/bin/python" -m pip install --upgrade pip
  logged "installing python deps" "$VENV/bin/python" -m pip install -e "$ROOT$extras"
  echo "$want" > "$stamp"
  say "python deps installed${extras:+ with $extras} (log: ${SETUP_LOG#"$ROOT/"})"
else
  say "python deps up to date${extras:+ with $extras}"
fi
if [ -f "$ROOT/scripts/setup_kernels.sh" ]; then
  VENV="$VENV" bash "$ROOT/scripts/setup_kernels.sh"
fi

# The JavaScript SDK's test (tests/test_js_sdk.py): @hopx-ai/sdk and ws from npm, as
# tests/js/package-lock.json pins them, into tests/js/node_modules (git ignores it).
if [ "$WITH_TEST" = "--test" ]; then
  js="$ROOT/tests/js"
  js_want="$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$js/node_modules/.kernelagent-installed" 2>/dev/null)" != "$js_want" ]; then
    logged "installing the JS SDK for its test (npm ci)" npm ci --prefix "$js" --no-audit --no-fund
    echo "$js_want" > "$js/node_modules/.kernelagent-installed"
    say "JS SDK installed in tests/js/node_modules ($(node -p "require('$js/node_modules/@hopx-ai/sdk/package.json').version"))"
  else
    say "JS SDK up to date in tests/js/node_modules"
  fi
fi
