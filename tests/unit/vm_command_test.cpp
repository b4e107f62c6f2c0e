// runcvm-init's command lines for QEMU (container/runcvm-init/vm_command), the TSC rate it tells
// microvm's kernel, and the RUNCVM_DISKS checks before the disks reach QEMU (disks).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>

#include "container/runcvm-init/container_root.hpp"
#include "container/runcvm-init/disks.hpp"
#include "container/runcvm-init/tsc_rate.hpp"
#include "container/runcvm-init/vm_command.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

namespace {
handoff::Launch sample_launch() {
  handoff::Launch launch = test::bundle_kernel_launch();
  launch.process.args = {"uname", "-r"};
  launch.cpus = 2;
  launch.qemu.machine = "q35";
  return launch;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}
}  // namespace

TEST_CASE("the QEMU command line for TCG and KVM", "[guest][qemu]") {
  container_init::BundleLayout bundle;
  handoff::Launch launch = sample_launch();
  CHECK(joined(container_init::qemu_command(launch, bundle, false, {launch.kernel.vmlinuz, launch.kernel.initrd})) ==
        "/opt/runcvm/lib/ld-linux-x86-64.so.2 --library-path /opt/runcvm/lib /opt/runcvm/libexec/qemu-system-x86_64 "
        "-L /opt/runcvm/share/qemu -nodefaults -no-user-config -display none -no-reboot "
        "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny -machine q35 -accel "
        "tcg,tb-size=128 "
        "-cpu max -smp 2 -m 544M -object memory-backend-memfd,id=mem,size=544M,share=on -numa node,memdev=mem "
        "-chardev socket,id=fs,path=/.runcvm/helper-sockets/virtiofs.sock -device "
        "vhost-user-fs-pci,chardev=fs,tag=runcvm-root,queue-size=1024 "
        "-chardev socket,id=channel,path=/.runcvm/helper-sockets/channel.sock -device virtio-serial-pci "
        "-device virtserialport,chardev=channel,name=org.runcvm.channel "
        "-chardev socket,id=exec,path=/.runcvm/helper-sockets/exec-port.sock -device "
        "virtserialport,chardev=exec,name=org.runcvm.exec "
        "-kernel /opt/runcvm/kernels/debian/6.1.0-56-amd64/vmlinuz -initrd "
        "/opt/runcvm/kernels/debian/6.1.0-56-amd64/initrd "
        "-append console=ttyS0 panic=-1 reboot=t i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd cryptomgr.notests "
        "no_timer_check tsc=reliable quiet loglevel=0 runcvm.root=runcvm-root "
        "runcvm.init=/opt/runcvm/bin/runcvm-vm-init "
        "-chardev socket,id=qmp,path=/.runcvm/helper-sockets/qmp.sock -mon chardev=qmp,mode=control "
        "-device pcie-root-port,id=runcvm-slot0,chassis=1,io-reserve=0 "
        "-device pcie-root-port,id=runcvm-slot1,chassis=2,io-reserve=0 "
        "-serial none -device pvpanic -action panic=exit-failure -device virtio-balloon-pci,free-page-reporting=on");
  CHECK(container_init::direct_boot_image_path(launch.kernel) == "/opt/runcvm/kernels/debian/6.1.0-56-amd64/vmlinux");
  CHECK(joined(container_init::qemu_command(launch, bundle, false, {"/k/vmlinux", launch.kernel.initrd}))
            .find("-kernel /k/vmlinux -initrd") != std::string::npos);
  auto kvm = container_init::qemu_command(launch, bundle, true, {launch.kernel.vmlinuz, launch.kernel.initrd});
  CHECK(joined(kvm).find("-machine q35 -accel kvm ") != std::string::npos);
  CHECK(std::find(kvm.begin(), kvm.end(), "host,-arch-capabilities") != kvm.end());

  launch.qemu.machine = "pc";
  launch.qemu.cpu = "Skylake-Server";
  launch.qemu.accel = "tcg";
  launch.kernel.debug = true;
  launch.kernel.append = "systemd.unit=rescue.target";
  // QEMU writes its own output to descriptors runcvm-init opened, as fd sets: it may not reopen
  // the container's stdout or stderr by path.
  container_init::BootFiles with_console{launch.kernel.vmlinuz, launch.kernel.initrd};
  with_console.console_fd = 12;
  CHECK(container_init::console_sink(launch) == container_init::ConsoleSink::container_stderr);
  CHECK_THROWS_WITH(container_init::qemu_command(launch, bundle, true, {launch.kernel.vmlinuz, launch.kernel.initrd}),
                    "QEMU's command: the serial console has no descriptor");
  auto custom = container_init::qemu_command(launch, bundle, true, with_console);
  CHECK(joined(custom).find("-machine pc -accel tcg,tb-size=128 ") != std::string::npos);  // an explicit accel wins
  CHECK(std::find(custom.begin(), custom.end(), "Skylake-Server") != custom.end());
  CHECK(container_init::kernel_command_line(launch, bundle) ==
        "console=ttyS0 panic=-1 reboot=t i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd cryptomgr.notests "
        "no_timer_check tsc=reliable runcvm.debug runcvm.root=runcvm-root "
        "runcvm.init=/opt/runcvm/bin/runcvm-vm-init systemd.unit=rescue.target");
  CHECK_THAT(joined(custom),
             ContainsSubstring("-add-fd fd=12,set=1000 -chardev file,id=console,append=on,path=/dev/fdset/1000 "
                               "-serial chardev:console"));
  CHECK_THAT(joined(custom), !ContainsSubstring("/proc/self/fd"));
  CHECK(joined(custom).find("isa-debugcon") == std::string::npos);
  launch.kernel.debug = false;
  launch.exec_init = true;  // systemd as PID 1: the console is the container's stdout
  CHECK(container_init::console_sink(launch) == container_init::ConsoleSink::container_stdout);
  CHECK_THAT(joined(container_init::qemu_command(launch, bundle, false, with_console)),
             ContainsSubstring("-chardev file,id=console,append=on,path=/dev/fdset/1000 -serial chardev:console"));
  launch.exec_init = false;
  CHECK(container_init::console_sink(launch) == container_init::ConsoleSink::none);
  launch.qemu.bios_debug = true;
  CHECK_THROWS_WITH(container_init::qemu_command(launch, bundle, false, {launch.kernel.vmlinuz, launch.kernel.initrd}),
                    "QEMU's command: SeaBIOS's log has no descriptor");
  container_init::BootFiles with_bios_log{launch.kernel.vmlinuz, launch.kernel.initrd};
  with_bios_log.bios_log_fd = 13;
  CHECK_THAT(joined(container_init::qemu_command(launch, bundle, false, with_bios_log)),
             ContainsSubstring("-add-fd fd=13,set=1001 -chardev file,id=bios,append=on,path=/dev/fdset/1001 -device "
                               "isa-debugcon,iobase=0x402,chardev=bios"));
  launch.qemu.bios_debug = false;

  // The image's own kernel: loaded from descriptors runcvm-init opened, booted through runcvm's
  // initramfs built for it (image_initramfs.hpp), which reads runcvm.root= and runcvm.init=.
  launch.kernel.source = "image";
  launch.kernel.debug = false;
  launch.kernel.append = "";
  CHECK(container_init::console_sink(launch) == container_init::ConsoleSink::runcvm_init);
  container_init::BootFiles image_boot{"/proc/self/fd/7", "/proc/self/fd/8"};
  image_boot.console_fd = 9;
  CHECK_THAT(joined(container_init::qemu_command(launch, bundle, false, image_boot)),
             ContainsSubstring("-kernel /proc/self/fd/7 -initrd /proc/self/fd/8 -append console=ttyS0"));
  CHECK_THAT(container_init::kernel_command_line(launch, bundle),
             ContainsSubstring("quiet loglevel=0 runcvm.root=runcvm-root runcvm.init=/opt/runcvm/bin/runcvm-vm-init"));
  // A --read-only root stays read-write in the VM, as for bundle kernels: the container's side makes it read-only.
  launch.read_only_root = true;
  CHECK(container_init::kernel_command_line(launch, bundle).find("root=runcvm-root rootfstype") == std::string::npos);
  CHECK(joined(container_init::virtiofsd_command(launch, bundle))
            .find("-o source=/share -o cache=auto -o sandbox=chroot") != std::string::npos);
  launch.virtiofs_cache = "always";
  CHECK(joined(container_init::virtiofsd_command(launch, bundle)).find(" -o cache=always ") != std::string::npos);
}

