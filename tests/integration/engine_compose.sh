#!/usr/bin/env bash
# docker-compose (Debian's, v1) with `runtime: runcvm` per service: a web service and a probe that
# fetches from it by service name, both VMs on the project's network; `docker-compose run` gives
# the probe's exit code, `docker-compose exec` runs in the web VM, and `docker-compose down` leaves
# no container, network or helper process behind.
source "$(dirname "$0")/lib.sh"
command -v docker-compose >/dev/null || fail "docker-compose is needed (apt-get install docker-compose)"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/vm debian
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
PROJECT=runcvm-compose-test
P="$SCRATCH/compose"
mkdir -p "$P"
# $$ is compose's escape of a literal $.
cat >"$P/docker-compose.yml" <<'YAML'
version: "2.4"
services:
  web:
    image: runcvm-test/vm
    runtime: runcvm
    environment: [RUNCVM_QEMU_ACCEL=tcg]
    command: sh -c 'mkdir -p /www && echo "hello from web in $$(uname -r)" >/www/index.html && exec httpd -f -p 80 -h /www'
  probe:
    image: runcvm-test/vm
    runtime: runcvm
    environment: [RUNCVM_QEMU_ACCEL=tcg]
    depends_on: [web]
    command: sh -c 'for i in $$(seq 120); do wget -qO- http://web/ && echo "probe in $$(uname -r)" && exit 7; sleep 1; done; exit 1'
YAML
COMPOSE=(docker-compose --project-directory "$P" -f "$P/docker-compose.yml" -p "$PROJECT")
compose() { "${COMPOSE[@]}" "$@"; }
leftovers() {
  docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
  docker network ls -q --filter "label=com.docker.compose.project=$PROJECT"
}
on_exit 'compose down -t 1 >/dev/null 2>&1'

compose up -d web >"$SCRATCH/up.log" 2>&1 || fail "docker-compose up -d web: $(tail -3 "$SCRATCH/up.log")"
rc=0
out=$(timeout 300 "${COMPOSE[@]}" run --rm probe 2>"$SCRATCH/run.err") || rc=$?
[[ $rc -eq 7 ]] || fail "docker-compose run probe: exit $rc, expected 7; stdout: $out; stderr: $(tail -3 "$SCRATCH/run.err")"
[[ "$out" == *"hello from web in $KERNEL"*"probe in $KERNEL"* ]] ||
  fail "docker-compose run probe: expected both VMs on the guest kernel $KERNEL, got: $out"
pass "docker-compose: the probe VM fetched from the web VM by service name (both on $KERNEL); its exit code 7 came back"

out=$(compose exec -T web sh -c 'uname -r; exit 4') && rc=0 || rc=$?
[[ $rc -eq 4 && "$out" == "$KERNEL" ]] || fail "docker-compose exec web: exit $rc, output \"$out\""
web=$(compose ps -q web)
[[ -n "$(helper_pids "$web" qemu-system)" ]] || fail "the web service has no QEMU beside its init"
pass "docker-compose exec runs in the web VM (exit 4)"

compose down -t 5 >"$SCRATCH/down.log" 2>&1 || fail "docker-compose down: $(tail -3 "$SCRATCH/down.log")"
left=$(leftovers)
[[ -z "$left" ]] || fail "docker-compose down left behind: $left"
pgrep -f "$BUNDLE/libexec/" >/dev/null && fail "QEMU or virtiofsd still runs after docker-compose down: $(pgrep -af "$BUNDLE/libexec/")"
pass "docker-compose down leaves no container, network, QEMU or virtiofsd behind"
