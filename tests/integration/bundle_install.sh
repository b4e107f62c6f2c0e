#!/usr/bin/env bash
# The bundle as users install it: `runcvm-build bundle` writes a docker-archive and an OCI layout
# (the same inputs give the same digest; skopeo and umoci accept the layout); `docker load` and
# `docker run -v …:/runcvm -v …:/etc/docker IMAGE` install it into a fresh dockerd, whose other
# settings stay; after a reload, a busybox (static, no libc) and a Debian (glibc) image boot as VMs
# with the bundle's QEMU and virtiofsd; an upgrade while a VM runs leaves that VM working;
# --uninstall undoes the registration; bad input fails in one line and changes nothing.
source "$(dirname "$0")/lib.sh"

command -v skopeo >/dev/null && command -v umoci >/dev/null || fail "skopeo and umoci are needed (apt-get install skopeo umoci)"
"$RUNCVM_BUILD" kernels --recipe debian-bookworm --out "$SCRATCH/kernels" --cache "$SCRATCH/cache" >/dev/null 2>&1 ||
  fail "runcvm-build kernels failed"

"$RUNCVM_BUILD" bundle --kernels "$SCRATCH/kernels" --docker-archive "$SCRATCH/runcvm.tar" --oci-layout "$SCRATCH/oci" \
  --tag runcvm:test 2>"$SCRATCH/bundle.log" || fail "runcvm-build bundle: $(cat "$SCRATCH/bundle.log")"
assert_contains "$(cat "$SCRATCH/bundle.log")" "static programs" "the bundle's report"
digest=$(sed -n 's/.*OCI layout .* manifest \(sha256:[0-9a-f]*\).*/\1/p' "$SCRATCH/bundle.log")
[[ -n "$digest" ]] || fail "no manifest digest in: $(cat "$SCRATCH/bundle.log")"
"$RUNCVM_BUILD" bundle --kernels "$SCRATCH/kernels" --oci-layout "$SCRATCH/oci-again" --tag runcvm:test 2>"$SCRATCH/again.log"
again=$(sed -n 's/.*OCI layout .* manifest \(sha256:[0-9a-f]*\).*/\1/p' "$SCRATCH/again.log")
[[ "$again" == "$digest" ]] || fail "a second build gave $again, the first $digest"
"$RUNCVM_BUILD" bundle --kernels "$SCRATCH/kernels" --oci-layout "$SCRATCH/oci-again" --tag runcvm:test 2>/dev/null ||
  fail "a bundle over its own earlier OCI layout failed"
rm -rf "$SCRATCH/oci-again"
# Outputs replace only earlier outputs: a directory of the user's stays as it is.
mkdir -p "$SCRATCH/mine" && echo keep >"$SCRATCH/mine/notes"
for option in --out --oci-layout --docker-archive; do
  expect_one_line_error "$option \"$SCRATCH/mine\": exists and is not" "$RUNCVM_BUILD" bundle --kernels "$SCRATCH/kernels" "$option" "$SCRATCH/mine"
done
[[ "$(ls -A "$SCRATCH/mine")" == notes && "$(cat "$SCRATCH/mine/notes")" == keep ]] || fail "bundle touched a directory that was not its output"
pass "runcvm-build bundle: $(grep -o 'total [0-9.]* MiB' "$SCRATCH/bundle.log"), layer $(sed -n 's/.*layer sha256:[0-9a-f]* ([^)]*), \([0-9.]* MiB\).*/\1/p' "$SCRATCH/bundle.log"); a second build gives the same digest $digest"

# The layout's tag is --tag's TAG (index.json's org.opencontainers.image.ref.name), as skopeo and umoci address it.
inspected=$(skopeo inspect "oci:$SCRATCH/oci:test") || fail "skopeo inspect rejected the layout"
assert_contains "$inspected" "\"Digest\": \"$digest\"" "skopeo inspect"
umoci unpack --rootless --image "$SCRATCH/oci:test" "$SCRATCH/unpacked" >/dev/null 2>&1 || fail "umoci unpack rejected the layout"
[[ -x "$SCRATCH/unpacked/rootfs/opt/runcvm/bin/runcvm-runtime" && -x "$SCRATCH/unpacked/rootfs/opt/runcvm/libexec/qemu-system-x86_64" ]] ||
  fail "the unpacked image lacks the bundle"
