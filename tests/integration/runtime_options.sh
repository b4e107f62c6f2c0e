#!/usr/bin/env bash
# End to end through docker run: options and container flags are honoured in the VM, not only
# parsed. --read-only, --oom-score-adj, --group-add and --pids-limit side by side with runc;
# RUNCVM_DISPLAY_MODE=vnc answered over RFB on the published port, with a framebuffer;
# RUNCVM_QEMU_USB; RUNCVM_HUGETLB taking the host's huge pages and giving them back;
# RUNCVM_QEMU_MACHINE=pc and microvm; what is refused is refused at create in one line; notices stay off the
# workload's stderr.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
import_busybox_image runcvm-test/options debian

# --read-only: the root refuses writes (EROFS) while --tmpfs, volumes and /dev/shm take them, as under runc.
docker volume create options-data >/dev/null
probe='for f in /x /tmp/x /scratch/x /data/x /dev/shm/x /etc/hosts; do touch $f 2>/dev/null && echo "$f ok" || echo "$f refused"; done; touch /x 2>&1 | grep -o "Read-only file system"'
runc_out=$(docker run --rm --read-only --tmpfs /scratch -v options-data:/data runcvm-test/options sh -c "$probe")
vm_out=$(vm --read-only --tmpfs /scratch -v options-data:/data runcvm-test/options sh -c "$probe")
[[ "$vm_out" == "$runc_out" ]] || fail "--read-only: runcvm [${vm_out//$'\n'/, }], runc [${runc_out//$'\n'/, }]"
assert_contains "$vm_out" "/x refused" "--read-only"
assert_contains "$vm_out" "/scratch/x ok" "--read-only"
assert_contains "$vm_out" "Read-only file system" "--read-only"
pass "--read-only: the VM's root refuses writes with EROFS; --tmpfs, the volume and /dev/shm are writable, as under runc"

# A hostile image: its /run and a --tmpfs destination's parent are links out of the root. The
# mount points runcvm-init makes for --read-only resolve inside the container, never on the host.
escape="/tmp/runcvm-escape-$RANDOM"
on_exit "rm -rf $escape"
id=$(docker create runcvm-test/options true)
mkdir -p "$SCRATCH/hostile"
docker export "$id" | tar -C "$SCRATCH/hostile" -x
docker rm "$id" >/dev/null
ln -sfn "../../../../../../..$escape/run" "$SCRATCH/hostile/run"
ln -sfn "../../../../../../..$escape/srv" "$SCRATCH/hostile/srv"
tar -C "$SCRATCH/hostile" -c . | docker import - runcvm-test/hostile-links >/dev/null
rc=0
out=$(vm --read-only --tmpfs /srv/scratch runcvm-test/hostile-links sh -c 'touch /x 2>&1; echo in-vm' 2>&1) || rc=$?
[[ ! -e "$escape" ]] || fail "--read-only followed the image's links onto the host: $(find "$escape")"
# The links point nowhere inside the container: the start fails, in one line, as it would without --read-only.
[[ $rc -ne 0 && $(grep -c '' <<<"$out") -eq 1 ]] || fail "--read-only with dangling links: exit $rc, output: $out"
assert_contains "$out" "runcvm-init: error: " "--read-only with the image's links"
pass "--read-only: the image's /run and /srv linked out of its root create nothing on the host (one line: $out)"

# A hostile image kernel: a FIFO is no kernel (the bundle's boots, nothing blocks on it); an
# oversized one is refused in one line before QEMU would read it.
mkdir -p "$SCRATCH/hostile/boot"
rm -f "$SCRATCH/hostile/run" "$SCRATCH/hostile/srv"
mkdir -p "$SCRATCH/hostile/run" "$SCRATCH/hostile/srv"
mkfifo "$SCRATCH/hostile/boot/vmlinuz-6.6.6-evil"
echo initrd >"$SCRATCH/hostile/boot/initrd.img-6.6.6-evil"
ln -s boot/vmlinuz-6.6.6-evil "$SCRATCH/hostile/vmlinuz"
ln -s boot/initrd.img-6.6.6-evil "$SCRATCH/hostile/initrd.img"
tar -C "$SCRATCH/hostile" -c . | docker import - runcvm-test/hostile-fifo-kernel >/dev/null
out=$(timeout 120 docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/hostile-fifo-kernel uname -r) ||
  fail "an image whose kernel is a FIFO: $out"
