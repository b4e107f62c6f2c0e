#!/usr/bin/env bash
# containerd drives runcvm-runtime as it drives runc: runcvm-install --containerd-config registers
# it in Debian's containerd config (1.6) and takes it out again, leaving the rest of the file as it
# was; with the runc shim (io.containerd.runc.v2), `ctr run --runc-binary` the installed runtime, a busybox root given with
# --rootfs (no image registry, no dockerd: nothing of Docker's hostconfig.json). The VM boots, the
# exit code and separate stdout/stderr come back, `ctr task exec` runs in the VM, `ctr task kill`
# ends it; containerd's own spec (its /run tmpfs with strictatime, no /etc/resolv.conf mount) is
# taken as it is.
source "$(dirname "$0")/lib.sh"
command -v containerd >/dev/null && command -v ctr >/dev/null || fail "containerd is needed (apt-get install containerd)"

make_dev_bundle
on_exit 'rm -f $(kvm_verdict_files)'
ROOTFS="$SCRATCH/rootfs"
bash "$SOURCE_DIR/ci/busybox-image.sh" --rootfs "$ROOTFS" debian
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")

# A private containerd: its own root, state and socket, and otherwise the config Debian's package
# ships. runcvm-install --containerd registers the runtime in it as the README tells Kubernetes
# users to: a runtime of the CRI plugin, which a RuntimeClass with handler "runcvm" names.
C="$SCRATCH/containerd"
INSTALLED="$SCRATCH/installed"
mkdir -p "$C" "$INSTALLED"
# Debian's file, with the paths of this containerd after its version line.
sed -e "1a root = \"$C/root\"\nstate = \"$C/state\"\n[grpc]\n  address = \"$C/containerd.sock\"" \
  -e "s|/var/lib/containerd/opt|$C/opt|" "$SOURCE_DIR/tests/fixtures/containerd/debian-config.toml" >"$C/config.toml"
cp "$C/config.toml" "$C/config.toml.before"
install_() {
  "$BUNDLE/bin/runcvm-install" --source "$BUNDLE" --target "$INSTALLED" --host-path "$INSTALLED" \
    --daemon-json "$SCRATCH/no-docker/daemon.json" --containerd-config "$C/config.toml" "$@"
}
out=$("$BUNDLE/bin/runcvm-install" --source "$BUNDLE" --target "$BUNDLE/bin" 2>&1) &&
  fail "runcvm-install with its target inside its source succeeded: $out"
[[ $out == *'is inside --source'*'nothing was installed' ]] || fail "runcvm-install, target inside source, said: $out"
out=$(install_) || fail "runcvm-install --containerd-config failed: $out"
grep -q 'registered in .*config.toml as the CRI runtime "runcvm"' <<<"$out" || fail "runcvm-install said: $out"
head -c "$(stat -c %s "$C/config.toml.before")" "$C/config.toml" | cmp -s - "$C/config.toml.before" ||
  fail "runcvm-install changed the operator's part of config.toml: $(diff "$C/config.toml.before" "$C/config.toml")"