rm -rf "$SCRATCH/unpacked"
pass "skopeo inspect and umoci unpack accept the OCI layout"

# A fresh dockerd that knows nothing of runcvm, with a setting of its own that must survive.
mkdir -p "$SCRATCH/etc-docker" "$SCRATCH/opt-runcvm"
# daemon.json is a link to the file an admin tool manages; an older runcvm entry has runtimeArgs.
printf '{\n  "log-level": "warn",\n  "max-concurrent-downloads": 2,\n  "runtimes": {"runcvm": {"path": "/old/runcvm-runtime", "runtimeArgs": ["--runcvm-debug"]}}\n}\n' \
  >"$SCRATCH/etc-docker/daemon.managed.json"
ln -s daemon.managed.json "$SCRATCH/etc-docker/daemon.json"
start_dockerd "$SCRATCH/etc-docker/daemon.json"
docker load -i "$SCRATCH/runcvm.tar" >/dev/null || fail "docker load rejected the archive"
installer() { docker run --rm -v "$SCRATCH/opt-runcvm:/runcvm" -v "$SCRATCH/etc-docker:/etc/docker" "$@"; }

out=$(installer runcvm:test --host-path "$SCRATCH/opt-runcvm") || fail "the installer failed: $out"
assert_contains "$out" "Reload dockerd" "the installer's report"
python3 - "$SCRATCH/etc-docker/daemon.json" "$SCRATCH/opt-runcvm/current/bin/runcvm-runtime" <<'PY' || fail "daemon.json after install: $(cat "$SCRATCH/etc-docker/daemon.json")"
import json, sys
config = json.load(open(sys.argv[1]))
assert config["runtimes"]["runcvm"]["path"] == sys.argv[2], config
assert config["runtimes"]["runcvm"]["runtimeArgs"] == ["--runcvm-debug"], config
assert config["log-level"] == "warn" and config["max-concurrent-downloads"] == 2, config
PY
[[ "$(readlink "$SCRATCH/etc-docker/daemon.json")" == daemon.managed.json ]] || fail "daemon.json is no longer the admin's link"
reload_dockerd_for_runcvm
pass "docker load + the installer: bundle in versions/$(readlink "$SCRATCH/opt-runcvm/current" | cut -d/ -f2), runtime registered through daemon.json's link, its runtimeArgs and other settings kept, dockerd reloaded"

# A static busybox image (no libc at all) and a Debian image (glibc): QEMU and virtiofsd come
# from the bundle with their own loader and libraries, whatever the image has.
import_busybox_image runcvm-test/bundle-busybox debian
KERNEL=$(readlink "$SCRATCH/kernels/kernels/debian/latest")
out=$(docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/bundle-busybox uname -r) || fail "busybox VM: $out"
[[ "$out" == "$KERNEL" ]] || fail "busybox VM: uname -r is $out, expected $KERNEL"
import_debian_image runcvm-test/bundle-debian
out=$(docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/bundle-debian sh -c 'uname -r; . /etc/os-release; echo $ID') ||
  fail "Debian VM: $out"
[[ "$out" == "$KERNEL"$'\n'debian ]] || fail "Debian VM: $out"
pass "VMs from the installed bundle: busybox (static) and Debian (glibc) images boot $KERNEL"

