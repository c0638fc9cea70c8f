# Sourced by build.sh and smoke.sh: sets `engine` (the command, an array) to docker where its
# daemon answers, else podman. crun fails on hybrid cgroup hierarchies and runc works on both,
# so podman runs with runc where it is installed (PODMAN_RUNTIME= for podman's default).
PODMAN_RUNTIME="${PODMAN_RUNTIME-runc}"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=(docker)
else
    if ! command -v podman >/dev/null || { [ -n "$PODMAN_RUNTIME" ] && ! command -v "$PODMAN_RUNTIME" >/dev/null; }; then
        echo "engine: no container engine answers: installing podman and runc with apt" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >/dev/null
    fi
    engine=(podman ${PODMAN_RUNTIME:+--runtime "$PODMAN_RUNTIME"})
fi
