#!/usr/bin/env bash
# Attacks on runcvm's boundaries with a real dockerd under TCG (SECURITY.md lists what each
# check stands for):
#   1. an image's /etc/ld.so.preload, LD_PRELOAD and LD_LIBRARY_PATH load its library in the VM
#      only: QEMU, virtiofsd and runcvm-init never load it, and see no file of the image as /;
#   2. links through `/a -> /` in the image never make the host runtime open a host file (a FIFO,
#      a 1 GiB file, a file that would change the kernel choice), and the container starts;
#   3. the image's ENV cannot grant CAP_SYS_ADMIN, lift -m or turn on the host's debug log; the
#      operator's debug log is root-only with env values redacted; no helper holds SYS_ADMIN;
#   4. an exec's environment never shows in `ps` for an unprivileged user; the VM sees only the
#      launch and network documents of /.runcvm, read-only, and not the container's sockets;
#   5. root in the VM takes the exec port from the agent and the channel from vm-init and writes
#      garbage and floods into them: runcvm-init survives, says why in its log, and the workload's
#      exit code (or, with the channel broken, a clear failure) still comes back.
source "$(dirname "$0")/lib.sh"

start_dockerd_with_runcvm
KERNEL=$(readlink "$BUNDLE/kernels/debian/latest")
HOST_KERNEL=$(uname -r)
[[ "$KERNEL" != "$HOST_KERNEL" ]] || fail "the bundle kernel is the host's ($KERNEL): the test could not tell them apart"
# The host pids of a container's runcvm-init and of its children (QEMU, virtiofsd).
container_pids() {
  local init
  init=$(docker inspect -f '{{.State.Pid}}' "$1")
  echo "$init"
  cat /proc/"$init"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' || true
}
# A docker run the runtime refuses: non-zero, and the runtime's reason on one line of Docker's error.
expect_refused() {  # NEEDLE docker-run-args…
  local needle=$1 err rc=0
  shift
  err=$(vm "$@" 2>&1 >/dev/null) || rc=$?
  [[ $rc -ne 0 ]] || fail "docker run $* was not refused"
  grep -F -- "$needle" <<<"$err" | grep -q "OCI runtime create failed: runcvm: " || fail "docker run $*: expected \"$needle\", got: $err"
}
# What a container's process is (QEMU and virtiofsd run through the bundle's loader, so their comm
# is the loader's): runcvm-init, qemu-system-x86_64 or virtiofsd.
process_name() { tr '\0' ' ' </proc/"$1"/cmdline | grep -o 'runcvm-init\|qemu-system-x86_64\|virtiofsd' | head -1; }

