#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>

#include "channel/boot_stages.hpp"
#include "channel/frame.hpp"
#include "channel/session.hpp"
#include "common/error.hpp"
#include "common/unix_socket.hpp"
#include "guest/runcvm-init/disks.hpp"
#include "guest/runcvm-init/tsc_rate.hpp"
#include "guest/runcvm-init/vm_command.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("channel frames survive being split anywhere", "[channel]") {
  std::string binary("\0\xff\n\x01 bytes", 10);
  std::string stream = channel::encode(channel::FrameType::stdout_data, binary) +
                       channel::encode(channel::FrameType::stderr_data, "err") +
                       channel::encode_u32(channel::FrameType::exit_status, 137) + channel::encode_resize(40, 132) +
                       channel::encode(channel::FrameType::stdin_eof);
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    channel::Decoder decoder;
    std::vector<channel::Frame> frames;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      decoder.feed(std::string_view(stream).substr(at, chunk));
      while (auto frame = decoder.next()) frames.push_back(*frame);
    }
    REQUIRE(frames.size() == 5);
    CHECK(frames[0].payload == binary);
    CHECK(frames[1].type == channel::FrameType::stderr_data);
    CHECK(channel::payload_u32(frames[2]) == 137u);
    CHECK(frames[3].payload == std::string("\x00\x28\x00\x84", 4));
    CHECK(frames[4].payload.empty());
  }
}

TEST_CASE("malformed channel input is an error, not a crash", "[channel]") {
  channel::Decoder unknown;
  unknown.feed(std::string("\x42\0\0\0\0", 5));
  CHECK_THROWS_WITH(unknown.next(), "channel: unknown frame type 66");
  channel::Decoder huge;
  huge.feed(std::string("\x03\x7f\xff\xff\xff", 5));
  CHECK_THROWS_WITH(huge.next(), ContainsSubstring("too large"));
  CHECK_THROWS_AS(channel::payload_u32({channel::FrameType::exit_status, "12"}), Error);
}

TEST_CASE("exec sessions share a port: frames name their session", "[channel][exec]") {
  std::string stream = channel::encode_session(channel::FrameType::exec_open, 7, "{\"args\":[\"true\"]}") +
                       channel::encode_session_u32(channel::FrameType::window, 0xfffffffe, 65536) +
                       channel::encode_session(channel::FrameType::stdin_eof, 3);
  channel::Decoder decoder;
  decoder.feed(stream);
  std::vector<channel::SessionFrame> frames;
  while (auto frame = decoder.next()) frames.push_back(channel::split_session(*frame));
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].type == channel::FrameType::exec_open);
  CHECK(frames[0].session == 7u);
  CHECK(frames[0].payload == "{\"args\":[\"true\"]}");
  CHECK(frames[1].session == 0xfffffffeu);
  CHECK(channel::payload_u32({frames[1].type, frames[1].payload}) == 65536u);
  CHECK(frames[2].session == 3u);
  CHECK(frames[2].payload.empty());
  CHECK_THROWS_WITH(channel::split_session({channel::FrameType::window, "ab"}), ContainsSubstring("no session id"));
  CHECK(channel::session_u32(frames[1]) == 65536u);
  CHECK_FALSE(channel::session_u32(frames[2]));  // no value: ignored, not fatal
  CHECK(channel::decode_resize(channel::encode_resize(40, 132).substr(5)) == std::pair{40u, 132u});
  CHECK_FALSE(channel::decode_resize("abc"));
}

TEST_CASE("a session's window bounds what is in flight and credit frees it", "[channel][exec]") {
  channel::SendWindow window;
  CHECK(window.available() == channel::kSessionWindow);
  window.sent(channel::kSessionWindow - 10);
  CHECK(window.available() == 10);
  window.sent(100);  // a frame may overshoot; the sender then waits
  CHECK(window.available() == 0);
  window.credited(200);
  CHECK(window.available() == 110);
  window.credited(channel::kSessionWindow * 4);  // a peer's excess credit is capped
  CHECK(window.available() == channel::kSessionWindow);

  // Credit is released only once a data frame has been written out whole.
  channel::CreditedQueue queue;
  queue.push(std::string(10, 'a'), 5);
  queue.push(std::string(4, 'b'), 0);  // an exit status: no credit
  queue.push(std::string(6, 'c'), 1);
  CHECK(queue.consumed(9) == 0);
  CHECK(queue.pending() == "a" + std::string(4, 'b') + std::string(6, 'c'));
  CHECK(queue.consumed(1) == 5);
  CHECK(queue.consumed(9) == 0);
  CHECK(queue.consumed(1) == 1);
  CHECK(queue.empty());
}

