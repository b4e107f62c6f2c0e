#!/usr/bin/env bash
# runcvm-runtime under a real dockerd and runc: registered in daemon.json, a container started
# with --runtime=runcvm gets the rewritten spec (read from its bundle's config.json) and the
# handoff document, `docker exec` is rewritten, an invalid RUNCVM_* option fails `docker run`
# with one clear line, --runcvm-debug in runtimeArgs logs the call, and plain runc containers are
# untouched. The container's PID 1 is a stand-in for runcvm-init until the VM boots (issue 4).
source "$(dirname "$0")/lib.sh"

# A bundle laid out as /opt/runcvm will be: bin/ and kernels/<dist>/<version>/.
BUNDLE="$SCRATCH/opt-runcvm"
mkdir -p "$BUNDLE/bin" "$BUNDLE/kernels/debian/6.1.0-56-amd64/modules"
cp "$BUILD_DIR/bin/runcvm-runtime" "$BUNDLE/bin/"
cp "$BUILD_DIR/tests/runcvm-test-init" "$BUNDLE/bin/runcvm-init"
ln -s 6.1.0-56-amd64 "$BUNDLE/kernels/debian/latest"
# The runtime refuses a bundle without the programs every container runs; the stand-in init runs
# none of them, so placeholders do.
for program in bin/runcvm-vm-init bin/runcvm-modprobe lib/ld-linux-x86-64.so.2 libexec/qemu-system-x86_64 libexec/virtiofsd; do
  mkdir -p "$(dirname "$BUNDLE/$program")"
  : >"$BUNDLE/$program"
done
echo "module tree of the bundle kernel" >"$BUNDLE/kernels/debian/6.1.0-56-amd64/modules/marker"
register_runtime "$SCRATCH/daemon.json" runcvm "$BUNDLE/bin/runcvm-runtime" --runcvm-debug
start_dockerd "$SCRATCH/daemon.json"
docker info --format '{{json .Runtimes}}' | grep -q runcvm || fail "dockerd did not register the runcvm runtime"
import_busybox_image runcvm-test/debian-busybox debian
mkdir -p "$SCRATCH/volume"
echo "from the host" >"$SCRATCH/volume/file"

