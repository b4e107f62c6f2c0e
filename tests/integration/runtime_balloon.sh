#!/usr/bin/env bash
# RUNCVM_BALLOON (free page reporting, docs/options.md): after the workload writes 500 MB into a
# tmpfs and deletes it, the container's memory cgroup falls by at least 400 MB within 30 s, on q35
# (started from a template) and on microvm (booted); the guest's MemTotal is what it is without
# the balloon; RUNCVM_BALLOON=0 has no balloon device and keeps the memory, as before. What a
# copy's discards could reach, checked: its QEMU maps and holds no template file, the template's
# RAM stays byte for byte what it was and keeps starting copies, and a sibling copy's data keeps
# its hash.
source "$(dirname "$0")/lib.sh"
source "$SOURCE_DIR/tests/lib/cgroup_memory.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/balloon debian
TEMPLATES=/run/runcvm/templates
FREED_MIB=400  # of the 500 MB written: the issue's bar, with room for the guest's own use

ids=()
on_exit 'docker rm -f ${ids[*]:-} >/dev/null 2>&1'
start_vm() {  # [docker run options…] -> container id
  docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -m 1g --tmpfs /big:size=700m "$@" runcvm-test/balloon sleep 100000
}
template_hashes() { find "$TEMPLATES" -mindepth 2 -maxdepth 2 -name ram -exec sha256sum {} + 2>/dev/null | sort; }
restored() { [[ "$(docker exec "$1" cat /proc/cmdline)" == *runcvm.template* ]]; }
balloon_bound() { docker exec "$1" sh -c 'ls /sys/bus/virtio/drivers/virtio_balloon/ | grep -q "^virtio"'; }
mem_total() { docker exec "$1" awk '$1 == "MemTotal:" {print $2}' /proc/meminfo; }

q35=$(start_vm); ids+=("$q35")
sibling=$(start_vm); ids+=("$sibling")
microvm=$(start_vm -e RUNCVM_QEMU_MACHINE=microvm); ids+=("$microvm")
off=$(start_vm -e RUNCVM_BALLOON=0); ids+=("$off")
for id in "${ids[@]}"; do retry_for 120 docker exec "$id" true || fail "container $id did not start"; done
restored "$q35" && restored "$sibling" || fail "a q35 VM booted instead of starting from a template"
hashes_before=$(template_hashes)
[[ -n $hashes_before ]] || fail "no template RAM file under $TEMPLATES"
qemu=$(pgrep -P "$(docker inspect -f '{{.State.Pid}}' "$q35")" -f qemu-system | head -1)
[[ -n $qemu ]] || fail "no QEMU under the q35 container's runcvm-init"
held=$(cat "/proc/$qemu/maps"; ls -l "/proc/$qemu/fd" 2>/dev/null)
[[ $held != *templates* ]] || fail "the restored VM's QEMU maps or holds a template file: $(grep templates <<<"$held")"
docker exec "$sibling" sh -c 'head -c 64m /dev/urandom >/big/keep'
sibling_hash=$(docker exec "$sibling" sha256sum /big/keep)

balloon_bound "$q35" || fail "q35: no virtio-balloon device bound to its driver in the VM"
balloon_bound "$microvm" || fail "microvm: no virtio-balloon device bound to its driver in the VM"
! balloon_bound "$off" || fail "RUNCVM_BALLOON=0: the VM has a balloon device"
[[ $(mem_total "$q35") == "$(mem_total "$off")" ]] ||
  fail "MemTotal with the balloon ($(mem_total "$q35") kB) differs from without ($(mem_total "$off") kB)"
pass "q35 and microvm have a reporting balloon, RUNCVM_BALLOON=0 none; MemTotal $(mem_total "$q35") kB either way"

# Writes 500 MB into the VM's tmpfs and deletes it; sets idle, peak and now (the container's memory,
# MiB) once it has fallen by FREED_MIB, or after SECONDS_TO_WAIT, and waited (seconds since the rm).
write_and_free() {  # id seconds_to_wait
  local id=$1 wait=$2 deadline
  idle=$(container_memory_mib "$id")
  docker exec "$id" dd if=/dev/zero of=/big/f bs=1M count=500 2>/dev/null || fail "$id: writing 500 MB failed"
  peak=$(container_memory_mib "$id")
  ((peak - idle >= 450)) || fail "$id: 500 MB written into the VM raised the container's memory from $idle to $peak MiB only"
  docker exec "$id" rm /big/f
  deadline=$((SECONDS + wait))
  now=$peak
  waited=0
  while ((SECONDS < deadline && peak - now < FREED_MIB)); do
    sleep 1
    now=$(container_memory_mib "$id")
    waited=$((wait - (deadline - SECONDS)))
  done
}

for vm in q35 microvm; do
  write_and_free "${!vm}" 30
  ((peak - now >= FREED_MIB)) ||
    fail "$vm: 30 s after the workload freed 500 MB the container holds $now MiB (idle $idle, peak $peak): less than $FREED_MIB MiB went back"
  pass "$vm: idle $idle MiB, $peak MiB after writing 500 MB, $now MiB ${waited} s after freeing it"
done

# Without the balloon the VM keeps what it once used: 10 s is five times the guest's reporting delay.
write_and_free "$off" 10
((peak - now < 64)) || fail "RUNCVM_BALLOON=0: the container's memory fell from $peak to $now MiB"
pass "RUNCVM_BALLOON=0: idle $idle MiB, $peak MiB after writing 500 MB, still $now MiB 10 s after freeing it"

# The copy gave back hundreds of MiB of its RAM: the template it was filled from and its sibling
# copy are untouched, and the next container still starts from the template.
[[ $(template_hashes) == "$hashes_before" ]] || fail "a copy's freed pages changed the template's RAM file"
[[ $(docker exec "$sibling" sha256sum /big/keep) == "$sibling_hash" ]] ||
  fail "a copy's freed pages changed data in a sibling copy of the same template"
again=$(start_vm); ids+=("$again")
retry_for 120 docker exec "$again" true || fail "a container after the copy's reports did not start"
restored "$again" || fail "the container after the copy's reports booted: the template was refused"
[[ $(template_hashes) == "$hashes_before" ]] || fail "the template was rebuilt after a copy's reports"
pass "a copy's QEMU holds no template file; the template's RAM and a sibling copy's 64 MiB are unchanged by its reports; the next container starts from the template"
