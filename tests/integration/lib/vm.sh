# VMs under test: docker run under TCG, waiting for a VM, its helpers, its KVM verdicts, and a
# kernel booted by hand over virtiofs.
# The KVM verdicts (/run/runcvm/kvm) recorded for this test's bundle: those keyed by its QEMU's
# device and inode.
kvm_verdict_files() {
  local qemu="$BUNDLE/libexec/qemu-system-x86_64"
  grep -l "\"qemu\": \"$(stat -c %d "$qemu"):$(stat -c %i "$qemu"):" /run/runcvm/kvm/*.json 2>/dev/null || true
}

# The PIDs of a container's helpers (children of its runcvm-init: QEMU, virtiofsd) whose command
# line matches PATTERN. Usage: helper_pids CONTAINER PATTERN
helper_pids() {  # container, pattern
  local init child
  init=$(docker inspect -f '{{.State.Pid}}' "$1")
  for child in $(cat /proc/"$init"/task/*/children); do
    tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null | grep -q -- "$2" && echo "$child"
  done
  return 0
}
# The PID of the first QEMU to appear under runcvm-init (PID INIT), within 10 s; "" when none did.
# Usage: first_qemu_pid INIT
first_qemu_pid() {
  local child
  for _ in $(seq 1000); do
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
      grep -qs qemu-system "/proc/$child/cmdline" && echo "$child" && return 0
    done
    sleep 0.01
  done
}
# A web server's command (busybox httpd on port 80) serving "<its $0> in <the kernel's release>".
# Usage: sh -c "$WEB_SERVER" NAME
WEB_SERVER='mkdir -p /www && echo "$0 in $(uname -r)" >/www/index.html && exec httpd -f -p 80 -h /www'
# docker run of a VM container under TCG (the one accelerator every machine has), removed when it
# ends. Usage: vm DOCKER_RUN_ARGS…
vm() { docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg "$@"; }
# Until docker exec runs in CONTAINER's VM: at most SECONDS (default 120), else the test fails.
# Usage: wait_for_vm CONTAINER [SECONDS]
wait_for_vm() {
  retry_for "${2:-120}" docker exec "$1" true || fail "the VM of $1 did not come up: $(docker logs "$1" 2>&1 | tail -3)"
}

# Boots KERNEL_DIR/{vmlinuz,initrd} with SHARE as the virtiofs root and INIT as PID 1 (see
# ci/boot-kernel.sh); the console goes to LOG. Usage: boot_with_virtiofs KERNEL_DIR SHARE INIT LOG [ARGS…]
boot_with_virtiofs() {
  local kernel_dir=$1 share=$2 init=$3 log=$4
  shift 4
  bash "$SOURCE_DIR/ci/boot-kernel.sh" "$kernel_dir" "$share" "$init" "$@" >"$log" 2>&1
}