TEST_CASE("a bundle kernel that mounts its root itself boots without an initramfs", "[guest][qemu]") {
  container_init::BundleLayout bundle;
  handoff::Launch launch = sample_launch();
  launch.kernel.initrd = "";
  std::string argv = joined(container_init::qemu_command(launch, bundle, false, {"/k/vmlinux", ""}));
  CHECK_THAT(argv, ContainsSubstring("-kernel /k/vmlinux -append console=ttyS0"));
  CHECK(argv.find("-initrd") == std::string::npos);
  std::string line = container_init::kernel_command_line(launch, bundle);
  CHECK_THAT(line, ContainsSubstring(" root=runcvm-root rootfstype=virtiofs rw init=/opt/runcvm/bin/runcvm-vm-init"));
  CHECK(line.find("runcvm.root=") == std::string::npos);  // nobody is there to read it
  // A --read-only root stays read-write in the VM, as with the initramfs: the container's side makes it read-only.
  launch.read_only_root = true;
  CHECK_THAT(container_init::kernel_command_line(launch, bundle), ContainsSubstring("rootfstype=virtiofs rw init="));
}

TEST_CASE("microvm: virtio-mmio devices, virtio 1.0, and the kernel told the TSC's rate", "[guest][qemu]") {
  container_init::BundleLayout bundle;
  handoff::Launch launch = sample_launch();
  launch.qemu.machine = "microvm";
  launch.disks.push_back({"/disks/a", "/a", "ext4", std::nullopt});
  container_init::BootFiles boot{launch.kernel.vmlinuz, launch.kernel.initrd};
  boot.tsc_khz = 2096000;
  boot.disks = {{9, 10}};
  std::string line =
      joined(container_init::qemu_command(launch, bundle, false, boot, {{7, "02:42:ac:11:00:02", 1500}}));
  CHECK_THAT(line, ContainsSubstring("-machine microvm -accel tcg,tb-size=128"));
  CHECK_THAT(line, ContainsSubstring("-device vhost-user-fs-device,chardev=fs,tag=runcvm-root"));
  CHECK_THAT(line, ContainsSubstring("-device virtio-serial-device -device virtserialport,chardev=channel"));
  CHECK_THAT(line,
             ContainsSubstring("-add-fd fd=9,set=1 -add-fd fd=10,set=1 -drive file=/dev/fdset/1,if=none,id=disk0,"));
  CHECK_THAT(line, ContainsSubstring("-device virtio-blk-device,drive=disk0,serial=runcvm-disk0"));
  CHECK_THAT(line,
             ContainsSubstring("-device virtio-net-device,id=nic0,netdev=net0,mac=02:42:ac:11:00:02,host_mtu=1500 "));
  CHECK_THAT(line, ContainsSubstring("-global virtio-mmio.force-legacy=false"));
  CHECK_THAT(line, ContainsSubstring("tsc=reliable tsc_early_khz=2096000 quiet"));
  CHECK_THAT(line, ContainsSubstring("-device virtio-balloon-device,free-page-reporting=on"));
  CHECK_THAT(line, !ContainsSubstring("-pci") && !ContainsSubstring("romfile") && !ContainsSubstring("pvpanic"));
  // No PCI, no hot-plug: neither QEMU's monitor nor slots for cards connected later.
  CHECK_THAT(line, !ContainsSubstring("qmp") && !ContainsSubstring("pcie-root-port"));
  // pc hot-plugs on its root bus: the monitor, no root ports.
  launch.qemu.machine = "pc";
  line = joined(container_init::qemu_command(launch, bundle, false, boot, {}));
  CHECK_THAT(line, ContainsSubstring("-mon chardev=qmp,mode=control") && !ContainsSubstring("pcie-root-port"));
  // q35 calibrates against its HPET: no rate given, no legacy switch.
  launch.qemu.machine = "q35";
  boot.tsc_khz = 0;
  line = joined(container_init::qemu_command(launch, bundle, false, boot, {{7, "02:42:ac:11:00:02", 1500}}));
  CHECK_THAT(line,
             ContainsSubstring("virtio-net-pci,id=nic0,netdev=net0,mac=02:42:ac:11:00:02,host_mtu=1500,romfile="));
  CHECK_THAT(line, !ContainsSubstring("tsc_early_khz") && !ContainsSubstring("force-legacy"));
}