cp "$C/config.toml" "$C/config.toml.installed"
install_ >/dev/null || fail "a second runcvm-install --containerd-config failed"
cmp -s "$C/config.toml" "$C/config.toml.installed" || fail "a second install changed config.toml again"
RUNTIME="$INSTALLED/current/bin/runcvm-runtime"
[[ -x $RUNTIME ]] || fail "runcvm-install did not install $RUNTIME"
containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
CONTAINERD_PID=$!
ctr_() { ctr --address "$C/containerd.sock" --namespace runcvm-test "$@"; }
stop_containerd() {
  local task
  for task in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -s KILL "$task" 2>/dev/null; done
  sleep 1
  for task in $(ctr_ task ls -q 2>/dev/null); do ctr_ task rm -f "$task" >/dev/null 2>&1; done
  for c in $(ctr_ container ls -q 2>/dev/null); do ctr_ container rm "$c" >/dev/null 2>&1; done
  kill "$CONTAINERD_PID" 2>/dev/null
  wait "$CONTAINERD_PID" 2>/dev/null || true
}
on_exit stop_containerd
for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.2; done
ctr_ version >/dev/null 2>&1 || fail "containerd did not start: $(tail -3 "$C/containerd.log")"
# The CRI plugin took the runtime (crictl, which would start a pod through it, is not packaged in
# Debian 12; `ctr run --runc-binary` below sets the same BinaryName option of the same shim).
runtime=$(containerd --config "$C/config.toml" config dump | python3 -c '
import sys, tomllib
runtime = tomllib.loads(sys.stdin.read())["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"].get("runcvm", {})
print(runtime.get("runtime_type"), runtime.get("options", {}).get("BinaryName"))')
[[ "$runtime" == "io.containerd.runc.v2 $RUNTIME" ]] ||
  fail "containerd's merged config has for the runcvm CRI runtime: $runtime"
ctr_ plugins ls | grep -E "io.containerd.grpc.v1 +cri " | grep -q ok ||
  fail "the CRI plugin did not load with runcvm registered: $(ctr_ plugins ls | grep cri)"
pass "runcvm-install --containerd registers the CRI runtime (runc.v2 shim, BinaryName) keeping the rest of the file; containerd loads its CRI plugin with it"

# ctr run of a VM under TCG from the busybox root: "${RUN_VM[@]}" [ctr run options] ROOTFS ID COMMAND…
RUN_VM=(ctr --address "$C/containerd.sock" --namespace runcvm-test run --runc-binary "$RUNTIME"
  --env RUNCVM_QEMU_ACCEL=tcg --rootfs)

rc=0
out=$(timeout 300 "${RUN_VM[@]}" --rm "$ROOTFS" vm1 sh -c 'uname -r; echo to-stderr >&2; exit 3' 2>"$SCRATCH/vm1.err") || rc=$?
[[ $rc -eq 3 ]] || fail "ctr run: exit $rc, expected 3; stdout: $out; stderr: $(cat "$SCRATCH/vm1.err")"
[[ "$out" == "$KERNEL" ]] || fail "ctr run: stdout was \"$out\", expected the guest kernel $KERNEL alone"
[[ "$(cat "$SCRATCH/vm1.err")" == to-stderr ]] || fail "ctr run: stderr was \"$(cat "$SCRATCH/vm1.err")\""
pass "ctr run --runc-binary runcvm-runtime boots the VM ($out): exit 3, stdout and stderr apart"

"${RUN_VM[@]}" -d "$ROOTFS" vm2 sleep 100000 >/dev/null || fail "ctr run -d failed"
for _ in $(seq 120); do ctr_ task exec --exec-id probe vm2 true 2>/dev/null && break; sleep 1; done
rc=0
out=$(ctr_ task exec --exec-id e1 vm2 sh -c 'uname -r; exit 5') || rc=$?
[[ $rc -eq 5 && "$out" == "$KERNEL" ]] || fail "ctr task exec: exit $rc, output \"$out\""
start=$(date +%s)
ctr_ task kill -s TERM vm2
for _ in $(seq 60); do
  status=$(ctr_ task ls | awk '$1 == "vm2" {print $3}')
  [[ $status == STOPPED ]] && break
  sleep 1
done
[[ $status == STOPPED ]] || fail "ctr task kill -s TERM: the task is $status after 60 s"
ctr_ task rm vm2 >/dev/null
ctr_ container rm vm2
pass "ctr task exec runs in the VM (exit 5); ctr task kill -s TERM stops it in $(( $(date +%s) - start )) s"

# Uninstalling gives the operator their file back, byte for byte.
out=$("$BUNDLE/bin/runcvm-install" --uninstall --target "$INSTALLED" --daemon-json "$SCRATCH/no-docker/daemon.json" \
  --containerd-config "$C/config.toml") || fail "runcvm-install --uninstall failed: $out"
# It names the file it took the runtime out of, and not daemon.json, which it never touched.
[[ $out == *"gone from $C/config.toml"* && $out != *daemon.json* ]] || fail "runcvm-install --uninstall said: $out"
cmp -s "$C/config.toml" "$C/config.toml.before" ||
  fail "after --uninstall config.toml differs from before: $(diff "$C/config.toml.before" "$C/config.toml")"
pass "runcvm-install --uninstall takes the runtime out of config.toml, leaving the file as it was"
