#!/usr/bin/env bash
# A database and its client in two VMs: Debian's mariadb-server (an mmdebstrap image kept in the
# test cache) in one VM with -m 1g, its data on an ext4 RUNCVM_DISKS disk, the client in another
# VM on the same user network, by name. A row written, the server stopped with `docker stop` (a
# clean shutdown: exit 0, and the next start recovers nothing), started again, the row read back.
# The server's start-to-accepting time is measured beside the same server under runc. Heavy
# (minutes): bash ci/test.sh --heavy.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
import_mmdebstrap_image runcvm-test/mariadb mariadb-server,mariadb-client
mkdir -p "$SCRATCH/share" "$SCRATCH/disks"
# Run at every start (so idempotent): the client's account, which reaches the server over the network.
cat >"$SCRATCH/share/init.sql" <<'SQL'
CREATE USER IF NOT EXISTS 'test'@'%' IDENTIFIED BY 'test-password';
GRANT ALL ON *.* TO 'test'@'%';
SQL
# The data directory is below the disk's root, which holds ext4's lost+found.
cat >"$SCRATCH/share/serve.sh" <<'SH'
set -e
data=${1:-/srv/db}/data
if [ ! -d "$data/mysql" ]; then
  mkdir -p "$data" && chown mysql:mysql "$data"
  mariadb-install-db --user=mysql --datadir="$data" >/dev/null
fi
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
exec mariadbd --user=mysql --datadir="$data" --bind-address=0.0.0.0 --skip-name-resolve --init-file=/share/init.sql
SH
NETWORK=runcvm-db-net
docker_network "$NETWORK"
# Until the server answers a ping from inside its container (or VM); prints the milliseconds since START_NS.
wait_accepting() {  # container start_ns
  for _ in $(seq 300); do
    docker exec "$1" mariadb-admin --silent ping >/dev/null 2>&1 && { echo $(( ($(date +%s%N) - $2) / 1000000 )); return 0; }
    sleep 0.5
  done
  fail "mariadb in $1 never accepted connections: $(docker logs "$1" 2>&1 | tail -5)"
}
client() {  # SQL…: the client in a VM of its own on the same network, by the server's name
  docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg --network "$NETWORK" runcvm-test/mariadb \
    sh -c 'uname -r; mariadb -h db -u test -ptest-password --batch --skip-column-names -e "$0"' "$1"
}

# The baseline: the same server under runc, its data in the container.
start=$(date +%s%N)
docker run -d --name db-runc -v "$SCRATCH/share:/share:ro" runcvm-test/mariadb sh /share/serve.sh /var/lib/runc-db >/dev/null
runc_ms=$(wait_accepting db-runc "$start")
docker rm -f db-runc >/dev/null

start=$(date +%s%N)
DB=(--name db --runtime=runcvm -m 1g -e RUNCVM_QEMU_ACCEL=tcg --network "$NETWORK"
  -e RUNCVM_DISKS=/disks/db,/srv/db,ext4,1G -v "$SCRATCH/disks:/disks" -v "$SCRATCH/share:/share:ro")
docker run -d "${DB[@]}" runcvm-test/mariadb sh /share/serve.sh >/dev/null
vm_ms=$(wait_accepting db "$start")
pass "mariadb accepting: in a VM after $vm_ms ms (data on an ext4 disk), under runc after $runc_ms ms"

out=$(client "CREATE DATABASE IF NOT EXISTS shop; CREATE TABLE shop.items (name VARCHAR(40)); INSERT INTO shop.items VALUES ('kept across a restart'); SELECT COUNT(*) FROM shop.items;") ||
  fail "the client VM could not write: $out"
[[ $out == "$KERNEL"$'\n'1 ]] || fail "the client VM (expected on $KERNEL) wrote and counted: $out"
pass "a client VM on the same network wrote a row to the server VM by name"

start=$(date +%s)
docker stop -t 120 db >/dev/null
rc=$(docker inspect -f '{{.State.ExitCode}}' db)
[[ $rc -eq 0 ]] || fail "docker stop: mariadbd exited $rc, expected 0: $(docker logs db 2>&1 | tail -3)"
# The logs are read whole before they are searched: under pipefail, grep -q leaving at its first
# match makes `docker logs` die of SIGPIPE, which failed this check with the line in the log.
logs=$(docker logs db 2>&1)
grep -q "Shutdown complete" <<<"$logs" || fail "mariadbd did not report a complete shutdown: $(tail -3 <<<"$logs")"
stop_s=$(( $(date +%s) - start ))
lines_before=$(docker logs db 2>&1 | wc -l)
start=$(date +%s%N)
docker start db >/dev/null
restart_ms=$(wait_accepting db "$start")
after=$(docker logs db 2>&1 | tail -n +$((lines_before + 1)))
grep -qi "crash recovery\|Starting recovery\|was not shut down" <<<"$after" &&
  fail "the restarted server recovered from a crash: $(grep -i "recovery\|shut down" <<<"$after" | head -3)"
out=$(client "SELECT name FROM shop.items;") || fail "the client VM could not read after the restart: $out"
[[ $out == "$KERNEL"$'\n'"kept across a restart" ]] || fail "after the restart the client read: $out"
pass "docker stop shut mariadb down cleanly in $stop_s s (exit 0); started again ($restart_ms ms) without crash recovery, the row was read back"

# The check above can fail: a server whose VM is killed (no shutdown) recovers at its next start.
client "INSERT INTO shop.items VALUES ('written just before the kill');" >/dev/null || fail "the client VM could not write before the kill"
docker kill db >/dev/null
lines_before=$(docker logs db 2>&1 | wc -l)
start=$(date +%s%N)
docker start db >/dev/null
wait_accepting db "$start" >/dev/null
after=$(docker logs db 2>&1 | tail -n +$((lines_before + 1)))
grep -qi "crash recovery" <<<"$after" ||
  fail "after docker kill the server did not recover, so the clean-shutdown check proves nothing: $(grep -i innodb <<<"$after" | head -5)"
pass "after docker kill (no shutdown) the server does recover at its next start"