[[ "$out" == "$(readlink "$BUNDLE/kernels/debian/latest")" ]] || fail "an image whose kernel is a FIFO booted $out"
rm "$SCRATCH/hostile/boot/vmlinuz-6.6.6-evil"
head -c 260M /dev/zero >"$SCRATCH/hostile/boot/vmlinuz-6.6.6-evil"
tar -C "$SCRATCH/hostile" -c . | docker import - runcvm-test/hostile-huge-kernel >/dev/null
rm -rf "$SCRATCH/hostile"
rc=0
err=$(timeout 120 docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/hostile-huge-kernel true 2>&1) || rc=$?
[[ $rc -eq 1 && $(grep -c '' <<<"$err") -eq 1 ]] || fail "an image with a 260 MiB kernel: exit $rc, output: $err"
assert_contains "$err" "the image's kernel \"/vmlinuz\" is 260 MiB, more than a kernel can be" "the oversized kernel's error"
pass "an image's kernel that is a FIFO is passed over for the bundle's; one of 260 MiB is refused in one line"

# --oom-score-adj, --group-add, --pids-limit: what the workload sees and what it may do, as under runc.
# (A shell whose fork fails exits: the inner one counts its forks on stdout until then.)
probe='id; cat /proc/self/oom_score_adj; echo "forked $(sh -c "i=0; while [ \$i -lt 60 ]; do sleep 3 & echo x; i=\$((i+1)); done" 2>/dev/null | wc -l)"'
runc_out=$(docker run --rm -u 1000:1000 --group-add 44 --group-add 55 --oom-score-adj 300 --pids-limit 40 runcvm-test/options sh -c "$probe" 2>&1)
vm_out=$(vm -u 1000:1000 --group-add 44 --group-add 55 --oom-score-adj 300 --pids-limit 40 runcvm-test/options sh -c "$probe" 2>&1)
assert_contains "$vm_out" "groups=44,55,1000" "--group-add in the VM"
assert_contains "$vm_out" $'\n300\n' "--oom-score-adj in the VM"
forked=$(sed -n 's/^forked //p' <<<"$vm_out")
(( forked < 40 )) || fail "--pids-limit 40: the workload forked $forked processes in the VM"
[[ "$(head -2 <<<"$vm_out")" == "$(head -2 <<<"$runc_out")" ]] || fail "identity: runcvm [$vm_out], runc [$runc_out]"
out=$(vm --pids-limit 40 runcvm-test/options cat /proc/self/cgroup)
[[ "$out" == "0::/" ]] || fail "--pids-limit: the workload sees its cgroup as $out, not the root"
pass "--group-add, --oom-score-adj 300 and --pids-limit 40 hold in the VM (forked $forked of 60), as under runc"

# VNC on the published port: the RFB handshake, then a whole framebuffer from virtio-vga, whose
# driver the VM loaded (1280x800 is virtio-gpu's default mode). The USB tablet's controller is there.
port=$(free_port)
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_DISPLAY_MODE=vnc -p "127.0.0.1:$port:5900" \
  runcvm-test/options sleep 300)
on_exit "docker rm -f $id >/dev/null 2>&1"
rfb=$(python3 "$SOURCE_DIR/tests/integration/rfb_probe.py" 127.0.0.1 "$port" 120) || fail "VNC: $rfb"
for _ in $(seq 60); do
  rfb=$(python3 "$SOURCE_DIR/tests/integration/rfb_probe.py" 127.0.0.1 "$port" 60)
  [[ "$rfb" == 1280x800* ]] && break
  sleep 1