# Upgrade while a VM runs: the new bundle goes beside the old, the running VM keeps its files.
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/bundle-busybox sleep 100000)
docker exec "$id" true || fail "exec into the running VM"
old=$(readlink "$SCRATCH/opt-runcvm/current")
mkdir -p "$SCRATCH/upgrade" && echo "0123456789abcdef-upgraded" >"$SCRATCH/upgrade/VERSION"
printf 'FROM runcvm:test\nCOPY VERSION /opt/runcvm/VERSION\n' >"$SCRATCH/upgrade/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t runcvm:upgrade "$SCRATCH/upgrade" >/dev/null || fail "building the upgrade image"
installer runcvm:upgrade --host-path "$SCRATCH/opt-runcvm" >/dev/null || fail "the upgrade failed"
new=$(readlink "$SCRATCH/opt-runcvm/current")
[[ "$new" != "$old" && -d "$SCRATCH/opt-runcvm/$old" ]] || fail "the upgrade did not go beside the old version ($old -> $new)"
[[ "$(docker exec "$id" echo still-running)" == still-running ]] || fail "the running VM broke during the upgrade"
out=$(docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/bundle-busybox cat /opt/runcvm/VERSION)
[[ "$out" == "0123456789abcdef-upgraded" ]] || fail "a new container does not use the upgraded bundle: $out"
docker rm -f "$id" >/dev/null
pass "upgrade while a VM runs: $old stays for it, new containers use $new"

# Bad input changes nothing.
cp "$SCRATCH/etc-docker/daemon.json" "$SCRATCH/daemon.before"
rc=0
err=$(docker run --rm runcvm:test 2>&1) || rc=$?
[[ $rc -ne 0 && $(grep -c . <<<"$err") -eq 1 ]] || fail "an install without /runcvm mounted: rc=$rc $err"
assert_contains "$err" "/runcvm is not mounted" "the installer's error"
mkdir -p "$SCRATCH/broken-etc" && echo '{"runtimes": ' >"$SCRATCH/broken-etc/daemon.json"
rc=0
err=$(docker run --rm -v "$SCRATCH/opt-runcvm:/runcvm" -v "$SCRATCH/broken-etc:/etc/docker" runcvm:test 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "a broken daemon.json was accepted"
assert_contains "$err" "not valid JSON" "the installer's error"
[[ "$(cat "$SCRATCH/broken-etc/daemon.json")" == '{"runtimes": ' ]] || fail "the broken daemon.json was changed"
mkdir -p "$SCRATCH/outside-etc" && ln -s /tmp/elsewhere/daemon.json "$SCRATCH/outside-etc/daemon.json"
rc=0
err=$(docker run --rm -v "$SCRATCH/opt-runcvm:/runcvm" -v "$SCRATCH/outside-etc:/etc/docker" runcvm:test 2>&1) || rc=$?
[[ $rc -ne 0 && $(grep -c . <<<"$err") -eq 1 ]] || fail "a daemon.json linking out of /etc/docker was accepted: rc=$rc $err"
assert_contains "$err" "outside /etc/docker, which is all the installer sees" "the installer's error"
[[ "$(readlink "$SCRATCH/outside-etc/daemon.json")" == /tmp/elsewhere/daemon.json ]] || fail "the outside link was changed"
pass "without /runcvm, with a broken daemon.json, or one linking out of reach, the installer fails in one line and changes nothing"

out=$(installer runcvm:test --uninstall) || fail "--uninstall: $out"
python3 - "$SCRATCH/etc-docker/daemon.json" <<'PY' || fail "daemon.json after uninstall: $(cat "$SCRATCH/etc-docker/daemon.json")"
import json, sys
config = json.load(open(sys.argv[1]))
assert "runtimes" not in config and config["log-level"] == "warn", config
PY
[[ ! -e "$SCRATCH/opt-runcvm/current" && -d "$SCRATCH/opt-runcvm/versions" ]] || fail "--uninstall left current or removed versions"
assert_contains "$out" "the runtime is gone from /etc/docker/daemon.json" "--uninstall's report"
# Again: nothing names the runtime now, and the file is not rewritten.
cp "$SCRATCH/etc-docker/daemon.json" "$SCRATCH/daemon.json.uninstalled"
out=$(installer runcvm:test --uninstall) || fail "a second --uninstall: $out"
assert_contains "$out" "no engine's config named it" "a second --uninstall's report"
cmp -s "$SCRATCH/etc-docker/daemon.json" "$SCRATCH/daemon.json.uninstalled" || fail "a second --uninstall rewrote daemon.json"
pass "--uninstall removes the runtime (other settings stay) and current, keeping versions for running containers"