TEST_CASE("the host's TSC rate is measured in kHz", "[guest][qemu]") {
  // Any x86-64 machine this runs on has a TSC between 500 MHz and 10 GHz.
  auto khz = container_init::measure_tsc_khz();
  CHECK(khz > 500'000);
  CHECK(khz < 10'000'000);
}

TEST_CASE("RUNCVM_DISKS: every disk is checked before any is created", "[guest][disks]") {
  std::vector<handoff::Disk> disks = {{"/disks/existing", "/data", "ext3", std::nullopt},
                                      {"/disks/new", "/srv", "ext4", 256ull << 20},
                                      {"/disks/no-size", "/a", "ext4", std::nullopt},
                                      {"/disks/new-ext2", "/b", "ext2", 1ull << 30}};
  auto exists = [](const std::string& path) { return path == "/disks/existing"; };
  auto problems = container_init::disk_problems(disks, exists);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] ==
        "RUNCVM_DISKS: entry 3 \"/disks/no-size\": the file does not exist and no <size> was given to create it");
  CHECK(problems[1] ==
        "RUNCVM_DISKS: entry 4 \"/disks/new-ext2\": the file does not exist; only ext4 disks can be created (got "
        "\"ext2\")");
  CHECK(container_init::disk_problems({disks[0], disks[1]}, exists).empty());

  // Each disk is a virtio-blk device the VM finds by its serial.
  handoff::Launch launch = sample_launch();
  launch.disks = {disks[0], disks[1]};
  // QEMU opens each through the descriptor runcvm-init opened, never by a path in the VM's share.
  container_init::BootFiles boot{launch.kernel.vmlinuz, launch.kernel.initrd};
  boot.disks = {{11, 21}, {12, 22}};
  std::string command = joined(container_init::qemu_command(launch, container_init::BundleLayout{}, false, boot));
  CHECK(command.find("-add-fd fd=11,set=1 -add-fd fd=21,set=1 "
                     "-drive file=/dev/fdset/1,if=none,id=disk0,format=raw,discard=unmap,werror=report,rerror=report "
                     "-device virtio-blk-pci,drive=disk0,serial=runcvm-disk0 "
                     "-add-fd fd=12,set=2 -add-fd fd=22,set=2 "
                     "-drive file=/dev/fdset/2,if=none,id=disk1,format=raw,discard=unmap,werror=report,rerror=report "
                     "-device virtio-blk-pci,drive=disk1,serial=runcvm-disk1") != std::string::npos);
  CHECK(command.find("/share/disks") == std::string::npos);
  boot.disks.pop_back();
  CHECK_THROWS_WITH(container_init::qemu_command(launch, container_init::BundleLayout{}, false, boot),
                    "QEMU's command: 2 disks but 1 opened");
}