# --- 1. Code of the image never runs outside the VM -------------------------------------------
import_debian_image runcvm-test/debian
cat >"$SCRATCH/record.c" <<'C'
/* Records, for every process that loads it, the kernel it runs on and its name. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
__attribute__((constructor)) static void record(void) {
  struct utsname u;
  char comm[64] = "?", line[512];
  int fd = open("/proc/self/comm", O_RDONLY);
  if (fd >= 0) { ssize_t n = read(fd, comm, sizeof comm - 1); comm[n > 0 ? n - 1 : 0] = 0; close(fd); }
  uname(&u);
  int len = snprintf(line, sizeof line, "%s %s %d\n", u.release, comm, (int)getpid());
  /* The volume as the container and the VM see it, and as a helper root with the container's
     root below /share would. */
  const char *places[] = {"/record/log", "/share/record/log"};
  for (unsigned i = 0; i < 2; i++) {
    fd = open(places[i], O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (fd >= 0) { write(fd, line, len); close(fd); }
  }
}
C
cc -shared -fPIC -O2 -o "$SCRATCH/librecord.so" "$SCRATCH/record.c"
mkdir -p "$SCRATCH/preload-image/usr/lib/record" "$SCRATCH/preload-image/etc"
cp "$SCRATCH/librecord.so" "$SCRATCH/preload-image/usr/lib/record/librecord.so"
echo /usr/lib/record/librecord.so >"$SCRATCH/preload-image/etc/ld.so.preload"
cat >"$SCRATCH/preload-image/Dockerfile" <<'DOCKERFILE'
FROM runcvm-test/debian
COPY usr/lib/record/librecord.so /usr/lib/record/librecord.so
COPY etc/ld.so.preload /etc/ld.so.preload
ENV LD_PRELOAD=/usr/lib/record/librecord.so LD_LIBRARY_PATH=/usr/lib/record
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t runcvm-test/preload "$SCRATCH/preload-image" >/dev/null
mkdir -p "$SCRATCH/record"
chmod 0777 "$SCRATCH/record"
cid=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg -v "$SCRATCH/record:/record" runcvm-test/preload sleep 600)
on_exit "docker rm -f $cid >/dev/null 2>&1"
wait_for_vm "$cid"
docker exec "$cid" sh -c 'cat /etc/hostname >/dev/null'
pids=$(container_pids "$cid")
[[ $(wc -l <<<"$pids") -ge 3 ]] || fail "expected runcvm-init, QEMU and virtiofsd, found pids: $pids"
for pid in $pids; do
  name=$(process_name "$pid")
  ! grep -q librecord /proc/"$pid"/maps || fail "$name (pid $pid) outside the VM loaded the image's library"
  case $name in
    qemu-system-x86_64)  # its root is the helper root: the bundle, and no file of the image
      [[ -x /proc/$pid/root/opt/runcvm/libexec/qemu-system-x86_64 ]] || fail "QEMU (pid $pid) does not see the bundle"
      [[ ! -e /proc/$pid/root/etc && ! -e /proc/$pid/root/usr ]] || fail "QEMU (pid $pid) sees the image's files at its root"
      # Of /sys, only the huge-page settings glibc's malloc reads, and read-only.
      [[ "$(ls -A /proc/"$pid"/root/sys/kernel/mm)" == transparent_hugepage && "$(ls -A /proc/"$pid"/root/sys)" == kernel ]] ||
        fail "QEMU (pid $pid) sees more of /sys than the huge-page settings: $(ls -A /proc/"$pid"/root/sys)"
      awk '$5 == "/sys/kernel/mm/transparent_hugepage" && $6 ~ /^ro(,|$)/ {found = 1} END {exit !found}' /proc/"$pid"/mountinfo ||
        fail "QEMU's huge-page settings are not a read-only mount"
      # What glibc's malloc reads to put the heap on huge pages (helper_environment) is there.
      [[ "$(cat /proc/"$pid"/root/sys/kernel/mm/transparent_hugepage/enabled)" == "$(cat /sys/kernel/mm/transparent_hugepage/enabled)" ]] &&
        grep -qx "GLIBC_TUNABLES=glibc.malloc.hugetlb=1" < <(tr '\0' '\n' </proc/"$pid"/environ) ||
        fail "QEMU (pid $pid) does not get its heap on huge pages" ;;
    virtiofsd)  # started in the helper root, then confined by its own sandbox to the VM's share
      [[ -e /proc/$pid/root/etc/ld.so.preload && ! -e /proc/$pid/root/.runcvm/exec.sock ]] ||
        fail "virtiofsd (pid $pid) does not serve the VM's share" ;;
    runcvm-init) ;;
    *) fail "unexpected process $pid in the container: $(tr '\0' ' ' </proc/"$pid"/cmdline)" ;;
  esac
done
docker rm -f "$cid" >/dev/null
[[ -s "$SCRATCH/record/log" ]] || fail "the preloaded library recorded nothing: the image's preload did not work in the VM either"
grep -q "^$KERNEL " "$SCRATCH/record/log" || fail "no process in the VM recorded the guest kernel: $(head -3 "$SCRATCH/record/log")"
if grep -v "^$KERNEL " "$SCRATCH/record/log"; then fail "a process recorded a kernel other than the guest's (above)"; fi
pass "the image's ld.so.preload, LD_PRELOAD and LD_LIBRARY_PATH act in the VM ($(wc -l <"$SCRATCH/record/log") processes on $KERNEL) and nowhere else"

cid=$(docker run -d --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/debian sleep 600)
on_exit "docker rm -f $cid >/dev/null 2>&1"
wait_for_vm "$cid"
listing=$(docker exec "$cid" ls -A /.runcvm)
[[ "$listing" == $'launch.json\nnetwork.json\nseed' ]] || fail "the VM sees in /.runcvm: $listing"
docker exec "$cid" sh -c 'touch /.runcvm/x' 2>/dev/null && fail "root in the VM wrote into /.runcvm"
docker exec -u 1000 "$cid" cat /.runcvm/launch.json >/dev/null 2>&1 && fail "a non-root user in the VM read the launch document"
docker exec -u 1000 "$cid" cat /.runcvm/seed >/dev/null 2>&1 && fail "a non-root user in the VM read the host's seed"
[[ -z "$(cat /proc/"$(docker inspect -f '{{.State.Pid}}' "$cid")"/root/.runcvm/seed 2>/dev/null)" ]] ||
  fail "the host's seed is left in the container's state directory"
