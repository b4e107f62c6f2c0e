#!/usr/bin/env bash
# Template VMs (container/runcvm-init/vm_template.hpp): on a host without templates, six
# containers started at once build one and all six start from it; the clones are different
# machines (boot_id, random bytes, hostname, addresses, MACs) on the host's clock; a damaged,
# truncated or foreign template is rebuilt, never loaded; another kernel makes another template;
# RUNCVM_TEMPLATE=0 and what a template cannot carry boot cold; the template directory is out of
# the VM's reach; exec, stop, network connect and disks work in a restored VM.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/template debian
TEMPLATES=/run/runcvm/templates
rm -rf "${TEMPLATES:?}"/* "$TEMPLATES"/.lock 2>/dev/null || true

# How the container's VM started, from runcvm-init's log (the lines it leaves there on a template's fate).
init_log() { cat "/proc/$(docker inspect -f "{{.State.Pid}}" "$1")/root/.runcvm/runcvm-init.log" 2>/dev/null || true; }
template_dirs() { find "$TEMPLATES" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | sort; }
# A restored VM's kernel command line carries the template's mark (the cold ones' does not).
restored() { [[ "$(docker exec "$1" cat /proc/cmdline)" == *runcvm.template* ]]; }

# Six at once on a fresh host: one template built, six restored.
ids=()
started=$(date +%s%N)
for i in $(seq 6); do
  ids+=("$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg --hostname "clone$i" runcvm-test/template sleep 100000)")
done
on_exit 'docker rm -f ${ids[*]} >/dev/null 2>&1'
for id in "${ids[@]}"; do retry_for 120 docker exec "$id" true || fail "container $id did not start"; done
pass "six containers started at once in $(( ($(date +%s%N) - started) / 1000000 )) ms"
[[ $(template_dirs | wc -l) -eq 1 ]] || fail "expected one template, found: $(template_dirs)"
for id in "${ids[@]}"; do restored "$id" || fail "container $id booted instead of starting from the template: $(init_log "$id")"; done
pass "one template was built and all six VMs started from it"

# The clones differ: boot_id, random bytes, hostname, addresses, MACs; and each is on the host's clock.
declare -A seen
for i in "${!ids[@]}"; do
  id=${ids[$i]}
  facts=$(docker exec "$id" sh -c 'cat /proc/sys/kernel/random/boot_id; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; hostname; ip -o -4 addr show eth0 | awk "{print \$4}"; cat /sys/class/net/eth0/address; date +%s')
  mapfile -t f <<<"$facts"
  [[ ${f[2]} == "clone$((i + 1))" ]] || fail "clone $((i + 1)): hostname ${f[2]}"
  [[ ${f[3]} == "$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")"/* ]] ||
    fail "clone $((i + 1)): address ${f[3]} is not Docker's"
  [[ ${f[4]} == "$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}' "$id")" ]] ||
    fail "clone $((i + 1)): MAC ${f[4]} is not Docker's"
  (( ${f[5]} - $(date +%s) <= 2 && $(date +%s) - ${f[5]} <= 2 )) || fail "clone $((i + 1)): its clock says ${f[5]}, the host's $(date +%s)"
  for value in "${f[0]}" "${f[1]}" "${f[3]}" "${f[4]}"; do
    [[ -z ${seen[$value]:-} ]] || fail "clones $((i + 1)) and ${seen[$value]} share $value"
    seen[$value]=$((i + 1))
  done
done
pass "the six clones have their own boot_id, random bytes, hostname, address and MAC, on the host's clock"

# The VM cannot reach the template directory: no file of it in the VM's view of the container.
template=$(template_dirs | head -1)
in_vm=$(docker exec "${ids[0]}" sh -c 'ls -a /.runcvm; find / -xdev -name manifest.json 2>/dev/null | head')
[[ $in_vm != *templates* && $in_vm != *manifest.json* ]] || fail "the VM sees the template directory: $in_vm"
pass "the template directory is not in the VM's view (/.runcvm holds $(echo "$in_vm" | tr '\n' ' '))"
docker rm -f "${ids[@]}" >/dev/null

# exec, network connect, disks and docker stop in a restored VM.
docker network create runcvm-template-net >/dev/null
on_exit 'docker network rm runcvm-template-net >/dev/null 2>&1'
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_DISKS=/disks/d1,/data,ext4,64M \
  runcvm-test/template sleep 100000)
on_exit "docker rm -f $id >/dev/null 2>&1"
retry_for 120 docker exec "$id" true || fail "the container with a disk did not start"
restored "$id" || fail "the container with a disk booted: $(init_log "$id")"
[[ $(docker exec "$id" sh -c 'echo hello >/data/f && cat /data/f && grep " /data " /proc/mounts | cut -d" " -f3') == $'hello\next4' ]] ||
  fail "the disk is not mounted at /data in the restored VM"
docker network connect runcvm-template-net "$id"
want=$(docker inspect -f '{{(index .NetworkSettings.Networks "runcvm-template-net").IPAddress}}' "$id")
retry_for 20 sh -c "docker exec $id ip -o -4 addr | grep -q ' $want/'" || fail "the connected network's address $want did not reach the VM"
started=$(date +%s)
docker stop "$id" >/dev/null
(( $(date +%s) - started < 10 )) || fail "docker stop took $(( $(date +%s) - started )) s"
pass "a restored VM runs exec, mounts its disk, takes a network connected later, and stops on docker stop"

# QEMU crashing while it restores the VM: the VM boots instead, the workload runs once.
id=$(docker create --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/template \
  sh -c 'echo ran >>/runs; echo started; exec sleep 100000')
docker start "$id" >/dev/null
init=$(docker inspect -f '{{.State.Pid}}' "$id")
crashed=$(first_qemu_pid "$init")
[[ -n "$crashed" ]] || fail "no QEMU appeared under runcvm-init"
kill -SEGV "$crashed"
retry_for 120 docker exec "$id" true || fail "the container did not start after its restoring QEMU crashed"
[[ "$(docker exec "$id" cat /runs)" == ran ]] || fail "after a crash while restoring, the workload's runs: $(docker exec "$id" cat /runs)"
[[ "$(docker logs "$id" 2>&1)" == started ]] || fail "after a crash while restoring, the container's output: $(docker logs "$id" 2>&1)"
! restored "$id" || fail "the VM whose QEMU crashed while restoring was restored after all"
log=$(init_log "$id")
assert_contains "$log" "signal 11" "runcvm-init's log after a crash while restoring"
docker rm -f "$id" >/dev/null
pass "QEMU crashing while it restores the VM: the VM boots ($(head -1 <<<"$log")); the workload ran once, its output intact"

# Damaged, truncated or foreign templates are rebuilt, never loaded.
damage() {  # what command
  local what=$1
  shift
  "$@"
  local id out
  id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/template sleep 100000)
  retry_for 120 docker exec "$id" true || fail "$what: the container did not start"
  restored "$id" || fail "$what: the VM booted instead of starting from a rebuilt template: $(init_log "$id")"
  out=$(init_log "$id")
  [[ $out == *"template is rebuilt"* ]] || fail "$what: runcvm-init's log does not say the template was rebuilt: $out"
  docker rm -f "$id" >/dev/null
  pass "$what: rebuilt ($(grep -o 'template is rebuilt.*' <<<"$out" | head -1))"
}
template=$(template_dirs | head -1)
damage "a flipped byte in the saved state" corrupt_byte "$template/state" $(( $(stat -c %s "$template/state") / 2 ))
damage "a flipped byte in the saved RAM" corrupt_byte "$template/ram" 1024
damage "a truncated RAM" truncate -s -4096 "$template/ram"
damage "a truncated state" truncate -s -4096 "$template/state"
damage "a manifest of another kernel" sed -i 's/"kernel": "[^"]*"/"kernel": "0:0:0:0"/' "$template/manifest.json"
damage "a manifest that is not JSON" sh -c "echo garbage >'$template/manifest.json'"

# RUNCVM_TEMPLATE=0, and a VM a template cannot carry (RUNCVM_KERNEL_APPEND), boot cold.
for option in RUNCVM_TEMPLATE=0 RUNCVM_KERNEL_APPEND=runcvm.test=1; do
  out=$(vm -e "$option" runcvm-test/template cat /proc/cmdline)
  [[ $out != *runcvm.template* ]] || fail "$option: the VM started from a template: $out"
done
pass "RUNCVM_TEMPLATE=0 and RUNCVM_KERNEL_APPEND boot cold"

# A build that failed a moment ago is not tried again at once: the VM boots, saying why.
name=$(basename "$template")
rm -rf "${template:?}"
printf 'QEMU could not save the template (a test)' >"$TEMPLATES/.$name.failed"
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/template sleep 100000)
retry_for 120 docker exec "$id" true || fail "the container did not start after a failed build"
! restored "$id" || fail "a template was built again right after a failed build"
log=$(init_log "$id")
assert_contains "$log" "building it failed" "runcvm-init's log after a failed build"
docker rm -f "$id" >/dev/null
rm -f "$TEMPLATES/.$name.failed"
pass "a template whose build failed is not built again for a while: $(grep -o 'no template.*' <<<"$log" | head -1)"

# A new kernel file (a rebuilt kernel, a new bundle) makes a new template.
before=$(template_dirs)
kernel_file=$(readlink -f "$BUNDLE/kernels/debian/latest")/vmlinux
touch "$kernel_file"
out=$(vm runcvm-test/template cat /proc/cmdline)
[[ $out == *runcvm.template* ]] || fail "after the kernel changed, the VM booted: $out"
[[ $(template_dirs) != "$before" ]] || fail "a changed kernel did not make a new template"
pass "a changed kernel file makes a new template"

# Another memory size is another template.
before=$(template_dirs | wc -l)
out=$(vm -e RUNCVM_MEM=384M runcvm-test/template cat /proc/cmdline)
[[ $out == *runcvm.template* ]] || fail "RUNCVM_MEM=384M: the VM booted: $out"
[[ $(template_dirs | wc -l) -eq $((before + 1)) ]] || fail "RUNCVM_MEM=384M did not make a template of its own"
pass "another memory size makes another template"
