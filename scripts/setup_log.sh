# Sourced by the set-up scripts: what they do goes to stdout in short "setup:" lines; the output of
# the tools they run (apt, pip, go, deno) goes to $SETUP_LOG, whose tail is shown if a step fails.
: "${SETUP_LOG:?SETUP_LOG must name the set-up log}"

say() { echo "setup: $*"; }

# logged WHAT COMMAND...: runs COMMAND with its output appended to the log; if it fails, says which
# step failed, prints the log's last lines and exits with the command's status.
logged() {
  local what="$1" rc=0
  shift
  printf '\n== %s: %s\n' "$what" "$*" >>"$SETUP_LOG"
  "$@" >>"$SETUP_LOG" 2>&1 </dev/null || rc=$?
  if [ "$rc" != 0 ]; then
    echo "setup: FAILED: $what (exit $rc); last lines of $SETUP_LOG:" >&2
    tail -n 30 "$SETUP_LOG" | sed 's/^/  | /' >&2
    exit "$rc"
  fi
}