namespace {
handoff::Launch sample_launch() {
  handoff::Launch launch;
  launch.process.args = {"uname", "-r"};
  launch.cpus = 2;
  launch.memory_mib = 554;
  launch.kernel = {"bundle", "debian", "6.1.0-56-amd64", "/opt/runcvm/kernels/debian/6.1.0-56-amd64/vmlinuz",
                   "/opt/runcvm/kernels/debian/6.1.0-56-amd64/initrd", "/lib/modules/6.1.0-56-amd64", "", false};
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
        "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny -machine q35,accel=tcg "
        "-cpu max -smp 2 -m 554M -object memory-backend-memfd,id=mem,size=554M,share=on -numa node,memdev=mem "
        "-chardev socket,id=fs,path=/.runcvm/virtiofs.sock -device vhost-user-fs-pci,chardev=fs,tag=runcvm-root,queue-size=1024 "
        "-chardev socket,id=channel,path=/.runcvm/channel.sock -device virtio-serial-pci "
        "-device virtserialport,chardev=channel,name=org.runcvm.channel "
        "-chardev socket,id=exec,path=/.runcvm/exec-port.sock -device virtserialport,chardev=exec,name=org.runcvm.exec "
        "-kernel /opt/runcvm/kernels/debian/6.1.0-56-amd64/vmlinuz -initrd /opt/runcvm/kernels/debian/6.1.0-56-amd64/initrd "
        "-append console=ttyS0 panic=-1 reboot=t i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd cryptomgr.notests no_timer_check tsc=reliable quiet loglevel=0 runcvm.root=runcvm-root "
        "runcvm.init=/opt/runcvm/bin/runcvm-vm-init -serial none -device pvpanic -action panic=exit-failure");
  CHECK(container_init::direct_boot_image_path(launch.kernel) == "/opt/runcvm/kernels/debian/6.1.0-56-amd64/vmlinux");
  CHECK(joined(container_init::qemu_command(launch, bundle, false, {"/k/vmlinux", launch.kernel.initrd})).find("-kernel /k/vmlinux -initrd") !=
        std::string::npos);
  auto kvm = container_init::qemu_command(launch, bundle, true, {launch.kernel.vmlinuz, launch.kernel.initrd});
  CHECK(std::find(kvm.begin(), kvm.end(), "q35,accel=kvm") != kvm.end());
  CHECK(std::find(kvm.begin(), kvm.end(), "host,-arch-capabilities") != kvm.end());

  launch.qemu.machine = "pc";
  launch.qemu.cpu = "Skylake-Server";
  launch.qemu.accel = "tcg";
  launch.kernel.debug = true;
  launch.kernel.append = "systemd.unit=rescue.target";
  auto custom = container_init::qemu_command(launch, bundle, true, {launch.kernel.vmlinuz, launch.kernel.initrd});
  CHECK(std::find(custom.begin(), custom.end(), "pc,accel=tcg") != custom.end());  // an explicit accel wins
  CHECK(std::find(custom.begin(), custom.end(), "Skylake-Server") != custom.end());
  CHECK(container_init::kernel_command_line(launch, bundle) ==
        "console=ttyS0 panic=-1 reboot=t i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd cryptomgr.notests no_timer_check tsc=reliable runcvm.debug runcvm.root=runcvm-root "
        "runcvm.init=/opt/runcvm/bin/runcvm-vm-init systemd.unit=rescue.target");
  CHECK(joined(custom).find("-serial chardev:console") != std::string::npos);
  CHECK(joined(custom).find("isa-debugcon") == std::string::npos);
  launch.kernel.debug = false;
  launch.exec_init = true;  // systemd as PID 1: the console is the container's stdout
  CHECK(joined(container_init::qemu_command(launch, bundle, false, {launch.kernel.vmlinuz, launch.kernel.initrd}))
            .find("-chardev file,id=console,path=/proc/self/fd/1 -serial chardev:console") != std::string::npos);
  launch.exec_init = false;
  launch.qemu.bios_debug = true;
  CHECK(joined(container_init::qemu_command(launch, bundle, false, {launch.kernel.vmlinuz, launch.kernel.initrd})).find("-device isa-debugcon,iobase=0x402,chardev=bios") !=
        std::string::npos);