done
[[ "$rfb" == "1280x800 4096000 "* ]] || fail "VNC framebuffer: $rfb, expected 1280x800 of 32-bit pixels"
usb=$(docker exec "$id" sh -c 'ls /sys/bus/usb/devices; cat /sys/bus/usb/devices/*/product 2>/dev/null')
assert_contains "$usb" "usb1" "USB devices with VNC"
assert_contains "$usb" "QEMU USB Tablet" "USB devices with VNC"
docker rm -f "$id" >/dev/null
pass "RUNCVM_DISPLAY_MODE=vnc: RFB 003.008 on the published port, a 1280x800 framebuffer, a USB tablet in the VM"

# Headless with RUNCVM_QEMU_VNC_DISPLAY=1: the VNC server alone, on port 5901.
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_QEMU_VNC_DISPLAY=1 -p "127.0.0.1:$port:5901" \
  runcvm-test/options sleep 300)
rfb=$(python3 "$SOURCE_DIR/tests/integration/rfb_probe.py" 127.0.0.1 "$port" 120) || fail "VNC on 5901: $rfb"
out=$(docker exec "$id" sh -c 'cat /proc/fb; ls /sys/bus/usb/devices 2>&1 || true')
[[ "$out" != *usb1* && "$out" != *drm* ]] || fail "headless with a VNC server has a card or USB: $out"
docker rm -f "$id" >/dev/null
pass "RUNCVM_QEMU_VNC_DISPLAY=1 headless: an RFB server on port 5901 ($rfb), no graphics card, no USB"

out=$(vm -e RUNCVM_DISPLAY_MODE=vnc -e RUNCVM_QEMU_VGA=std runcvm-test/options sh -c 'cat /proc/fb')
assert_contains "$out" "bochs" "RUNCVM_QEMU_VGA=std"
out=$(vm -e RUNCVM_QEMU_USB=1 runcvm-test/options ls /sys/bus/usb/devices)
assert_contains "$out" "usb1" "RUNCVM_QEMU_USB=1"
out=$(vm runcvm-test/options sh -c 'ls /sys/bus/usb/devices 2>&1 || true')
[[ "$out" != *usb1* ]] || fail "a VM without RUNCVM_QEMU_USB has a USB bus: $out"
pass "RUNCVM_QEMU_VGA=std gives the standard VGA (bochs driver); RUNCVM_QEMU_USB=1 an XHCI bus, none without it"

# RUNCVM_HUGETLB: too few huge pages is one line naming vm.nr_hugepages; with enough, the VM takes
# its RAM from them while it runs (no balloon returns any to the pool) and gives them back.
old_pages=$(cat /proc/sys/vm/nr_hugepages)
on_exit "echo $old_pages >/proc/sys/vm/nr_hugepages"
echo 0 >/proc/sys/vm/nr_hugepages
rc=0
err=$(vm -m 256m -e RUNCVM_HUGETLB=1 runcvm-test/options true 2>&1) || rc=$?
[[ $rc -ne 0 ]] || fail "RUNCVM_HUGETLB without huge pages started"
[[ $(grep -c '' <<<"$err") -eq 1 ]] || fail "RUNCVM_HUGETLB without huge pages: expected one line, got: $err"
assert_contains "$err" "raise vm.nr_hugepages on the host" "RUNCVM_HUGETLB error"
echo 400 >/proc/sys/vm/nr_hugepages
free_before=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -m 256m -e RUNCVM_HUGETLB=1 runcvm-test/options sleep 300)
docker exec "$id" true  # the VM is up
free_during=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
# No balloon gives them back to the pool, from which the guest might not get them again.
! docker exec "$id" sh -c 'ls /sys/bus/virtio/drivers/virtio_balloon/ | grep -q ^virtio' ||
  fail "RUNCVM_HUGETLB: the VM has a balloon device"
mem_mib=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['memory_mib'])" \
  "$(docker inspect -f '{{.State.Pid}}' "$id" | xargs -I{} echo /proc/{}/root/.runcvm/launch.json)")
(( free_before - free_during == (mem_mib + 1) / 2 )) ||
  fail "RUNCVM_HUGETLB: $((free_before - free_during)) huge pages taken for a VM of $mem_mib MiB"
