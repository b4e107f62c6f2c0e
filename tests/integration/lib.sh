# Shared helpers for the integration tests, sourced by each test with the build directory as $1:
# here a scratch directory removed on exit, cleanups, the watchdog, assertions and waiting; in
# lib/, by concern, local mirrors, dockerds, VMs, images and a terminal.
set -euo pipefail

BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNCVM_BUILD="$BUILD_DIR/bin/runcvm-build"
# Downloads and kernel artifacts shared by the tests' dev bundles (content-verified, written by
# rename, so tests running at once may share it): the Debian kernel is fetched and packaged once.
TEST_CACHE=${RUNCVM_TEST_CACHE:-$BUILD_DIR/test-cache}
SCRATCH=$(mktemp -d /tmp/runcvm-it.XXXXXX)
CLEANUPS=()
cleanup() {
  local i
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || true; done
  # What a stopped dockerd can leave mounted below its exec root (network namespaces).
  awk -v scratch="$SCRATCH/" 'index($2, scratch) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
on_exit() { CLEANUPS+=("$1"); }

# ctest kills a test at its timeout without a word of why (CI once saw a VM hang with nothing but
# the last "ok" line): 30 s before that, print what still runs and the logs' tails to stderr.
hang_report() {
  echo "HANG REPORT: $(basename "$0") still runs after $(($(date +%s) - TEST_STARTED)) s"
  ps -eo pid,ppid,etimes,stat,args --forest | grep -E "dockerd|containerd|runc|runcvm|qemu|virtiofsd|docker |ctr |podman|conmon" |
    grep -v grep | cut -c1-240 | head -60
  [[ ! -S $SCRATCH/dockerd/docker.sock ]] || DOCKER_HOST="unix://$SCRATCH/dockerd/docker.sock" docker ps -a 2>&1 | head -20
  # A VM that stopped taking its channel: bytes queued towards QEMU (Send-Q of runcvm-init's end).
  echo "-- runcvm-init's sockets (Recv-Q Send-Q)"; ss -xp 2>/dev/null | grep -E 'runcvm-init|channel|exec-port' | head -20
  [[ ! -f /run/runcvm/debug.log ]] || { echo "-- /run/runcvm/debug.log"; tail -n 30 /run/runcvm/debug.log | cut -c1-300; }
  local log
  for log in "$SCRATCH/dockerd/dockerd.log" "$SCRATCH/dockerd26.log"; do
    [[ ! -f $log ]] || { echo "-- $log"; tail -n 20 "$log"; }
  done
}
TEST_STARTED=$(date +%s)
# Under ctest (which sets RUNCVM_TEST_TIMEOUT), shortly before its timeout the test ends itself so
# that its cleanups run: ctest's kill would leave a dockerd's containers running (their shims
# outlive it), and their VMs would load the machine for the rest of the suite. What the shell
# waits on is killed (every descendant but a dockerd, which its cleanup stops in order) and the
# shell told: its TERM trap exits, and the EXIT trap cleans up. Run by hand, a test only reports.
TEST_SHELL=$$
trap 'exit 124' TERM
descendants() {  # pid: its descendants, leaving out the watchdog, dockerd and what runs below them
  local child
  for child in $(pgrep -P "$1"); do
    [[ $child == "$WATCHDOG" || $(cat /proc/"$child"/comm 2>/dev/null) == dockerd ]] && continue
    echo "$child"
    descendants "$child"
  done
}
(
  set +e
  WATCHDOG=$BASHPID
  timeout=${RUNCVM_TEST_TIMEOUT:-900}
  margin=$((timeout >= 300 ? 60 : timeout / 5))
  deadline=$((TEST_STARTED + timeout - margin))
  while (($(date +%s) < deadline)); do
    # Not on the test's output: ctest waits for every holder of it to close, and a sleep left
    # behind by the watchdog's kill added up to 5 s to every test.
    sleep 5 >/dev/null 2>&1
    (($(awk '{print $4}' /proc/"$WATCHDOG"/stat) == TEST_SHELL)) || exit 0  # the test ended without us
  done
  hang_report >&2
  [[ -n ${RUNCVM_TEST_TIMEOUT:-} ]] || exit 0
  echo "FAIL: $(basename "$0") did not end within $((timeout - margin)) s: ending it and cleaning up" >&2
  waited_on=$(descendants "$TEST_SHELL")
  kill -TERM "$TEST_SHELL"
  [[ -z $waited_on ]] || kill -KILL $waited_on 2>/dev/null
) &
on_exit "kill $! 2>/dev/null"


fail() { echo "FAIL: $*" >&2; exit 1; }
# Each check says when it passed (seconds since the test started): where a test spends its time.
pass() { echo "ok [+$(($(date +%s) - TEST_STARTED))s]: $*"; }

assert_contains() {  # haystack needle [what]
  [[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain \"$2\"; it was: $1"
}
# Changes the byte at OFFSET of FILE to a different value (its complement), in place.
corrupt_byte() {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); old = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([old[0] ^ 0xFF]))
PY
}
assert_file() { [[ -f "$1" ]] || fail "missing file $1"; }
assert_absent() { [[ ! -e "$1" ]] || fail "$1 exists but should not"; }

# Runs a command that must fail with exactly one line on stderr that contains $1 and
# starts with "<program>: error: ". Usage: expect_one_line_error NEEDLE command…
expect_one_line_error() {
  local needle=$1; shift
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  [[ $rc -ne 0 ]] || fail "expected failure from: $*"
  local lines
  lines=$(printf '%s\n' "$err" | grep -c '' || true)
  [[ "$lines" -eq 1 ]] || fail "expected one line on stderr, got $lines: $err"
  assert_contains "$err" ": error: " "stderr"
  assert_contains "$err" "$needle" "stderr"
  LAST_ERROR=$err
}

# A TCP port on 127.0.0.1 free right now (the kernel's pick). Usage: port=$(free_port)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Runs COMMAND… every 0.2 s, quietly, until it succeeds, for at most SECONDS; returns non-zero if
# it never did, for the caller to say what failed. Usage: retry_for SECONDS COMMAND…
retry_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
# The same for 120 s (a docker exec under TCG on a loaded machine takes seconds), failing the
# test with "WHAT never happened" after the test's wait_report, if it has one, has said what it
# sees. Usage: wait_until WHAT COMMAND…
wait_until() {
  local what=$1
  shift
  retry_for 120 "$@" && return 0
  if declare -F wait_report >/dev/null; then wait_report >&2; fi
  fail "$what never happened"
}

for part in mirrors dockerd vm images terminal; do
  # shellcheck source=/dev/null
  source "$SOURCE_DIR/tests/integration/lib/$part.sh"
done
