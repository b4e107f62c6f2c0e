#!/usr/bin/env python3
"""Benchmark for issue 36 (template VMs): how long a VM takes to reach its root filesystem when it
boots cold, against when it is restored from a saved template, with QEMU 7.2 under TCG.

The baseline, measured in the same run: a cold boot of Debian's kernel on runcvm's machine shape
(q35, 2 vCPUs, -cpu max, 512 MiB in a shared file, virtio-serial, a PCIe root port) with a
virtiofs root on its command line, timed from QEMU's start to the guest's init having mounted
that root. The template: the same kernel booted once without the root, parked in its initramfs
once the virtio and virtiofs modules are loaded, and saved with QEMU's migration stream, RAM
left out of the stream (x-ignore-shared) and kept in its shared file. Each restore copies that
file sparsely, loads the stream (-incoming defer, migrate-incoming), hot-plugs virtiofs onto the
root port (QMP chardev-add and device_add), resumes the VM, and is timed to the same point: the
guest's init has mounted the root.

Also printed: each VM's memory once idle (QEMU's proportional set size outside the guest's RAM,
plus the guest RAM file's pages), and what makes two clones differ
(boot_id, random bytes) or not yet (the guest's clock stays at the template's until set).

QEMU and virtiofsd are the host's (Debian's qemu-system-x86 7.2, the binaries the bundle
copies); the kernel is the bundle's Debian kernel, installed by BUILD_DIR's runcvm-build, booted
from its direct-boot image as runcvm boots it. The guest's initramfs is busybox-static and the
kernel's own modules, built here.

usage: tests/bench/template_restore.py BUILD_DIR [RUNS]   (as root; about a minute for 5 runs, idle)
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

if len(sys.argv) < 2:
    sys.exit("usage: tests/bench/template_restore.py BUILD_DIR [RUNS]")
BUILD_DIR = os.path.abspath(sys.argv[1])
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
MEMORY_MIB = 512
MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "fuse", "virtiofs"]
# runcvm's own kernel arguments (handoff/kernel_artifact.hpp's kFastBootArguments, quiet).
APPEND = ("console=ttyS0 panic=-1 reboot=t quiet loglevel=0 i8042.noaux i8042.nomux i8042.nopnp "
          "i8042.dumbkbd cryptomgr.notests no_timer_check tsc=reliable")
# The guest's init: load the modules, say "parked", mount the root as soon as its tag exists, say
# "mounted", then answer each line on the serial port with what tells clones apart.
INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
for m in %s; do insmod /lib/modules/$m.ko; done
echo parked >/dev/ttyS0
until mount -t virtiofs root /mnt 2>/dev/null; do usleep 10000; done
echo "mounted $(cat /mnt/marker)" >/dev/ttyS0
while read line; do
  echo "id $(cat /proc/sys/kernel/random/boot_id) $(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' ') $(date +%%s)"
done </dev/ttyS0 >/dev/ttyS0
""" % " ".join(MODULES)


def run(*argv, **kwargs):
    return subprocess.run(argv, check=True, **kwargs)