docker rm -f "$id" >/dev/null
for _ in $(seq 50); do (( $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) == free_before )) && break; sleep 0.2; done
(( $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) == free_before )) || fail "RUNCVM_HUGETLB: the huge pages did not come back"
pass "RUNCVM_HUGETLB: $((free_before - free_during)) huge pages of 2 MiB back the VM's $mem_mib MiB while it runs (no balloon) and return after; too few is one line"

# The VM's size and CPU model from options, and the bundle kernel's modules over /lib/modules.
out=$(vm -e RUNCVM_CPUS=2 -e RUNCVM_MEM=300M -e RUNCVM_QEMU_CPU=qemu64 -e RUNCVM_KERNEL_MOUNT_LIB_MODULES=1 runcvm-test/options \
  sh -c 'nproc; grep MemTotal /proc/meminfo; grep -m1 "model name" /proc/cpuinfo; ls /lib/modules')
[[ "$(sed -n 1p <<<"$out")" == 2 ]] || fail "RUNCVM_CPUS=2: $out"
mem_kb=$(awk '/MemTotal/ {print $2}' <<<"$out")
(( mem_kb > 300 * 1024 * 90 / 100 && mem_kb <= 300 * 1024 )) || fail "RUNCVM_MEM=300M gave MemTotal $mem_kb kB"
assert_contains "$out" "QEMU Virtual CPU" "RUNCVM_QEMU_CPU=qemu64"
[[ "$(sed -n 4p <<<"$out")" == "$(readlink "$BUNDLE/kernels/debian/latest")" && $(grep -c '' <<<"$out") -eq 4 ]] ||
  fail "RUNCVM_KERNEL_MOUNT_LIB_MODULES=1: /lib/modules holds: $(sed -n '4,$p' <<<"$out")"
pass "RUNCVM_CPUS=2, RUNCVM_MEM=300M (MemTotal $mem_kb kB), RUNCVM_QEMU_CPU=qemu64 and RUNCVM_KERNEL_MOUNT_LIB_MODULES=1 hold in the VM"

# RUNCVM_VIRTIOFS_CACHE: virtiofsd runs with the mode asked; with the default (auto) a change made
# on the host side of a volume while the VM runs shows in the VM, as under runc.
mkdir -p "$SCRATCH/cache-volume"
echo before >"$SCRATCH/cache-volume/file"
for mode in "" none always; do  # "": the default
  id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg ${mode:+-e RUNCVM_VIRTIOFS_CACHE=$mode} \
    -v "$SCRATCH/cache-volume:/volume" runcvm-test/options sleep 100000)
  on_exit "docker rm -f $id >/dev/null 2>&1"
  for _ in $(seq 120); do docker exec "$id" true 2>/dev/null && break; sleep 1; done
  [[ "$(docker exec "$id" cat /volume/file)" == before ]] || fail "RUNCVM_VIRTIOFS_CACHE=$mode: the volume reads wrong"
  pid=$(helper_pids "$id" virtiofsd)
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-o cache=${mode:-auto} " ||
    fail "RUNCVM_VIRTIOFS_CACHE=$mode: virtiofsd runs as: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
  if [[ -z $mode ]]; then
    echo after >"$SCRATCH/cache-volume/file"
    sleep 2  # past the attribute timeout of cache=auto (1 s)
    [[ "$(docker exec "$id" cat /volume/file)" == after ]] ||
      fail "RUNCVM_VIRTIOFS_CACHE (default auto): a change on the host side of the volume did not show in the VM"
    echo before >"$SCRATCH/cache-volume/file"
  fi
  docker rm -f "$id" >/dev/null
done
vm -e RUNCVM_VIRTIOFS_CACHE=sometimes runcvm-test/options true 2>"$SCRATCH/cache-mode.err" && fail "RUNCVM_VIRTIOFS_CACHE=sometimes was accepted"
assert_contains "$(cat "$SCRATCH/cache-mode.err")" 'RUNCVM_VIRTIOFS_CACHE: "sometimes"'
pass "RUNCVM_VIRTIOFS_CACHE: virtiofsd runs with auto, none or always; with auto a host-side change to a volume shows in the VM"