  // The image's own kernel: loaded from descriptors runcvm-init opened, booted through its own
  // initramfs, which reads root=, rootfstype= and init=.
  launch.kernel.source = "image";
  launch.kernel.debug = false;
  launch.kernel.append = "";
  CHECK_THAT(joined(container_init::qemu_command(launch, bundle, false, {"/proc/self/fd/7", "/proc/self/fd/8"})),
             ContainsSubstring("-kernel /proc/self/fd/7 -initrd /proc/self/fd/8 -append console=ttyS0"));
  CHECK_THAT(container_init::kernel_command_line(launch, bundle),
             ContainsSubstring("quiet loglevel=0 root=runcvm-root rootfstype=virtiofs rw noresume init=/opt/runcvm/bin/runcvm-vm-init"));
  launch.read_only_root = true;
  CHECK_THAT(container_init::kernel_command_line(launch, bundle), ContainsSubstring("rootfstype=virtiofs ro noresume"));
  CHECK(joined(container_init::virtiofsd_command(bundle, false)).find("-o source=/share -o cache=auto -o sandbox=chroot") !=
        std::string::npos);
}

TEST_CASE("microvm: virtio-mmio devices, virtio 1.0, and the kernel told the TSC's rate", "[guest][qemu]") {
  container_init::BundleLayout bundle;
  handoff::Launch launch = sample_launch();
  launch.qemu.machine = "microvm";
  launch.disks.push_back({"/disks/a", "/a", "ext4", std::nullopt});
  container_init::BootFiles boot{launch.kernel.vmlinuz, launch.kernel.initrd};
  boot.tsc_khz = 2096000;
  std::string line = joined(container_init::qemu_command(launch, bundle, false, boot, {{7, "02:42:ac:11:00:02", 1500}}));
  CHECK_THAT(line, ContainsSubstring("-machine microvm,accel=tcg"));
  CHECK_THAT(line, ContainsSubstring("-device vhost-user-fs-device,chardev=fs,tag=runcvm-root"));
  CHECK_THAT(line, ContainsSubstring("-device virtio-serial-device -device virtserialport,chardev=channel"));
  CHECK_THAT(line, ContainsSubstring("-device virtio-blk-device,drive=disk0,serial=runcvm-disk0"));
  CHECK_THAT(line, ContainsSubstring("-device virtio-net-device,netdev=net0,mac=02:42:ac:11:00:02,host_mtu=1500 "));
  CHECK_THAT(line, ContainsSubstring("-global virtio-mmio.force-legacy=false"));
  CHECK_THAT(line, ContainsSubstring("tsc=reliable tsc_early_khz=2096000 quiet"));
  CHECK_THAT(line, !ContainsSubstring("-pci") && !ContainsSubstring("romfile") && !ContainsSubstring("pvpanic"));
  // q35 calibrates against its HPET: no rate given, no legacy switch.
  launch.qemu.machine = "q35";
  line = joined(container_init::qemu_command(launch, bundle, false, {launch.kernel.vmlinuz, launch.kernel.initrd}, {{7, "02:42:ac:11:00:02", 1500}}));
  CHECK_THAT(line, ContainsSubstring("virtio-net-pci,netdev=net0,mac=02:42:ac:11:00:02,host_mtu=1500,romfile="));
  CHECK_THAT(line, !ContainsSubstring("tsc_early_khz") && !ContainsSubstring("force-legacy"));
}