launch_file=$(find "$DOCKER_EXEC_ROOT" -path "*$cid*/runcvm-launch.json" | head -1)
[[ -n "$launch_file" && "$(stat -c %a "$launch_file")" == 600 ]] || fail "the host's launch document is not root-only: $launch_file"
docker exec "$cid" sh -c 'rm -f /.runcvm/launch.json' 2>/dev/null && fail "root in the VM removed the launch document"
# The container's own mount table is not the VM's: its /proc shows the guest's PID 1.
[[ "$(docker exec "$cid" cat /proc/1/comm)" == runcvm-vm-init ]] || fail "/proc in the VM is not the VM's"
pass "the VM sees /.runcvm as the launch and network documents and the seed only, read-only and root-only; no sockets, no container /proc"

# --- 3. The image's ENV cannot raise privilege ---------------------------------------------------
for p in $(container_pids "$cid"); do
  bnd=$(awk '/^CapBnd/ {print $2}' /proc/"$p"/status)
  (( (0x$bnd >> 21) & 1 )) && fail "$(process_name "$p") holds CAP_SYS_ADMIN (CapBnd $bnd)"
done
docker rm -f "$cid" >/dev/null
pass "neither runcvm-init nor QEMU nor virtiofsd keeps CAP_SYS_ADMIN"

import_busybox_image runcvm-test/busybox debian
image_with_env() {  # NAME ENV…: the busybox image with the given ENV lines
  local name=$1; shift
  mkdir -p "$SCRATCH/env-image"
  { echo "FROM runcvm-test/busybox"; for e in "$@"; do echo "ENV $e"; done; } >"$SCRATCH/env-image/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$name" "$SCRATCH/env-image" >/dev/null
}
image_with_env runcvm-test/env-sys-admin RUNCVM_SYS_ADMIN=1
expect_refused "cannot grant capabilities: use docker run --cap-add SYS_ADMIN" runcvm-test/env-sys-admin true
image_with_env runcvm-test/env-mem RUNCVM_MEM=64G
expect_refused "RUNCVM_MEM: 65536M is more than the container's memory limit (-m 256M)" -m 256m runcvm-test/env-mem true
out=$(vm -m 256m runcvm-test/busybox sh -c 'grep MemTotal /proc/meminfo' | awk '{print $2}')
(( out < 300 * 1024 )) || fail "with -m 256m the VM has $out kB"
rm -f /run/runcvm/debug.log
image_with_env runcvm-test/env-debug RUNCVM_RUNTIME_DEBUG=1
expect_refused "cannot turn on the host's debug log" runcvm-test/env-debug true
[[ ! -e /run/runcvm/debug.log ]] || fail "the image's ENV wrote the host's debug log"
pass "the image's ENV cannot grant SYS_ADMIN, lift -m or write the host's debug log"

# The operator's --cap-add reaches the helpers; the operator's debug log hides env values.
register_runtime "$SCRATCH/daemon.json" runcvm-debug "$BUNDLE/bin/runcvm-runtime" --runcvm-debug
reload_dockerd_for_runcvm
cid=$(docker run -d --runtime=runcvm-debug --cap-add SYS_ADMIN -e RUNCVM_QEMU_ACCEL=tcg -e SECRET_TOKEN=hunter2-create \
  runcvm-test/busybox sleep 600)
on_exit "docker rm -f $cid >/dev/null 2>&1"
wait_for_vm "$cid"
# runcvm-init keeps it; QEMU, which needs no capability, holds none whatever the operator gave.
init=$(docker inspect -f '{{.State.Pid}}' "$cid")
bnd=$(awk '/^CapBnd/ {print $2}' /proc/"$init"/status)
(( (0x$bnd >> 21) & 1 )) || fail "--cap-add SYS_ADMIN did not reach runcvm-init (CapBnd $bnd)"
qemu=$(for p in $(container_pids "$cid"); do [[ $(process_name "$p") == qemu-system-x86_64 ]] && echo "$p"; done | head -1)
[[ -n "$qemu" ]] || fail "no QEMU found"
bnd=$(awk '/^CapBnd/ {print $2}' /proc/"$qemu"/status)
[[ "$bnd" =~ ^0+$ ]] || fail "QEMU holds capabilities with --cap-add SYS_ADMIN (CapBnd $bnd)"
pass "--cap-add SYS_ADMIN (the operator's) is kept by runcvm-init; QEMU holds no capability all the same"

