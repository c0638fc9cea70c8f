#!/usr/bin/env bash
# Builds the sandbox image (docker/Dockerfile) with whichever engine is present: docker, else
# podman (installed with runc and debootstrap through apt when neither is). A release check, not
# part of the test suite:  sudo docker/build.sh   (IMAGE=kernelagent:latest by default)
#
# The base image is BASE_IMAGE when set; else debian:<this host's release> from a registry; else,
# where no registry answers, a Debian base made here with debootstrap from the Debian mirror this
# host's apt uses. The host's apt, pip and npm configuration and CA bundle (a proxy with its own
# CA, a mirror) reach the build as build secrets: mounted while a step runs, never in the image.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-kernelagent:latest}"
# shellcheck source=/dev/null
SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"

say() { echo "build: $*"; }

# --- the engine ------------------------------------------------------------------------------
# shellcheck source=docker/engine.sh
source "$ROOT/docker/engine.sh"
build_flags=()
# podman: docker format keeps HEALTHCHECK (OCI images have no such field)
[ "${engine[0]}" = podman ] && build_flags=(--format docker)
say "engine: ${engine[*]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- the base image --------------------------------------------------------------------------
# The Debian mirror of this host's apt for $SUITE (its main component), as apt itself reports it.
host_mirror() {
    apt-cache policy | awk -v s="$SUITE/main" '$3 == s && $2 ~ /^https?:/ { print $2; exit }'
}

debootstrap_base() {
    local tag="localhost/kernelagent-base:$SUITE" mirror rootfs="$work/rootfs"
    if "${engine[@]}" image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; return; fi
    mirror="$(host_mirror)"
    [ -n "$mirror" ] || { echo "build: no $SUITE mirror in this host's apt sources" >&2; exit 1; }
    command -v debootstrap >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    say "making $tag with debootstrap (minbase) from the host's mirror" >&2
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
        tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    # The mirror is this host's: the image gets no sources of its own (the build passes the
    # host's); downloaded packages and indexes go too.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/etc/apt/sources.list
    tar -C "$rootfs" -c . | "${engine[@]}" import --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
    echo "$tag"
}

if [ -n "${BASE_IMAGE:-}" ]; then
    base="$BASE_IMAGE"
elif timeout 120 "${engine[@]}" pull -q "docker.io/library/debian:$SUITE-slim" >/dev/null 2>&1; then
    base="docker.io/library/debian:$SUITE-slim"
else
    say "no registry answers: a Debian base of our own"
    base="$(debootstrap_base)"
fi
say "base: $base"

# --- the host's configuration, as build secrets ---------------------------------------------
# CA bundle: the one this host's TLS clients trust.
ca="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
if [ -s "$ca" ]; then cp "$ca" "$work/ca.crt"; else : >"$work/ca.crt"; fi

# apt: the host's sources for $SUITE (only when the base is that release) and its Acquire options.
: >"$work/apt-sources.list"
: >"$work/apt.conf"
if [ "$base" = "localhost/kernelagent-base:$SUITE" ] || [ "${HOST_APT_SOURCES:-}" = 1 ]; then
    apt-cache policy | awk -v s="^$SUITE(-[a-z]+)?/" '$2 ~ /^https?:/ && $3 ~ s {
        split($3, sc, "/"); print "deb " $2 " " sc[1] " " sc[2] }' | sort -u >"$work/apt-sources.list"
fi
{
    apt-config dump | grep -E '^Acquire::(http|https|ftp|Check-|Retries)' || true
    if [ -s "$work/apt-sources.list" ]; then
        echo 'Dir::Etc::SourceList "/run/secrets/apt-sources.list";'
        echo 'Dir::Etc::SourceParts "/nonexistent";'
    fi
} >"$work/apt.conf"

# pip: this host's settings (pip config list), minus what names files only this host has
# (find-links, file:// indexes, constraints); cert is the bundle above, as mounted in the build.
{
    echo "[global]"
    if command -v pip3 >/dev/null || python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip config list 2>/dev/null | python3 -c '
import sys
for line in sys.stdin:
    key, _, value = line.strip().partition("=")
    name, value = key.rpartition(".")[2], value.strip("\x27\"")
    if name == "cert":
        value = "/run/secrets/ca.crt"
    else:
        value = " ".join(v for v in value.split() if not v.startswith(("/", "file:", ".")))
    if value and name not in ("constraint", "find-links", "requirement"):
        print(f"{name} = {value}")
' | sort -u
    fi
} >"$work/pip.conf"

# npm: the user's npmrc as it is (registry, proxy; a token in it stays a secret).
if [ -s "$HOME/.npmrc" ]; then cp "$HOME/.npmrc" "$work/npmrc"; else : >"$work/npmrc"; fi

secrets=()
for id in ca:ca.crt apt:apt.conf aptsources:apt-sources.list pip:pip.conf npm:npmrc; do
    secrets+=(--secret "id=${id%%:*},src=$work/${id#*:}")
done
# A proxy from the environment reaches the build as the predefined proxy args (kept out of history).
proxy_args=()
for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [ -z "${!v:-}" ] || proxy_args+=(--build-arg "$v=${!v}")
done

# --- the build -------------------------------------------------------------------------------
say "building $IMAGE"
start=$(date +%s)
nice -n "${NICE:-10}" "${engine[@]}" build "${build_flags[@]}" "${secrets[@]}" "${proxy_args[@]}" \
    --build-arg "BASE_IMAGE=$base" -f "$ROOT/docker/Dockerfile" -t "$IMAGE" "$ROOT"
say "built $IMAGE in $(($(date +%s) - start)) s; size: $("${engine[@]}" image inspect --format '{{.Size}}' "$IMAGE" | numfmt --to=iec)"
