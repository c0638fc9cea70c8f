#!/usr/bin/env bash
# Release check of the built image (docker/build.sh first): starts a container with a fresh
# Ed25519 public key mounted (the agent verifies tokens, holds no secret), waits for /health,
# drives it through the hopx-ai SDK (docker/smoke_sdk.py: Python with a plot, JavaScript, a
# command, a file round trip, a screenshot) and stops it. Not part of the test suite.
#   sudo docker/smoke.sh        (IMAGE=kernelagent:latest, PORT=17777; the SDK from the repo's .venv,
#                                made by scripts/setup.sh --test)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-kernelagent:latest}"
PORT="${PORT:-17777}"
PY="${PY:-$ROOT/.venv/bin/python}"
# shellcheck source=docker/engine.sh
source "$ROOT/docker/engine.sh"
# podman without systemd cannot schedule HEALTHCHECK timers and says so on every run and rm: the
# check itself works (run once below); drop that one complaint.
quiet() { "$@" 2> >(grep -v 'systemd connection' >&2); }

work="$(mktemp -d)"
cid=""
cleanup() {
    if [ -n "$cid" ]; then
        [ "${KEEP_LOGS:-}" = 1 ] && "${engine[@]}" logs "$cid" >&2
        quiet "${engine[@]}" rm -f "$cid" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A key pair for this run only: the public half goes into the container, the private half mints
# the token here.
token="$("$PY" - "$work" <<'PY'
import sys, time, pathlib, jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
key = ed25519.Ed25519PrivateKey.generate()
pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
pathlib.Path(sys.argv[1], "jwt.pub").write_bytes(pub)
print(jwt.encode({"sub": "smoke", "exp": int(time.time()) + 3600}, key, algorithm="EdDSA"))
PY
)"
chmod 0644 "$work/jwt.pub"

ms() { date +%s%3N; }
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }  # milliseconds as seconds
# podman's default limits (nofile 1048576) exceed what a root without CAP_SYS_RESOURCE may set:
# ask for this shell's own (nproc no more than the 32768 podman itself keeps).
limits=()
if [ "${engine[0]}" = podman ]; then
    nproc="$(ulimit -Hu)"
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
    limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc")
fi

# SYS_PTRACE: the agent (root) finds the process trees of the user code runs as by reading their
# /proc/<pid>/environ, which another uid's process allows only with it (docker and podman leave it
# out by default); without it a double-forked child outlives its command's deadline or kill.
start=$(ms)
cid="$(quiet "${engine[@]}" run -d "${limits[@]}" -p "127.0.0.1:$PORT:7777" \
    -e KERNELAGENT_JWT_PUBLIC_KEY=/run/secrets/jwt.pub -v "$work/jwt.pub:/run/secrets/jwt.pub:ro" \
    --cap-add SYS_PTRACE --shm-size 256m "$IMAGE")"
echo "smoke: container ${cid:0:12} from $IMAGE"
until curl -fsS "http://127.0.0.1:$PORT/health" >"$work/health.json" 2>/dev/null; do
    if [ "$("${engine[@]}" inspect -f '{{.State.Running}}' "$cid")" != true ]; then
        echo "smoke: the container stopped:" >&2; "${engine[@]}" logs "$cid" >&2; exit 1
    fi
    if (($(ms) - start > 180000)); then echo "smoke: no /health after 180 s" >&2; exit 1; fi
    sleep 0.2
done
echo "smoke: /health answered $(secs $(($(ms) - start))) after run: $("$PY" -c 'import json,sys; h=json.load(sys.stdin); print(h["status"], "languages:", ",".join(h.get("languages", [])))' <"$work/health.json")"
# /health answers before the warm kernels are up: wait for every language's pool too
until "$PY" -c 'import json, sys, urllib.request
pools = json.load(urllib.request.urlopen(sys.argv[1]))["pool"]
sys.exit(not pools or any(p["ready"] < p["target"] for p in pools.values()))' "http://127.0.0.1:$PORT/health"; do
    if (($(ms) - start > 300000)); then echo "smoke: warm pools not full after 300 s" >&2; exit 1; fi
    sleep 0.5
done
echo "smoke: every language's warm kernels ready $(secs $(($(ms) - start))) after run"
# The image's own HEALTHCHECK, run once by the engine
"${engine[@]}" healthcheck run "$cid" >/dev/null 2>&1 && echo "smoke: engine healthcheck: healthy" \
    || echo "smoke: engine healthcheck: not run (${engine[0]})"

"$PY" "$ROOT/docker/smoke_sdk.py" "http://127.0.0.1:$PORT" "$token"

stop=$(ms)
quiet "${engine[@]}" stop -t 20 "$cid" >/dev/null
echo "smoke: stopped in $(secs $(($(ms) - stop))) (exit status $("${engine[@]}" inspect -f '{{.State.ExitCode}}' "$cid"))"