bundle_config() {  # container id -> its bundle's config.json as runc read it
  local file
  file=$(find "$DOCKER_EXEC_ROOT" -path "*/$1/config.json" | head -1)
  [[ -n "$file" ]] || fail "no bundle config.json for $1 under $DOCKER_EXEC_ROOT"
  echo "$file"
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

rm -f /run/runcvm/debug.log
id=$(docker run -d --runtime=runcvm -m 256m --cpus 1.5 -v "$SCRATCH/volume:/data:ro" --tmpfs /scratch:size=8m \
  -e FOO=bar -e RUNCVM_KERNEL_DEBUG=1 runcvm-test/debian-busybox sh -c 'echo hi')
for _ in $(seq 50); do docker logs "$id" 2>&1 | grep -q "runcvm-test-init: end" && break; sleep 0.1; done
[[ "$(docker inspect -f '{{.State.Running}}' "$id")" == true ]] || fail "container is not running: $(docker logs "$id" 2>&1)"
config=$(bundle_config "$id")
[[ "$(json "$config" "d['process']['args']")" == "['/opt/runcvm/bin/runcvm-init']" ]] || fail "PID 1 was not rewritten"
[[ "$(json "$config" "(d['process']['user']['uid'], d['process']['user']['gid'])")" == "(0, 0)" ]] || fail "PID 1 does not run as root"
[[ "$(json "$config" "d['linux']['seccomp']['defaultAction']")" == SCMP_ACT_ERRNO ]] || fail "Docker's seccomp profile was dropped"
[[ "$(json "$config" "[m['source'] for m in d['mounts'] if m['destination'] == '/opt/runcvm']")" == "['$BUNDLE']" ]] ||
  fail "the bundle is not mounted at /opt/runcvm"
[[ "$(json "$config" "d['linux']['resources']['memory']['limit']")" == $(( (256 + 24 + 256 / 64 + 256) << 20 )) ]] ||
  fail "memory limit not raised by the contingency"
json "$config" "'CAP_NET_ADMIN' in d['process']['capabilities']['bounding']" | grep -q True || fail "no CAP_NET_ADMIN"
json "$config" "[x['path'] for x in d['linux']['devices']]" | grep -q /dev/net/tun || fail "no /dev/net/tun"
pass "the bundle's config.json is the rewritten spec"

logs=$(docker logs "$id" 2>&1)
launch=$(sed -n '/launch.json follows/,/runcvm-test-init: end/p' <<<"$logs" | sed '1d;$d')
python3 - "$launch" <<'PY' || fail "launch document: $launch"
import json, sys
l = json.loads(sys.argv[1])
assert l["process"]["args"] == ["sh", "-c", "echo hi"], l["process"]["args"]
assert "FOO=bar" in l["process"]["env"]
assert not any(e.startswith("RUNCVM_") for e in l["process"]["env"]), l["process"]["env"]
assert l["cpus"] == 2 and l["memory_mib"] == 256 + 24 + 256 // 64, (l["cpus"], l["memory_mib"])
assert l["kernel"]["dist"] == "debian" and l["kernel"]["debug"] is True, l["kernel"]
assert l["tmpfs"][0]["destination"] == "/scratch", l["tmpfs"]
assert {"destination": "/data", "read_only": True} in l["mounts"], l["mounts"]
PY
pass "the container's PID 1 reads the handoff document at /.runcvm/launch.json"

# Docker's seccomp profile stays, with the few calls runcvm-init and virtiofsd need and no more:
# a user namespace (the way around every capability check) is still refused.
assert_contains "$logs" "runcvm-test-init: seccomp mode 2" "PID 1's seccomp mode"
assert_contains "$logs" "runcvm-test-init: unshare(CLONE_FS) 0" "unshare(CLONE_FS)"
assert_contains "$logs" "runcvm-test-init: unshare(CLONE_NEWUSER) Operation not permitted" "unshare(CLONE_NEWUSER)"
assert_contains "$logs" "runcvm-test-init: mount tmpfs 0" "mount with CAP_SYS_ADMIN"
assert_contains "$logs" "runcvm-test-init: keyctl Operation not permitted" "keyctl, which Docker's profile denies"
pass "PID 1 runs under Docker's seccomp profile plus mount and unshare without namespaces"
unconfined=$(docker run -d --runtime=runcvm --security-opt seccomp=unconfined runcvm-test/debian-busybox true)
for _ in $(seq 50); do docker logs "$unconfined" 2>&1 | grep -q "runcvm-test-init: end" && break; sleep 0.1; done
assert_contains "$(docker logs "$unconfined" 2>&1)" "runcvm-test-init: seccomp mode 0" "--security-opt seccomp=unconfined"
docker rm -f "$unconfined" >/dev/null
pass "--security-opt seccomp=unconfined stays the operator's choice"

# exec: runc is asked to start the exec client (this placeholder bundle has none) from the
# bundle's programs bound in the state directory, out of the VM's reach (SECURITY.md, 7).
exec_out=$(docker exec -u 1000 -w /tmp -e X=1 "$id" echo hi 2>&1) && fail "exec succeeded without runcvm-exec"
assert_contains "$exec_out" '/.runcvm/bin/runcvm-exec' "docker exec error"
pass "docker exec is rewritten to run /.runcvm/bin/runcvm-exec"

debug_log=$(cat /run/runcvm/debug.log)
assert_contains "$debug_log" "\"create\"" "debug log"
assert_contains "$debug_log" "spec patch: " "debug log"
assert_contains "$debug_log" '"op":"replace","path":"/process/args/0","value":"/opt/runcvm/bin/runcvm-init"' "debug log"
pass "--runcvm-debug in runtimeArgs logs argv and the spec patch"

# Every other command passes through: stop, kill and delete go to runc unchanged.
docker stop -t 5 "$id" >/dev/null
docker rm "$id" >/dev/null
pass "stop and rm pass through to runc"

# An invalid option: one clear line, shown by docker, and no container left running.
err=$(docker run --rm --runtime=runcvm -e RUNCVM_CPUS=0 -e RUNCVM_DISKS=x,y runcvm-test/debian-busybox true 2>&1) &&
  fail "docker run with RUNCVM_CPUS=0 succeeded"
assert_contains "$err" 'runcvm: container environment: RUNCVM_CPUS: "0": expected a whole number from 1 to 256' "docker run error"
assert_contains "$err" 'RUNCVM_DISKS: entry 1 "x,y": expected <src>,<dst>,<fs>[,<size>]' "docker run error"
pass "invalid options fail docker run: $(grep -o 'runcvm: .*' <<<"$err" | head -1)"

# Plain runc containers are untouched.
plain=$(docker run -d runcvm-test/debian-busybox sleep 60)
config=$(bundle_config "$plain")
[[ "$(json "$config" "d['process']['args']")" == "['sleep', '60']" ]] || fail "a runc container was rewritten"
[[ "$(json "$config" "[m for m in d['mounts'] if m['destination'] == '/opt/runcvm']")" == "[]" ]] ||
  fail "a runc container got the bundle mount"
pass "containers of the default runtime are untouched"
