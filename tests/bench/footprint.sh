#!/usr/bin/env bash
# Benchmark: host memory per idle VM beyond its guest RAM, for 1 and N idle VMs (`sleep` as the
# workload, -m 256m, booted and settled), and with the guest's RAM, for VMs booted
# (RUNCVM_TEMPLATE=0) and VMs started from a template (the default; issue 36). For each container, the proportional set size (PSS,
# /proc/PID/smaps_rollup, so libraries shared between VMs count once in total) of its runcvm-init,
# QEMU and virtiofsd, less QEMU's shared-memory part (the guest's RAM, a memfd in /dev/shm).
# Baseline in the same run: the same container under runc (its PID 1's PSS).
# Needs a dockerd with runcvm registered (bash ci/main.sh). KERNEL: a bundle kernel (RUNCVM_KERNEL,
# e.g. runcvm for the runcvm-minimal one); the image's default when not given.
# usage: tests/bench/footprint.sh [N] [IMAGE] [KERNEL]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${1:-8}
IMAGE=${2:-runcvm/busybox}
KERNEL_ARGS=()
[[ -z ${3:-} ]] || KERNEL_ARGS=(-e "RUNCVM_KERNEL=$3")

pss_kib() {  # pid field -> kB
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0
}
# The guest's RAM as the host holds it: the pages of QEMU's RAM memfd (its own when the VM
# booted; runcvm-init's, "runcvm-guest-ram", when it was restored from a template), whether QEMU
# has mapped them yet or not (a restored VM's pages are written by runcvm-init, and only those
# the guest touched since are in QEMU's PSS).
guest_ram_kib() {  # qemu pid -> kB
  local fd
  for fd in /proc/"$1"/fd/*; do
    case $(readlink "$fd") in
      /memfd:memory-backend-memfd\ *|/memfd:runcvm-guest-ram\ *) echo $(( $(stat -L -c %b "$fd") / 2 )); return ;;
    esac
  done
  echo 0
}
# Prints "init qemu virtiofsd shmem" kB for a container: QEMU without its mapped guest RAM, and the
# guest's RAM apart.
measure() {
  local init qemu=0 virtiofsd=0 shmem=0 child name
  init=$(docker inspect -f '{{.State.Pid}}' "$1")
  for child in $(cat /proc/"$init"/task/*/children); do
    # By command line: the helpers run through the bundle's loader, which their comm names.
    name=$(tr '\0' ' ' <"/proc/$child/cmdline")
    case $name in
      *qemu-system-x86_64*)
        qemu=$(( $(pss_kib "$child" Pss) - $(pss_kib "$child" Pss_Shmem) ))
        shmem=$(guest_ram_kib "$child") ;;
      *virtiofsd*) virtiofsd=$(( virtiofsd + $(pss_kib "$child" Pss) )) ;;
    esac
  done
  echo "$(pss_kib "$init" Pss) $qemu $virtiofsd $shmem"
}
settle() {  # containers: until each VM runs docker exec, then 10 s more
  local id
  for id in "$@"; do
    for _ in $(seq 300); do docker exec "$id" true 2>/dev/null && break; sleep 1; done
  done
  sleep 10
}

runc_id=$(docker run -d "$IMAGE" sleep 100000)
trap 'docker rm -f $runc_id ${ids[*]:-} >/dev/null 2>&1' EXIT
sleep 2
runc_pss=$(pss_kib "$(docker inspect -f '{{.State.Pid}}' "$runc_id")" Pss)
echo "runc: the container's PID 1 (sleep): ${runc_pss} kB PSS"

for template in 0 1; do
  for count in 1 "$N"; do
    ids=()
    for _ in $(seq "$count"); do
      ids+=("$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_TEMPLATE=$template \
        "${KERNEL_ARGS[@]}" -m 256m "$IMAGE" sleep 100000)")
    done
    settle "${ids[@]}"
    total=0
    sums=(0 0 0 0)
    for id in "${ids[@]}"; do
      read -r init qemu virtiofsd shmem <<<"$(measure "$id")"
      sums=($(( sums[0] + init )) $(( sums[1] + qemu )) $(( sums[2] + virtiofsd )) $(( sums[3] + shmem )))
    done
    total=$(( sums[0] + sums[1] + sums[2] ))
    echo "RUNCVM_TEMPLATE=$template, $count idle VM(s): per VM $(( (total + sums[3]) / count / 1024 )) MiB PSS with" \
      "the guest's RAM, $(( total / count / 1024 )) MiB beyond it" \
      "(runcvm-init $(( sums[0] / count )) kB, QEMU $(( sums[1] / count )) kB without its" \
      "$(( sums[3] / count )) kB of guest RAM, virtiofsd $(( sums[2] / count )) kB);" \
      "x$(python3 -c "print(f'{$total / $count / max($runc_pss, 1):.0f}')") of runc's PID 1"
    docker rm -f "${ids[@]}" >/dev/null
    ids=()
  done
done