def prepare(work):
    """Installs the bundle's Debian kernel with runcvm-build and builds the initramfs; returns the
    kernel's version and its direct-boot image (what runcvm boots)."""
    run(os.path.join(BUILD_DIR, "bin", "runcvm-build"), "kernels", "--recipe", "debian-bookworm", "--out", work,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernel = os.path.realpath(os.path.join(work, "kernels", "debian", "latest"))
    vmlinux = os.path.join(kernel, "vmlinux")
    tree = os.path.join(work, "initrd")
    for d in ["bin", "proc", "dev", "mnt", "lib/modules"]:
        os.makedirs(os.path.join(tree, d))
    shutil.copy("/bin/busybox", os.path.join(tree, "bin"))
    found = {}
    for root, _, files in os.walk(os.path.join(kernel, "modules")):
        for f in files:
            found[f] = os.path.join(root, f)
    for m in MODULES:
        shutil.copy(found[m + ".ko"], os.path.join(tree, "lib", "modules"))
    with open(os.path.join(tree, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(tree, "init"), 0o755)
    with open(os.path.join(work, "initrd.img"), "wb") as out:
        listing = subprocess.run(["find", "."], cwd=tree, check=True, capture_output=True).stdout
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree, input=listing, check=True,
                              capture_output=True).stdout
        out.write(subprocess.run(["gzip", "-1"], input=cpio, check=True, capture_output=True).stdout)
    os.makedirs(os.path.join(work, "share"))
    with open(os.path.join(work, "share", "marker"), "w") as f:
        f.write("root")
    return os.path.basename(kernel), vmlinux


class Vm:
    """One QEMU, its serial port and monitor on sockets in `work` named by `name`."""

    def __init__(self, work, name, kernel_image, ram, root=False, incoming=False):
        self.work, self.name = work, name
        self.virtiofsd = self.start_virtiofsd() if root else None
        argv = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-machine", "q35", "-accel", "tcg,tb-size=128", "-cpu", "max", "-smp", "2", "-m", f"{MEMORY_MIB}M",
                "-object", f"memory-backend-file,id=mem,size={MEMORY_MIB}M,mem-path={ram},share=on",
                "-numa", "node,memdev=mem", "-kernel", kernel_image, "-initrd", os.path.join(work, "initrd.img"),
                "-append", APPEND,
                "-chardev", f"socket,id=ser,path={self.path('ser')},server=on,wait=off", "-serial", "chardev:ser",
                "-chardev", f"socket,id=qmp,path={self.path('qmp')},server=on,wait=off",
                "-mon", "chardev=qmp,mode=control",
                "-device", "virtio-serial-pci", "-device", "pcie-root-port,id=rp1,chassis=1,io-reserve=0",
                "-device", "vmgenid,guid=auto"]
        if root:
            argv += ["-chardev", f"socket,id=fs,path={self.path('fs')}",
                     "-device", "vhost-user-fs-pci,chardev=fs,tag=root,queue-size=1024"]
        if incoming:
            argv += ["-incoming", "defer"]
        self.qemu = subprocess.Popen(argv)
        self.serial = connect(self.path("ser"))
        self.monitor = connect(self.path("qmp")).makefile("rw")
        json.loads(self.monitor.readline())
        self.command("qmp_capabilities")
        self.buffer = b""

    def path(self, what):
        return os.path.join(self.work, f"{self.name}.{what}")

    def start_virtiofsd(self):
        process = subprocess.Popen(["/usr/lib/qemu/virtiofsd", f"--socket-path={self.path('fs')}", "-o",
                                    f"source={os.path.join(self.work, 'share')}", "-o", "cache=auto",
                                    "-o", "log_level=err"], stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(self.path("fs")), "virtiofsd's socket")
        return process

    def command(self, name, **arguments):
        self.monitor.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
        self.monitor.flush()
        while True:
            reply = json.loads(self.monitor.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']['desc']}")

    def read_line_with(self, word, timeout=300):
        deadline = time.time() + timeout
        self.serial.settimeout(1)
        while True:
            lines = self.buffer.split(b"\n")
            for i, line in enumerate(lines[:-1]):
                if word.encode() in line:
                    self.buffer = b"\n".join(lines[i + 1:])
                    return line.decode(errors="replace").strip()
            if time.time() > deadline:
                raise TimeoutError(f"{self.name}: no '{word}' on the serial port: {self.buffer[-200:]!r}")
            try:
                data = self.serial.recv(4096)
            except socket.timeout:
                continue
            if not data:
                raise EOFError(f"{self.name}: the serial port closed")
            self.buffer += data

    def identity(self):
        self.serial.sendall(b"x\n")
        _, boot_id, random_bytes, clock = self.read_line_with("id ").split()
        return boot_id, random_bytes, int(clock)

    def footprint_mib(self, ram):
        """QEMU's proportional set size outside the guest's RAM, plus the RAM file's pages in memory
        (mapped or not: a restored guest has not touched all of them yet)."""
        outside, in_ram = 0, False
        with open(f"/proc/{self.qemu.pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if "-" in fields[0] and len(fields) >= 5:
                    in_ram = len(fields) >= 6 and fields[5] == ram
                elif fields[0] == "Pss:" and not in_ram:
                    outside += int(fields[1])
        return outside / 1024, os.stat(ram).st_blocks * 512 / 2**20

    def end(self):
        self.qemu.kill()
        self.qemu.wait()
        if self.virtiofsd:
            self.virtiofsd.kill()
            self.virtiofsd.wait()


def connect(path):
    sock = socket.socket(socket.AF_UNIX)
    wait_until(lambda: try_connect(sock, path), path)
    return sock


def try_connect(sock, path):
    try:
        sock.connect(path)
        return True
    except OSError:
        return False


def wait_until(condition, what, timeout=30):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise TimeoutError(what)
        time.sleep(0.002)


def migration_done(vm):
    status = vm.command("query-migrate").get("status")
    if status == "failed":
        raise RuntimeError(f"{vm.name}: migration failed")
    return status == "completed"


def main():
    ram_dir = tempfile.mkdtemp(prefix="runcvm-bench-template.", dir="/dev/shm")
    work = tempfile.mkdtemp(prefix="runcvm-bench-template.")
    try:
        version, kernel_image = prepare(work)
        print(f"Debian's {version}, q35, 2 vCPUs, {MEMORY_MIB} MiB, TCG; {RUNS} runs each, medians")

        cold_ms, parked_ms, cold_pss = [], [], []
        for i in range(RUNS):
            start = time.time()
            vm = Vm(work, f"cold{i}", kernel_image, os.path.join(ram_dir, f"cold{i}"), root=True)
            vm.read_line_with("parked")
            parked_ms.append((time.time() - start) * 1000)
            vm.read_line_with("mounted")
            cold_ms.append((time.time() - start) * 1000)
            time.sleep(1)
            cold_pss.append(vm.footprint_mib(os.path.join(ram_dir, f"cold{i}")))
            vm.end()
            os.unlink(os.path.join(ram_dir, f"cold{i}"))

        start = time.time()
        template = Vm(work, "template", kernel_image, os.path.join(ram_dir, "template"))
        template.read_line_with("parked")
        template.command("stop")
        template.command("migrate-set-capabilities", capabilities=[{"capability": "x-ignore-shared", "state": True}])
        template.command("migrate", uri=f"exec:cat >{os.path.join(ram_dir, 'template.state')}")
        wait_until(lambda: migration_done(template), "the template's migration")
        build_ms = (time.time() - start) * 1000
        template.end()
        sizes = {f: os.stat(os.path.join(ram_dir, f)).st_blocks * 512 / 2**20 for f in ["template", "template.state"]}

        copy_ms, load_ms, mounted_ms, clone_pss, clones = [], [], [], [], []
        for i in range(RUNS):
            ram = os.path.join(ram_dir, f"clone{i}")
            start = time.time()
            run("cp", "--sparse=always", os.path.join(ram_dir, "template"), ram)
            copy_ms.append((time.time() - start) * 1000)
            vm = Vm(work, f"clone{i}", kernel_image, ram, incoming=True)
            vm.command("migrate-set-capabilities", capabilities=[{"capability": "x-ignore-shared", "state": True}])
            vm.command("migrate-incoming", uri=f"exec:cat {os.path.join(ram_dir, 'template.state')}")
            wait_until(lambda: migration_done(vm), "the clone's load")
            load_ms.append((time.time() - start) * 1000)
            vm.virtiofsd = vm.start_virtiofsd()
            vm.command("chardev-add", id="fs",
                       backend={"type": "socket", "data": {"addr": {"type": "unix", "data": {"path": vm.path("fs")}},
                                                           "server": False}})
            vm.command("device_add", driver="vhost-user-fs-pci", id="root", chardev="fs", tag="root", bus="rp1")
            vm.command("cont")
            vm.read_line_with("mounted")
            mounted_ms.append((time.time() - start) * 1000)
            time.sleep(1)
            clone_pss.append(vm.footprint_mib(ram))
            clones.append(vm.identity() + (int(time.time()),))
            vm.end()
            os.unlink(ram)

        cold, restored = statistics.median(cold_ms), statistics.median(mounted_ms)

        def memory(footprints):
            qemu, ram = statistics.median(f[0] for f in footprints), statistics.median(f[1] for f in footprints)
            return f"memory {qemu + ram:4.0f} MiB (QEMU {qemu:.0f}, guest RAM {ram:.0f})"

        print(f"cold boot to the root mounted (baseline): {cold:6.0f} ms   {memory(cold_pss)}")
        print(f"  of which: the modules loaded by {statistics.median(parked_ms):.0f} ms")
        print(f"template built (boot to parked, saved):   {build_ms:6.0f} ms   RAM file {sizes['template']:.0f} MiB "
              f"in use, stream {sizes['template.state'] * 1024:.0f} KiB")
        print(f"restored to the root mounted:              {restored:6.0f} ms   {memory(clone_pss)}"
              f"   ratio to cold {restored / cold:.2f}")
        print(f"  of which: RAM file copied {statistics.median(copy_ms):.0f} ms, stream loaded by "
              f"{statistics.median(load_ms):.0f} ms, then hot-plug, resume and mount")
        boot_ids = {c[0] for c in clones}
        randoms = {c[1] for c in clones}
        print(f"clones: {len(boot_ids)} boot_ids and {len(randoms)} random byte strings among {len(clones)}; "
              f"guest clock behind the host by {statistics.median(c[3] - c[2] for c in clones)} s (the template's time)")
    finally:
        shutil.rmtree(ram_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
