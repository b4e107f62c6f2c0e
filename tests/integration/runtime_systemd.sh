#!/usr/bin/env bash
# systemd as the VM's PID 1: a Debian bookworm image with systemd (debootstrap from
# deb.debian.org, imported into a private dockerd, as no registry is reachable) boots with
# /sbin/init as its command; a unit of its own reports to the console, which is the container's
# output; docker stop powers the VM off cleanly (SIGTERM becomes systemd's poweroff signal).
source "$(dirname "$0")/lib.sh"
command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"

ROOT="$SCRATCH/rootfs"
debootstrap --variant=minbase --include=systemd-sysv bookworm "$ROOT" http://deb.debian.org/debian \
  >"$SCRATCH/debootstrap.log" 2>&1 || fail "debootstrap failed: $(tail -5 "$SCRATCH/debootstrap.log")"
# A unit that proves systemd runs as PID 1 and reached its default target, on the console.
cat >"$ROOT/etc/systemd/system/runcvm-probe.service" <<'UNIT'
[Unit]
Description=runcvm probe
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=tty
TTYPath=/dev/console
ExecStart=/bin/sh -c 'echo "runcvm-probe: pid1=$(cat /proc/1/comm) kernel=$(uname -r) state=$(systemctl is-system-running)"'
[Install]
WantedBy=default.target
UNIT
ln -s /etc/systemd/system/runcvm-probe.service "$ROOT/etc/systemd/system/multi-user.target.wants/runcvm-probe.service"
# No logins on the console: the container's output stays the probe's.
ln -sf /dev/null "$ROOT/etc/systemd/system/serial-getty@.service"
ln -sf /dev/null "$ROOT/etc/systemd/system/getty@.service"

start_dockerd_with_runcvm
tar -C "$ROOT" -c . | docker import -c 'CMD ["/sbin/init"]' - runcvm-test/systemd >/dev/null
pass "built a Debian bookworm image with systemd ($(du -sh "$ROOT" | cut -f1))"

id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -m 1g runcvm-test/systemd)
for _ in $(seq 600); do docker logs "$id" 2>&1 | grep -q "runcvm-probe:" && break; sleep 0.2; done
logs=$(docker logs "$id" 2>&1)
probe=$(grep "runcvm-probe:" <<<"$logs") || fail "systemd never ran the probe unit; the console said: $(tail -20 <<<"$logs")"
assert_contains "$probe" "pid1=systemd" "probe"
[[ "$probe" != *"kernel=$(uname -r) "* ]] || fail "systemd ran on the host kernel: $probe"
grep -Eq "state=(running|starting|degraded)" <<<"$probe" || fail "systemd state: $probe"
pass "systemd is the VM's PID 1 and starts the image's units: $probe"

# docker exec reaches the VM beside systemd (the exec agent outlives vm-init's exec of the init).
out=$(docker exec "$id" sh -c 'cat /proc/1/comm; timeout 60 systemctl is-system-running --wait 2>/dev/null || true')
[[ "$(head -1 <<<"$out")" == systemd ]] || fail "docker exec beside systemd: $out"
# With no capability flag systemd holds every capability in the VM and finishes its start-up.
[[ "$(tail -1 <<<"$out")" =~ ^(running|degraded)$ ]] || fail "systemd did not finish starting: $out"
pass "docker exec runs beside systemd: PID 1 is $(head -1 <<<"$out"), system $(tail -1 <<<"$out")"

start=$(date +%s)
docker stop -t 60 "$id" >/dev/null
elapsed=$(( $(date +%s) - start ))
[[ "$(docker wait "$id")" == 0 ]] || fail "docker stop: exit code $(docker inspect -f '{{.State.ExitCode}}' "$id"); $(docker logs "$id" 2>&1 | tail -5)"
(( elapsed < 60 )) || fail "docker stop waited for the timeout (${elapsed} s): systemd did not power off"
docker rm "$id" >/dev/null
pass "docker stop powers systemd's VM off cleanly in ${elapsed} s, exit code 0"
