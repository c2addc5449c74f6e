# The entry script of a Kubernetes task pod (issue 21). Run as
#   /airut/busybox sh /airut/pod-entry.sh fetch|run|command
# It assumes nothing of the repository image: every tool is an applet of the static busybox the
# tools image brings, so it works in an image without a shell, tar or wget.
#
#   fetch    the init container (tools image; its files at /airut, the `tools` emptyDir at /tools):
#            copies the tools into /tools, downloads the conversation state from the daemon's pod
#            gateway and unpacks it into /airut-state.
#   run      the agent container (the `tools` emptyDir at /airut): runs Claude Code with the prompt
#            and arguments from the state, stdout (stream-json) to the pod log, stderr to
#            /airut-state/airut/stderr.log; then returns the state and exits with claude's code.
#   command  as run, for a schedule's trigger command (`airut/command`, run with sh -c in /workspace).
#
# Environment: AIRUT_GATEWAY (host:port), AIRUT_TASK (task id), AIRUT_GATEWAY_TOKEN (from the
# task's Secret). wget runs with `-Y off`: the pod's HTTP(S)_PROXY points at the same gateway, but
# state requests go to it directly. (set -o pipefail is not used: busybox ash has it, but `head`
# closing the pipe early must not fail the upload.)
# Exit 97: the state could not be returned (the backend reports that, not claude's code).
set -eu
BB=/airut/busybox
STATE=/airut-state

state_url() {
  echo "http://$AIRUT_GATEWAY/airut-state/$AIRUT_TASK/$AIRUT_GATEWAY_TOKEN/$1"
}

fetch() {
  $BB cp /airut/busybox /airut/claude /airut/pod-entry.sh /tools/
  $BB chmod 0755 /tools/busybox /tools/claude
  $BB wget -q -Y off -O "$STATE/.in.tar" "$(state_url in)"
  $BB tar -x -o -f "$STATE/.in.tar" -C "$STATE"
  $BB rm -f "$STATE/.in.tar"
}

# Waits for the child, forwarding TERM/INT to it; sets `code` to its exit code.
wait_child() {
  child=$1
  trap '$BB kill -TERM "$child" 2>/dev/null || true' TERM INT
  set +e
  wait "$child"
  code=$?
  # A trapped signal interrupts `wait` (code > 128) while the child still runs: wait again.
  while $BB kill -0 "$child" 2>/dev/null; do
    wait "$child"
    code=$?
  done
  set -e
  trap - TERM INT
}

# busybox wget's --post-file sends the file as a C string (Content-Length = strlen), which cuts a tar
# at its first NUL byte; so the returned state is POSTed by hand over busybox nc.
upload() {
  if ! $BB tar -c -f "$STATE/.out.tar" -C "$STATE" workspace claude outbox storage; then
    upload_failed
  fi
  size=$($BB wc -c <"$STATE/.out.tar")
  host=${AIRUT_GATEWAY%:*}
  host=${host#[}
  host=${host%]}
  port=${AIRUT_GATEWAY##*:}
  status=$({
    printf 'POST /airut-state/%s/%s/out HTTP/1.1\r\nHost: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
      "$AIRUT_TASK" "$AIRUT_GATEWAY_TOKEN" "$AIRUT_GATEWAY" "$size"
    $BB cat "$STATE/.out.tar"
  } | $BB nc "$host" "$port" | $BB head -n 1) || true
  case "$status" in
    "HTTP/1.1 200"*) ;;
    *) upload_failed ;;
  esac
  $BB rm -f "$STATE/.out.tar"
}

upload_failed() {
  echo "airut: the pod could not return the conversation state to the daemon" >&2
  exit 97
}

run_agent() {
  set --
  while IFS= read -r line || [ -n "$line" ]; do
    set -- "$@" "$line"
  done <"$STATE/airut/args"
  /airut/claude -p --output-format stream-json --verbose --input-format stream-json --replay-user-messages "$@" \
    <"$STATE/airut/input.jsonl" 2>"$STATE/airut/stderr.log" &
  wait_child $!
}

run_command() {
  cmd=$($BB cat "$STATE/airut/command")
  (cd /workspace && exec $BB sh -c "$cmd") </dev/null 2>"$STATE/airut/stderr.log" &
  wait_child $!
}

case "${1:-}" in
  fetch) fetch ;;
  run)
    run_agent
    # A failed run explains itself on stderr, which is a file here: its tail goes to the log, where
    # the backend keeps non-JSON lines for the task's error.
    if [ "$code" -ne 0 ]; then $BB tail -n 40 "$STATE/airut/stderr.log" 2>/dev/null || true; fi
    upload
    exit "$code"
    ;;
  command)
    run_command
    upload
    exit "$code"
    ;;
  *)
    echo "usage: pod-entry.sh fetch|run|command" >&2
    exit 2
    ;;
esac