TEST_CASE("the host's TSC rate is measured in kHz", "[guest][qemu]") {
  // Any x86-64 machine this runs on has a TSC between 500 MHz and 10 GHz.
  auto khz = container_init::measure_tsc_khz();
  CHECK(khz > 500'000);
  CHECK(khz < 10'000'000);
}

TEST_CASE("unix socket paths too long for sun_path are refused, not cut short", "[common][socket]") {
  CHECK(std::string(unix_address("/.runcvm/exec.sock").sun_path) == "/.runcvm/exec.sock");
  CHECK_THROWS_WITH(unix_address("/" + std::string(120, 'x')), ContainsSubstring("is longer than 107 bytes"));
}

TEST_CASE("the guest's start-up stages travel as text and place on the host's clock", "[channel][timings]") {
  channel::GuestStages guest{1.5, 1.75, 1.8, 1.85, 1.9};
  std::string text = channel::format_guest_stages(guest);
  CHECK(text == "initramfs=1.500000 vm_init=1.750000 workload_start=1.800000 workload_exit=1.850000 sent=1.900000");
  auto back = channel::parse_guest_stages(text);
  CHECK(back.initramfs == 1.5);
  CHECK(back.sent == 1.9);

  // The report left the guest at its second 1.9 and arrived at host time 10.9 s: guest second 0 is
  // host time 9.0 s, QEMU (started at 8.6 s) took 400 ms before the kernel counted time.
  channel::HostStages host{8'590'000'000, 8'600'000'000, 10'900'000'000, 11'000'000'000};
  CHECK(channel::format_timings_line(host, guest) ==
        "runcvm: timings (ms): helpers=10 qemu+firmware=400 kernel=1500 initramfs=250 vm-init=50 workload=50 "
        "shutdown=150 total=2410 started_at=8590 ended_at=11000");

  CHECK_THROWS_WITH(channel::parse_guest_stages("initramfs=1 vm_init=x"), ContainsSubstring("vm_init=\"x\": expected seconds"));
  CHECK_THROWS_WITH(channel::parse_guest_stages("initramfs=1"), ContainsSubstring("missing vm_init"));
  CHECK_THROWS_WITH(channel::parse_guest_stages("bogus"), ContainsSubstring("\"bogus\": expected <stage>=<seconds>"));
  CHECK_THROWS_WITH(channel::parse_guest_stages("initramfs=-1"), ContainsSubstring("expected seconds"));
}

TEST_CASE("RUNCVM_DISKS: every disk is checked before any is created", "[guest][disks]") {
  std::vector<handoff::Disk> disks = {{"/disks/existing", "/data", "ext3", std::nullopt},
                                      {"/disks/new", "/srv", "ext4", 256ull << 20},
                                      {"/disks/no-size", "/a", "ext4", std::nullopt},
                                      {"/disks/new-ext2", "/b", "ext2", 1ull << 30}};
  auto exists = [](const std::string& path) { return path == "/disks/existing"; };
  auto problems = container_init::disk_problems(disks, exists);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == "RUNCVM_DISKS: entry 3 \"/disks/no-size\": the file does not exist and no <size> was given to create it");
  CHECK(problems[1] == "RUNCVM_DISKS: entry 4 \"/disks/new-ext2\": the file does not exist; only ext4 disks can be created (got \"ext2\")");
  CHECK(container_init::disk_problems({disks[0], disks[1]}, exists).empty());

  // Each disk is a virtio-blk device the VM finds by its serial.
  handoff::Launch launch = sample_launch();
  launch.disks = {disks[0], disks[1]};
  std::string command = joined(container_init::qemu_command(launch, container_init::BundleLayout{}, false, {launch.kernel.vmlinuz, launch.kernel.initrd}));
  CHECK(command.find("-drive file=/share/disks/existing,if=none,id=disk0,format=raw,discard=unmap,werror=report,rerror=report "
                     "-device virtio-blk-pci,drive=disk0,serial=runcvm-disk0 "
                     "-drive file=/share/disks/new,if=none,id=disk1,format=raw,discard=unmap,werror=report,rerror=report "
                     "-device virtio-blk-pci,drive=disk1,serial=runcvm-disk1") != std::string::npos);
}
