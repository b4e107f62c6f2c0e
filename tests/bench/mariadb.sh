#!/usr/bin/env bash
# Benchmark: Debian's mariadb-server under load from mariadb-slap (mysqlslap), server and client
# on one user network, by name. Baseline in the same run: both under runc; then both in VMs (TCG
# unless RUNCVM_QEMU_ACCEL says otherwise; the server with -m 1g, its data on an ext4
# RUNCVM_DISKS disk as users are told to keep it). Prints the median seconds of mariadb-slap's
# runs (its own figure: the average time to run all queries) and the ratio runcvm / runc.
# Needs a dockerd with runcvm registered (bash ci/main.sh) and an image with mariadb-server and
# mariadb-client, e.g. the heavy test's, kept in its cache:
#   docker import build/test-cache/images/bookworm-fe098564a9da.tar runcvm-test/mariadb
# usage: tests/bench/mariadb.sh [IMAGE] [CLIENTS] [QUERIES]
set -euo pipefail
IMAGE=${1:-runcvm-test/mariadb}
CLIENTS=${2:-8}
QUERIES=${3:-2000}
ACCEL=${RUNCVM_QEMU_ACCEL:-tcg}
NETWORK=runcvm-bench-db
WORK=$(mktemp -d /tmp/runcvm-bench-db.XXXXXX)
cleanup() {
  docker rm -f bench-db >/dev/null 2>&1 || true
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/share" "$WORK/disks"
cat >"$WORK/share/serve.sh" <<'SH'
set -e
data=${1:-/srv/db}/data
mkdir -p "$data" && chown mysql:mysql "$data"
mariadb-install-db --user=mysql --datadir="$data" >/dev/null
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
# An init file holds one statement a line.
printf "CREATE USER 'slap'@'%%' IDENTIFIED BY 'slap';\nGRANT ALL ON *.* TO 'slap'@'%%';\n" >/run/mysqld/init.sql
exec mariadbd --user=mysql --datadir="$data" --bind-address=0.0.0.0 --skip-name-resolve --init-file=/run/mysqld/init.sql
SH
docker network create "$NETWORK" >/dev/null

# Runs the load once the server accepts; prints mariadb-slap's average seconds.
load() {  # docker-run-options-of-the-client…
  for _ in $(seq 300); do
    docker exec bench-db mariadb-admin --silent ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker run --rm --network "$NETWORK" "$@" "$IMAGE" mariadb-slap -h bench-db -u slap -pslap \
    --concurrency="$CLIENTS" --number-of-queries="$QUERIES" --iterations=3 \
    --auto-generate-sql --auto-generate-sql-load-type=mixed |
    awk '/Average number of seconds to run all queries/ {print $(NF - 1)}'
}

docker run -d --name bench-db --network "$NETWORK" -v "$WORK/share:/share:ro" "$IMAGE" \
  sh /share/serve.sh /var/lib/bench >/dev/null
runc_s=$(load)
docker rm -f bench-db >/dev/null

docker run -d --name bench-db --network "$NETWORK" --runtime=runcvm -m 1g -e RUNCVM_QEMU_ACCEL="$ACCEL" \
  -e RUNCVM_DISKS=/disks/db,/srv/db,ext4,1G -v "$WORK/disks:/disks" -v "$WORK/share:/share:ro" "$IMAGE" \
  sh /share/serve.sh >/dev/null
vm_s=$(load --runtime=runcvm -e RUNCVM_QEMU_ACCEL="$ACCEL")

[[ -n $runc_s && -n $vm_s ]] || { echo "mariadb-slap printed no average (runc: '$runc_s', runcvm: '$vm_s')" >&2; exit 1; }
echo "mariadb-slap, $CLIENTS clients, $QUERIES mixed queries, 3 iterations (average seconds):"
echo "  runc:   $runc_s s"
echo "  runcvm: $vm_s s ($ACCEL) = x$(python3 -c "print(f'{$vm_s / max($runc_s, 0.001):.1f}')") of runc"
