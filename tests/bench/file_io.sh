#!/usr/bin/env bash
# Benchmark: file I/O inside the container, boot excluded (each operation timed inside the
# workload), runcvm against runc in the same run. The same four operations on
#   runc:  the container's root (overlayfs) — the baseline;
#   VM:    the virtiofs root with virtiofsd's cache modes auto (the default), always and none, and,
#          beside it in the same VM, a tmpfs (what TCG alone costs) and an ext4 RUNCVM_DISKS disk.
# Operations: unpack a tar of small files (the image's /usr/share, made into a tar first, untimed),
# walk that tree (find, with each file's size and mode), write 200 MB (dd, fsync), read it back
# (cat; from the page cache where one holds it).
# Needs a dockerd with runcvm registered (bash ci/main.sh) and a Debian image (coreutils' date).
# usage: tests/bench/file_io.sh IMAGE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
IMAGE=${1:?usage: $0 DEBIAN_IMAGE}

# Prints "<place> <operation> <ms>" lines for each directory given.
read -r -d '' WORKLOAD <<'SH' || true
ms() { echo $(( $(date +%s%N) / 1000000 )); }
tar -C /usr -cf /tmp/small.tar share 2>/dev/null
for spec in "$@"; do
  place=${spec%%=*} dir=${spec#*=}
  mkdir -p "$dir/unpack"
  t=$(ms); tar -C "$dir/unpack" -xf /tmp/small.tar; echo "$place unpack $(( $(ms) - t ))"
  t=$(ms); find "$dir/unpack" -printf '%s %m\n' >/dev/null; echo "$place walk $(( $(ms) - t ))"
  t=$(ms); dd if=/dev/zero of="$dir/big" bs=1M count=200 conv=fsync status=none; echo "$place write $(( $(ms) - t ))"
  t=$(ms); cat "$dir/big" >/dev/null; echo "$place read $(( $(ms) - t ))"
  rm -rf "$dir/big" "$dir/unpack"
done
SH

run() {  # label docker-run-args… -- places… ; prints "label place op ms"
  local label=$1; shift
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  docker run --rm "${args[@]}" "$IMAGE" sh -c "$WORKLOAD" workload "$@" | sed "s/^/$label /"
}
results=$(
  run runc --tmpfs /t -- root=/work
  for mode in auto always none; do
    run "vm-$mode" --runtime=runcvm -e RUNCVM_KERNEL=debian -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_VIRTIOFS_CACHE=$mode -m 1g --tmpfs /t:size=600m \
      -e RUNCVM_DISKS=/disks/d,/ext4,ext4,1G -- root=/work $([[ $mode == auto ]] && echo tmpfs=/t ext4=/ext4)
  done
)
echo "$results" >&2  # the raw lines, for the record
echo "$results" | python3 -c "$(cat <<'PY2'
import sys, collections
rows = collections.OrderedDict()
for line in sys.stdin:
    label, place, op, ms = line.split()
    rows.setdefault((label, place), {})[op] = int(ms)
base = rows[("runc", "root")]
ops = ["unpack", "walk", "write", "read"]
print("where".ljust(22) + "".join(op.rjust(20) for op in ops))
for (label, place), r in rows.items():
    cells = [f"{r[op]} ms (x{r[op] / max(base[op], 1):.1f})" if op in r else "-" for op in ops]
    print((label + " " + place).ljust(22) + "".join(c.rjust(20) for c in cells))
print("ratios against runc on the container root (overlayfs), measured in this run")
tmpfs = rows.get(("vm-auto", "tmpfs"))
if tmpfs:
    root = rows[("vm-auto", "root")]
    print("virtiofs (auto) / in-VM tmpfs: " + ", ".join(f"{op} x{root[op] / max(tmpfs[op], 1):.1f}" for op in ops))
PY2
)"