# Binds and volumes below what the VM mounts itself (/run, a --tmpfs) stay visible there, as under
# runc (`-v /var/run/docker.sock:/var/run/docker.sock` on a Debian image is below /run).
mkdir -p "$SCRATCH/covered-dir"
echo in-dir >"$SCRATCH/covered-dir/file"
echo a-file >"$SCRATCH/covered-file"
# The image links /var/run to /run, as Debian's do.
printf 'FROM runcvm-test/options\nRUN mkdir -p /var && ln -s /run /var/run\n' | docker build -q -t runcvm-test/var-run - >/dev/null 2>&1 ||
  fail "docker build of an image with /var/run -> /run failed"
out=$(vm -v "$SCRATCH/covered-dir:/var/run/probe-dir" -v "$SCRATCH/covered-file:/run/deep/probe-file:ro" \
  --tmpfs /scratch -v "$SCRATCH/covered-dir:/scratch/inside" runcvm-test/var-run \
  sh -c 'cat /var/run/probe-dir/file /run/deep/probe-file /scratch/inside/file; echo new >/run/probe-dir/from-vm;
         echo x 2>/dev/null >/run/deep/probe-file || echo read-only; grep -c " /run " /proc/mounts') ||
  fail "volumes below /run and a --tmpfs: $out"
[[ "$out" == $'in-dir\na-file\nin-dir\nread-only\n1' ]] || fail "volumes below /run and a --tmpfs: got: $out"
[[ "$(cat "$SCRATCH/covered-dir/from-vm")" == new ]] || fail "a write to the volume below /run did not reach the host"
pass "volumes and binds below the VM's /run (also as /var/run -> /run) and inside a --tmpfs stay visible (a read-only one stays read-only; writes reach the host)"

# Machine types: pc boots like q35; curses and break points are refused at create, in one line.
out=$(vm -e RUNCVM_QEMU_MACHINE=pc runcvm-test/options sh -c 'echo booted; cat /sys/class/dmi/id/product_name 2>/dev/null || true')
assert_contains "$out" "booted" "RUNCVM_QEMU_MACHINE=pc"
assert_contains "$out" "i440FX" "RUNCVM_QEMU_MACHINE=pc"
for refused in "RUNCVM_QEMU_DISPLAY=curses:is not supported" "RUNCVM_BREAK=preqemu:is not a break point" \
               "RUNCVM_QEMU_MACHINE=microvm RUNCVM_QEMU_USB=1:a USB controller needs a PCI bus" \
               "RUNCVM_QEMU_MACHINE=microvm RUNCVM_DISPLAY_MODE=vnc:needs a graphics card and a USB tablet"; do
  rc=0
  options=()
  for option in ${refused%%:*}; do options+=(-e "$option"); done
  err=$(vm "${options[@]}" runcvm-test/options true 2>&1) || rc=$?
  [[ $rc -eq 125 ]] || fail "${refused%%:*}: exit $rc, expected docker's 125 for a container that cannot be created"
  assert_contains "$err" "${refused#*:}" "${refused%%:*}"
done
pass "RUNCVM_QEMU_MACHINE=pc boots (i440FX); RUNCVM_QEMU_DISPLAY=curses, a break point outside the VM, and USB or a graphics card on microvm are refused at create"

# microvm: no PCI bus; the root, the channels, the network and the disks on virtio-mmio. The whole
# container contract holds: split stdio and the exit code, the network (-p from the host), a
# disk, docker exec; the guest's clock, told the host's TSC rate, keeps time.
id=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_QEMU_MACHINE=microvm -p 18085:80 \
  -e RUNCVM_DISKS=/disks/m,/data,ext4,64M runcvm-test/options sh -c \
  'echo served >/tmp/index.html; httpd -p 80 -h /tmp; echo to-stdout; echo to-stderr >&2; sleep 600')
on_exit "docker rm -f $id >/dev/null 2>&1"
for _ in $(seq 120); do curl -sf http://127.0.0.1:18085/index.html >/dev/null && break; sleep 1; done
[[ "$(curl -sf http://127.0.0.1:18085/index.html)" == served ]] || fail "microvm: -p 18085:80 does not answer: $(docker logs "$id" 2>&1 | tail -3)"
[[ "$(docker logs "$id" 2>/dev/null)" == to-stdout && "$(docker logs "$id" 2>&1 >/dev/null)" == to-stderr ]] ||
  fail "microvm: stdout and stderr: $(docker logs "$id" 2>&1)"