# --- 4. An exec's environment never appears in argv ------------------------------------------------
echo SECRET_TOKEN=hunter2-exec >"$SCRATCH/exec.env"  # in a file: docker's own argv must not hold it either
docker exec --env-file "$SCRATCH/exec.env" "$cid" sleep 4 &
exec_pid=$!
seen=""
for _ in $(seq 20); do
  seen+=$(setpriv --reuid=65534 --regid=65534 --clear-groups ps -eo args 2>/dev/null | grep -c 'hunter[2]-exec' || true)
  sleep 0.1
done
wait "$exec_pid" || fail "docker exec sleep failed"
[[ "$seen" =~ ^0+$ ]] || fail "an unprivileged user saw the exec's environment in ps"
pass "an exec's environment is not in any argv an unprivileged user can read"

[[ "$(stat -c %a /run/runcvm)" == 700 ]] || fail "/run/runcvm is $(stat -c %a /run/runcvm), expected 700"
[[ "$(stat -c %a /run/runcvm/debug.log)" == 600 ]] || fail "debug.log is $(stat -c %a /run/runcvm/debug.log), expected 600"
grep -q 'SECRET_TOKEN=(redacted)' /run/runcvm/debug.log || fail "the debug log does not name the variable"
! grep -q hunter2 /run/runcvm/debug.log || fail "the debug log holds an env value: $(grep -o '.\{40\}hunter2.\{10\}' /run/runcvm/debug.log | head -2)"
docker rm -f "$cid" >/dev/null
pass "the operator's debug log is root-only and redacts env values"

# --- 5. Root in the VM writes garbage and floods on runcvm-init's ports ------------------------------
cat >"$SCRATCH/hostile.c" <<'C'
/* Root in the VM: takes a virtio-serial port (by name) from whichever process holds it (pidfd_getfd,
   as ptrace would) and writes into it. usage: hostile PORT-NAME garbage|flood SECONDS */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static int take_port(const char *name) {
  char path[512], text[128], device[128] = "", link[256];
  DIR *ports = opendir("/sys/class/virtio-ports");
  for (struct dirent *e; ports && (e = readdir(ports));) {
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    FILE *f = fopen(path, "r");
    if (f && fgets(text, sizeof text, f) && strncmp(text, name, strlen(name)) == 0) snprintf(device, sizeof device, "/dev/%s", e->d_name);
    if (f) fclose(f);
  }
  if (!device[0]) { fprintf(stderr, "no port %s\n", name); exit(2); }
  DIR *procs = opendir("/proc");
  for (struct dirent *p; procs && (p = readdir(procs));) {
    int pid = atoi(p->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *fds = opendir(path);
    for (struct dirent *f; fds && (f = readdir(fds));) {
      snprintf(path, sizeof path, "/proc/%d/fd/%s", pid, f->d_name);
      ssize_t n = readlink(path, link, sizeof link - 1);
      if (n <= 0) continue;
      link[n] = 0;
      if (strcmp(link, device) != 0) continue;
      int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
      int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(f->d_name), 0);
      if (fd >= 0) return fd;
    }
    if (fds) closedir(fds);
  }
  fprintf(stderr, "nobody holds %s\n", device);
  exit(2);
}
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int fd = take_port(argv[1]);
  if (strcmp(argv[2], "garbage") == 0) {
    static const char frame[] = "\xee\xff\xff\xff\xff";  /* no such frame type, 4 GiB long */
    return write(fd, frame, 5) == 5 ? 0 : 1;
  }
  /* flood: output frames for session 0x7fff0000, which nobody has, as fast as the port takes them */
  static char frame[5 + 4 + 65536];
  frame[0] = 3; frame[1] = 0; frame[2] = 1; frame[3] = 0; frame[4] = 4;  /* stdout_data, 65540 bytes */
  frame[5] = 0x7f; frame[6] = (char)0xff;
  long long sent = 0;
  time_t end = time(NULL) + atoi(argv[3]);
  while (time(NULL) < end) /* whole frames: a virtio port takes at most 32 KiB a write */
    for (size_t done = 0; done < sizeof frame;) { ssize_t n = write(fd, frame + done, sizeof frame - done); if (n <= 0) return 1; done += (size_t)n; sent += n; }
  printf("flooded %lld bytes\n", sent);
  return 0;
}
C
mkdir -p "$SCRATCH/hostile-image"
cc -static -O2 -o "$SCRATCH/hostile-image/hostile" "$SCRATCH/hostile.c"
printf 'FROM runcvm-test/busybox\nCOPY hostile /hostile\n' >"$SCRATCH/hostile-image/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t runcvm-test/hostile "$SCRATCH/hostile-image" >/dev/null
init_log() { cat "/proc/$(docker inspect -f '{{.State.Pid}}' "$1")/root/.runcvm/runcvm-init.log" 2>/dev/null; }