TEST_CASE("RUNCVM_DISKS: no disk on the mounts that are runcvm's or the kernel's", "[guest][disks]") {
  // proc(5)'s mountinfo, as runcvm-init sees it before the VM starts (a KVM verdict bind included).
  std::string mountinfo =
      "600 500 0:52 / / rw,relatime - overlay overlay rw\n"
      "601 600 0:55 / /proc rw,nosuid - proc proc rw\n"
      "602 600 0:56 / /dev rw,nosuid - tmpfs tmpfs rw\n"
      "603 602 0:57 / /dev/pts rw - devpts devpts rw\n"
      "604 600 0:58 / /sys ro - sysfs sysfs ro\n"
      "605 600 0:59 / /.runcvm rw - tmpfs tmpfs rw\n"
      "606 605 0:24 /runcvm/kvm /.runcvm/kvm rw,noexec - tmpfs tmpfs rw\n"
      "607 600 8:1 /opt/runcvm /opt/runcvm ro - ext4 /dev/sda1 rw\n"
      "608 600 8:1 /srv/disks /disks rw - ext4 /dev/sda1 rw\n"
      "609 600 0:60 / /devices rw - tmpfs tmpfs rw\n"
      "610 600 8:1 /x /procedures rw - ext4 /dev/sda1 rw\n";
  CHECK(container_init::runtime_mount_ids(mountinfo) == std::set<std::uint64_t>{601, 602, 603, 604, 605, 606, 607});
}

TEST_CASE("RUNCVM_BALLOON: a balloon that reports freed pages, or none", "[guest][qemu]") {
  container_init::BundleLayout bundle;
  handoff::Launch launch = sample_launch();
  container_init::BootFiles boot{launch.kernel.vmlinuz, launch.kernel.initrd};
  std::string booted = joined(container_init::qemu_command(launch, bundle, false, boot));
  CHECK_THAT(booted, ContainsSubstring("-device virtio-balloon-pci,free-page-reporting=on"));
  // A template and its copies carry the same device, in the same place: a copy's machine is the template's.
  boot.ram_fd = 11;
  boot.incoming_fd = 12;
  std::string built =
      joined(container_init::qemu_command(launch, bundle, false, boot, {}, container_init::VmStart::build_template));
  std::string restored =
      joined(container_init::qemu_command(launch, bundle, false, boot, {}, container_init::VmStart::restore));
  auto devices_before_balloon = [](const std::string& line) {
    std::string devices;
    for (std::size_t at = line.find("-device "); at != std::string::npos; at = line.find("-device ", at + 1)) {
      std::string device = line.substr(at + 8, line.find(' ', at + 8) - at - 8);
      if (device.starts_with("virtio-balloon")) return devices;
      devices += device + ";";
    }
    return std::string("no balloon");
  };
  CHECK(devices_before_balloon(built) == devices_before_balloon(restored));
  CHECK(devices_before_balloon(built) != "no balloon");
  // Huge pages stay the VM's: given back, they could be gone from the pool when the guest touches them again.
  launch.hugetlb = true;
  CHECK_THAT(joined(container_init::qemu_command(launch, bundle, false, {launch.kernel.vmlinuz, launch.kernel.initrd})),
             !ContainsSubstring("balloon"));
  launch.hugetlb = false;
  launch.qemu.balloon = false;
  CHECK_THAT(joined(container_init::qemu_command(launch, bundle, false, {launch.kernel.vmlinuz, launch.kernel.initrd})),
             !ContainsSubstring("balloon"));
}
