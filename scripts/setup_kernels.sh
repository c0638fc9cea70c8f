#!/usr/bin/env bash
# Installs what the kernels in kernels/ need, and only what is missing (safe to run again):
#   the kernelagent_kernels package (kernels/kernelagent_kernels, installed with the project),
#   node (javascript), go + goimports (go), deno in the venv (typescript). bash is assumed.
# Runs as root on Debian bookworm. VENV defaults to the repo's .venv. Prints a line of its own per
# step; the tools' output goes to $SETUP_LOG (set by setup.sh; run alone: $VENV/setup.log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

if [ -z "${SETUP_LOG:-}" ]; then
    mkdir -p "$VENV"
    export SETUP_LOG="$VENV/setup.log"
    : >"$SETUP_LOG"
fi
# shellcheck source=scripts/setup_log.sh
source "$ROOT/scripts/setup_log.sh"

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {  # apt-get update at most once per run
    if [ "$apt_updated" = 0 ]; then logged "apt-get update" apt-get update; apt_updated=1; fi
    logged "installing $*" apt-get install -y --no-install-recommends "$@"
    say "kernels: installed $*"
}

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v go >/dev/null || missing+=(golang-go)
# Debian ships goimports in golang-golang-x-tools (there is no package named goimports).
command -v goimports >/dev/null || missing+=(golang-golang-x-tools)

if ((${#missing[@]})); then
    apt_install "${missing[@]}"
fi

# The JavaScript kernel rewrites cells with the acorn parser: node's bundled copy, or Debian's
# node-acorn package where node is built against the system one.
if ! node --expose-internals -e "
  try { require('acorn') } catch { require('internal/deps/acorn/acorn/dist/acorn') }" 2>/dev/null; then
    apt_install node-acorn
fi

# The wrapper kernels run as `python -m kernelagent_kernels.<name>`; the agent finds the
# kernelspecs in that package.
if ! "$VENV/bin/python" -c 'import kernelagent_kernels' 2>/dev/null; then
    logged "installing kernelagent_kernels" "$VENV/bin/pip" install --no-deps -e "$ROOT"
    say "kernels: kernelagent_kernels installed in the venv"
fi

if ! "$VENV/bin/python" -c 'import deno' 2>/dev/null; then
    logged "installing deno" "$VENV/bin/pip" install deno
    say "kernels: deno installed in the venv"
fi

# Warm the go build cache (GOCACHE) with the packages cells and the kernel's splitter use, so
# the first cell of a fresh machine does not compile them.
warm="$(mktemp -d)"
trap 'rm -rf "$warm"' EXIT
printf 'module warm\n\ngo 1.19\n' >"$warm/go.mod"
cat >"$warm/main.go" <<'GO'
package main

import (
	_ "encoding/json"
	_ "fmt"
	_ "go/parser"
	_ "go/scanner"
	_ "math"
	_ "os"
	_ "strings"
	_ "time"
)

func main() {}
GO
(cd "$warm" && logged "warming the go build cache" env GOFLAGS=-mod=mod go build -o /dev/null .)

say "kernels: node $(node --version), $(go version | cut -d' ' -f3), goimports $(command -v goimports), deno $("$VENV/bin/python" -m deno --version | head -1 | cut -d' ' -f2)"