# Garbage and a flood on the exec port: exec ends, the workload runs on and its exit code arrives.
# SYS_PTRACE for pidfd_getfd: the workload has Docker's default capabilities in the VM, and the
# test plays a guest root that has them all (a kernel exploit away, or --cap-add ALL).
cid=$(docker run -d --runtime=runcvm --cap-add SYS_PTRACE -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/hostile \
  sh -c 'while [ ! -e /tmp/go ]; do sleep 0.2; done; /hostile org.runcvm.exec flood 3; /hostile org.runcvm.exec garbage 0; echo attacked; sleep 2; echo survived; exit 3')
on_exit "docker rm -f $cid >/dev/null 2>&1"
wait_for_vm "$cid"
docker exec "$cid" touch /tmp/go
for _ in $(seq 100); do docker logs "$cid" 2>&1 | grep -q attacked && break; sleep 0.2; done
log=$(init_log "$cid")
assert_contains "$log" "the VM sent a malformed frame on the exec port" "runcvm-init's log"
[[ "$(docker wait "$cid")" == 3 ]] || fail "the workload's exit code did not arrive after the attack: $(docker logs "$cid" 2>&1 | tail -3)"
out=$(docker logs "$cid" 2>&1)
assert_contains "$out" "flooded" "the workload's output"
assert_contains "$out" "survived" "the workload's output"
grep -q "runcvm-init" <<<"$out" && fail "runcvm-init's notices reached the workload's output: $out"
docker rm -f "$cid" >/dev/null
pass "garbage and a flood on the exec port: runcvm-init lives on, logs why, and the workload's exit code 3 arrives"

# Garbage on the channel: the workload's output stops there, the container ends with a clear error.
start=$(date +%s)
rc=0
out=$(timeout 120 docker run --rm --runtime=runcvm --cap-add SYS_PTRACE -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/hostile \
  sh -c 'echo before; /hostile org.runcvm.channel garbage 0; echo after; exit 5' 2>&1) || rc=$?
(( rc == 1 )) || fail "a broken channel ended docker run with $rc: $out"
assert_contains "$out" "before" "output before the attack"
assert_contains "$out" "the VM stopped without reporting the workload's exit status" "docker run's error"
(( $(date +%s) - start < 90 )) || fail "the container took $(( $(date +%s) - start )) s to end after the attack"
pass "garbage on the channel: the container ends with exit 1 and one clear line, not a hang or a crash"

# --- 2. The host runtime never follows the image's links -------------------------------------------
mkfifo "$SCRATCH/host-fifo"
truncate -s 1G "$SCRATCH/host-big"
echo "ID=alpine" >"$SCRATCH/host-os-release"
tree="$SCRATCH/link-image"
mkdir -p "$tree"
template=$(docker create runcvm-test/busybox true)
docker export "$template" | tar -C "$tree" -x
docker rm "$template" >/dev/null
rm -f "$tree/etc/os-release"
ln -s / "$tree/a"
watch_log="$SCRATCH/inotify.log"
inotifywait -q -m -e open,access --format '%w %e' "$SCRATCH/host-fifo" "$SCRATCH/host-big" "$SCRATCH/host-os-release" \
  >"$watch_log" 2>&1 &
watcher=$!
on_exit "kill $watcher"
sleep 0.5
for target in host-fifo host-big host-os-release; do
  ln -sfn "/a$SCRATCH/$target" "$tree/etc/os-release"
  ln -sfn "/a$SCRATCH/$target" "$tree/vmlinuz"
  ln -sfn "/a$SCRATCH/host-os-release" "$tree/initrd.img"
  tar -C "$tree" -c . | docker import - "runcvm-test/links-$target" >/dev/null
  start=$(date +%s)
  out=$(timeout 120 docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg "runcvm-test/links-$target" sh -c 'echo alive; uname -r') ||
    fail "docker run with os-release and vmlinuz linked to the host's $target failed: $out"
  [[ "$out" == $'alive\n'"$KERNEL" ]] || fail "with links to the host's $target: $out"
  (( $(date +%s) - start < 60 )) || fail "with links to the host's $target the start took $(( $(date +%s) - start )) s"
done
sleep 0.5
[[ ! -s "$watch_log" ]] || fail "a host file was opened through the image's links: $(cat "$watch_log")"
pass "links through /a -> / to a host FIFO, a 1 GiB file and an os-release: never opened, the bundle kernel boots"