out=$(docker exec "$id" sh -c 'ls /sys/bus/pci/devices | wc -l; ls /sys/bus/virtio/devices | wc -l; readlink -f /sys/bus/virtio/devices/virtio0; grep " /data " /proc/mounts; echo hello >/data/x && cat /data/x; date +%s')
host_now=$(date +%s)
lines=()
mapfile -t lines <<<"$out"
[[ "${lines[0]}" == 0 ]] || fail "microvm: the VM has PCI devices: $out"
(( ${lines[1]} >= 4 )) || fail "microvm: expected the root, the channels' serial device, the network and the disk on virtio: $out"
assert_contains "${lines[2]}" "LNRO0005" "microvm: virtio devices on ACPI's virtio-mmio slots"
assert_contains "${lines[3]}" "/data ext4" "microvm: RUNCVM_DISKS"
[[ "${lines[4]}" == hello ]] || fail "microvm: the disk is not writable: $out"
guest_now=${lines[5]}
(( guest_now - host_now <= 2 && host_now - guest_now <= 2 )) || fail "microvm: the guest's clock reads $guest_now, the host's $host_now"
rc=0
docker exec "$id" sh -c 'exit 7' || rc=$?
[[ $rc -eq 7 ]] || fail "microvm: docker exec's exit code: $rc"
docker rm -f "$id" >/dev/null
rc=0
vm -e RUNCVM_QEMU_MACHINE=microvm runcvm-test/options sh -c 'exit 5' || rc=$?
[[ $rc -eq 5 ]] || fail "microvm: the workload's exit code: $rc"
pass "RUNCVM_QEMU_MACHINE=microvm: no PCI, ${lines[1]} virtio-mmio devices; -p, split stdio, exit codes, RUNCVM_DISKS, docker exec and the clock hold"

# RUNCVM_BREAK=prenet with -it, in a real terminal (tmux): a shell in the VM before its network is
# up; what is typed runs there; `exit` lets the start-up go on to the workload. Without -t it is
# refused at create.
start_terminal 120 30 "docker run --rm -it --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -e RUNCVM_BREAK=prenet runcvm-test/options sh -c 'echo workload-ran-\$((6*7)); exit 9'; echo docker-exit-\$?; sleep 600"
wait_for_screen "runcvm prenet#" "the break shell's prompt" 60
# Before the network: eth0 is there without its address yet.
terminal_keys 'echo "in-break-$((40 + 2)) inet-$(busybox ip -4 addr show dev eth0 | grep -c inet)"' Enter
wait_for_screen "in-break-42 inet-" "the break shell's answer"
screen | grep -q "in-break-42 inet-0" || fail "the break shell at prenet: $(screen)"
! screen | grep -q "workload-ran" || fail "the workload ran before the break shell exited: $(screen)"
terminal_keys 'exit' Enter
wait_for_screen "docker-exit-9" "the workload after the break shell" 60
screen | grep -q "workload-ran-42" || fail "the workload did not run after the break shell: $(screen)"
rc=0
err=$(docker run --rm --runtime=runcvm -e RUNCVM_BREAK=prenet runcvm-test/options true 2>&1) || rc=$?
[[ $rc -eq 125 ]] || fail "RUNCVM_BREAK without -t: exit $rc"
assert_contains "$err" "RUNCVM_BREAK: a break point's shell needs a terminal" "RUNCVM_BREAK without -t"
pass "RUNCVM_BREAK=prenet: a shell in the VM on the terminal (tmux), typed commands run, exit resumes the start-up (exit 9); refused without -t"

# The workload's stderr is the workload's: the TCG notice (RUNCVM_QEMU_ACCEL left to auto on a
# host without usable KVM) goes to runcvm-init's log, not to it.
err=$(docker run --rm --runtime=runcvm runcvm-test/options true 2>&1 >/dev/null)
[[ -z "$err" ]] || fail "runcvm wrote to the workload's stderr: $err"
pass "no notice on the workload's stderr without -t"
