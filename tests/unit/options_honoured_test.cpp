// Every RUNCVM_* option and container flag is honoured, not only parsed: each changes what the
// guest programs do (the QEMU command line, the drivers and mount points of the VM) or what runc
// runs, and the table cannot grow an option that nothing past the parser reads.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/file.hpp"
#include "container/runcvm-init/console_tail.hpp"
#include "container/runcvm-init/hugepages.hpp"
#include "container/runcvm-init/vm_command.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/exec_request.hpp"
#include "handoff/machine.hpp"
#include "handoff/state_directory.hpp"
#include "handoff/vm_mounts.hpp"
#include "runtime/create_transform.hpp"
#include "runtime/exec_transform.hpp"
#include "runtime/options.hpp"
#include "tests/unit/support.hpp"
#include "vm/vm-init/kernel_modules.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using Json = nlohmann::json;

namespace {

handoff::Launch bundle_launch() { return test::bundle_kernel_launch(); }

std::string qemu_line(const handoff::Launch& launch) {
  std::string out;
  container_init::BootFiles boot{"/k/vmlinux", launch.kernel.initrd};
  for (std::size_t i = 0; i < launch.disks.size(); ++i)
    boot.disks.push_back({static_cast<int>(10 + i), static_cast<int>(20 + i)});
  for (const auto& a : container_init::qemu_command(launch, container_init::BundleLayout{}, false, boot))
    out += (out.empty() ? "" : " ") + a;
  return out;
}

// A docker run's spec (tests/runtime/golden/docker-plain) with `env` added, through the create
// transform, on a host without KVM whose bundle has a Debian kernel.
runtime::CreateResult create_with(const std::vector<std::string>& env, bool terminal = false,
                                  const std::function<void(runtime::CreateInput&)>& change = {}) {
  runtime::CreateInput input;
  input.spec = Json::parse(read_file(fs::path(RUNCVM_SOURCE_DIR) / "tests/runtime/golden/docker-plain/in.json"));
  input.spec["process"]["terminal"] = terminal;
  for (const auto& entry : env) input.spec["process"]["env"].push_back(entry);
  input.host.tun = runtime::DeviceNumber{10, 200};
  input.host.cpus = 4;
  input.host.bundle_root = "/opt/runcvm";
  input.image.os_id = "debian";
  input.bundle.kernels["debian"] = {{"6.1.0-56-amd64"}, "6.1.0-56-amd64", {}};
  input.launch_file = "/run/runcvm-launch.json";
  if (change) change(input);
  return runtime::transform_create(input);
}

// The leaves of a JSON document as "a.b.c" → value (arrays are leaves).
void flatten(const Json& value, const std::string& path, std::map<std::string, Json>& out) {
  if (value.is_object())
    for (const auto& [key, child] : value.items()) flatten(child, path.empty() ? key : path + "." + key, out);
  else
    out[path] = value;
}

std::set<std::string> changed_paths(const Json& before, const Json& after) {
  std::map<std::string, Json> a, b;
  flatten(before, "", a);
  flatten(after, "", b);
  std::set<std::string> out;
  for (const auto& [path, value] : b)
    if (!a.count(path) || a[path] != value) out.insert(path);
  for (const auto& [path, value] : a)
    if (!b.count(path)) out.insert(path);
  return out;
}

// The text of every source file and header the guest programs are built from, and of the handoff
// helpers they call (vnc_port, vm_mount_points, has_balloon).
std::string guest_sources() {
  std::string all;
  for (const char* dir : {"container", "vm", "handoff"})
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(RUNCVM_SOURCE_DIR) / dir))
      if (entry.path().extension() == ".cpp" || entry.path().extension() == ".hpp") all += read_file(entry.path());
  return all;
}

}  // namespace

TEST_CASE("every option in the table is read past the runtime's parser", "[options][honoured]") {
  // A value other than the default for each option. A new option without one fails here.
  const std::map<std::string, std::string> probes = {
      {"RUNCVM_KERNEL", "debian/6.1.0-56-amd64"},  // the default would pick the same: checked below
      {"RUNCVM_KERNEL_APPEND", "quiet=1"},
      {"RUNCVM_KERNEL_DEBUG", "1"},
      {"RUNCVM_BIOS_DEBUG", "1"},
      {"RUNCVM_KERNEL_MOUNT_LIB_MODULES", "1"},
      {"RUNCVM_DISKS", "/disks/a.img,/data,ext4,1G"},
      {"RUNCVM_CPUS", "3"},
      {"RUNCVM_MEM", "300M"},
      {"RUNCVM_DISPLAY_MODE", "vnc"},
      {"RUNCVM_QEMU_VGA", "std"},
      {"RUNCVM_QEMU_VNC_DISPLAY", "4"},
      {"RUNCVM_QEMU_USB", "1"},
      {"RUNCVM_QEMU_HOTPLUG_SLOTS", "5"},
      {"RUNCVM_QEMU_MACHINE", "pc"},
      {"RUNCVM_QEMU_CPU", "Skylake-Server"},
      {"RUNCVM_QEMU_ACCEL", "tcg"},
      {"RUNCVM_HUGETLB", "1"},
      {"RUNCVM_BALLOON", "0"},
      {"RUNCVM_CGROUPFS", "hybrid"},
      {"RUNCVM_VIRTIOFS_CACHE", "none"},
      {"RUNCVM_CAPS", "spec"},
      {"RUNCVM_TEMPLATE", "0"},
      {"RUNCVM_TIMINGS", "1"},
      {"RUNCVM_EXEC_TIMEOUT", "7"},
      {"RUNCVM_BREAK", "prenet"},
  };
  const std::string sources = guest_sources();
  // With a terminal, which RUNCVM_BREAK needs.
  runtime::CreateResult baseline = create_with({}, true);
  Json baseline_launch = Json::parse(handoff::to_json_text(baseline.launch));
  for (const auto& option : runtime::option_table()) {
    std::string name(option.name);
    INFO(name);
    auto probe = probes.find(name);
    REQUIRE(probe != probes.end());
    if (name == "RUNCVM_EXEC_TIMEOUT") {  // read at `exec`: the exec request's wait
      Json process = {
          {"args", {"sh"}}, {"env", {"RUNCVM_EXEC_TIMEOUT=7"}}, {"cwd", "/"}, {"user", {{"uid", 0}, {"gid", 0}}}};
      std::string variable = runtime::transform_exec(process)["env"][1].get<std::string>();
      std::string prefix = std::string(handoff::kExecRequestVariable) + "=";
      REQUIRE(variable.starts_with(prefix));
      CHECK(handoff::parse_exec_request(variable.substr(prefix.size())).wait_seconds == 7);
      continue;
    }
    std::vector<std::string> env = {name + "=" + probe->second};
    // Options that shape another's device act with it, as a user would set them.
    if (name == "RUNCVM_QEMU_VGA") env.push_back("RUNCVM_DISPLAY_MODE=vnc");
    runtime::CreateResult result = create_with(env, true);
    Json launch = Json::parse(handoff::to_json_text(result.launch));
    if (name == "RUNCVM_KERNEL") {  // same kernel as chosen by default: the choice is the option's
      CHECK(result.launch.kernel.dist == "debian");
      continue;
    }
    std::set<std::string> launch_changes = changed_paths(baseline_launch, launch);
    bool spec_changed = result.spec != baseline.spec;
    CHECK((spec_changed || !launch_changes.empty()));
    // Each launch field the option changed is read by the guest's code as `launch.<field>`.
    for (const auto& path : launch_changes) {
      if (name == "RUNCVM_QEMU_VGA" && path == "display_mode") continue;  // the companion option's
      INFO(path);
      // The workload's sets are read with the rest of its process (vm-init's workload.cpp).
      if (path.starts_with("process.capabilities.")) {
        CHECK(sources.find("p.capabilities") != std::string::npos);
        continue;
      }
      CHECK(sources.find("launch." + path) != std::string::npos);
    }
  }
}

TEST_CASE("the image's RUNCVM_CPUS, RUNCVM_MEM and RUNCVM_HUGETLB stay within the operator's limits",
          "[options][honoured][limits]") {
  auto on_host = [](runtime::CreateInput& input) { input.host.memory_mib = 8192; };
  auto limited = [&](std::int64_t memory, std::int64_t quota) {
    return [=](runtime::CreateInput& input) {
      on_host(input);
      if (memory) input.spec["linux"]["resources"]["memory"]["limit"] = memory;
      if (quota) input.spec["linux"]["resources"]["cpu"] = {{"quota", quota}, {"period", 100000}};
    };
  };
  // Without --cpus: the host's CPUs (4 here); with it, what it gives.
  CHECK(create_with({"RUNCVM_CPUS=4"}, false, on_host).launch.cpus == 4);
  CHECK_THROWS_WITH(
      create_with({"RUNCVM_CPUS=256"}, false, on_host),
      StartsWith(
          "RUNCVM_CPUS: 256 is more than the container may use (4: --cpus, --cpuset-cpus, else the host's CPUs)"));
  CHECK(create_with({"RUNCVM_CPUS=1"}, false, limited(0, 200000)).launch.cpus == 1);
  CHECK_THROWS_WITH(create_with({"RUNCVM_CPUS=3"}, false, limited(0, 200000)),
                    ContainsSubstring("RUNCVM_CPUS: 3 is more than the container may use (2:"));
  // Without -m: no more than the host has; with huge pages, the default size.
  CHECK(create_with({"RUNCVM_MEM=4G"}, false, on_host).launch.memory_mib > 4096);
  CHECK_THROWS_WITH(create_with({"RUNCVM_MEM=64T"}, false, on_host),
                    StartsWith("RUNCVM_MEM: 67108864M is more than the host's memory (8192M)"));
  CHECK_THROWS_WITH(create_with({"RUNCVM_HUGETLB=1", "RUNCVM_MEM=4G"}, false, on_host),
                    StartsWith("RUNCVM_MEM: 4096M is more than a VM of huge pages may have without -m (512M)"));
  CHECK(create_with({"RUNCVM_HUGETLB=1", "RUNCVM_MEM=4G"}, false, limited(8ll << 30, 0)).launch.hugetlb);
  CHECK_THROWS_WITH(create_with({"RUNCVM_MEM=4G"}, false, limited(1ll << 30, 0)),
                    StartsWith("RUNCVM_MEM: 4096M is more than the container's memory limit (-m 1024M)"));
}

TEST_CASE("an image that aims the runtime's own mount points is refused; exec's programs are out of the VM's reach",
          "[options][honoured][mounts]") {
  CHECK_THROWS_WITH(
      create_with({}, false, [](runtime::CreateInput& input) { input.image.unsafe_mount_points = {"/.runcvm"}; }),
      StartsWith(
          "the image's \"/.runcvm\" is a link or not a directory: runcvm mounts its own state and programs there"));
  // `docker exec` runs the bundle's programs from a bind inside the state tmpfs, mounted after it.
  Json mounts = create_with({}).spec["mounts"];
  std::vector<std::string> destinations;
  for (const auto& m : mounts) destinations.push_back(m["destination"]);
  auto at = [&](const std::string& d) { return std::find(destinations.begin(), destinations.end(), d); };
  REQUIRE(at(handoff::kStateBundleBin) != destinations.end());
  CHECK(at(handoff::kStateDirectory) < at(handoff::kStateBundleBin));
  const Json& bin = mounts[static_cast<std::size_t>(at(handoff::kStateBundleBin) - destinations.begin())];
  CHECK(bin["source"] == "/opt/runcvm/bin");
  CHECK(bin["options"] == Json{"bind", "nosuid", "nodev", "ro"});
  CHECK(std::string(handoff::kExecClient).starts_with(std::string(handoff::kStateBundleBin) + "/"));
}

TEST_CASE("RUNCVM_BREAK needs a terminal", "[options][honoured][break]") {
  CHECK_THROWS_WITH(create_with({"RUNCVM_BREAK=prenet"}),
                    ContainsSubstring("RUNCVM_BREAK: a break point's shell needs a terminal"));
  CHECK(create_with({"RUNCVM_BREAK=prenet,preworkload"}, true).launch.breakpoints ==
        std::vector<std::string>{"prenet", "preworkload"});
}

TEST_CASE("display, USB and huge pages reach QEMU's command line", "[options][honoured][qemu]") {
  handoff::Launch launch = bundle_launch();
  std::string plain = qemu_line(launch);
  CHECK(plain.find("-vnc") == std::string::npos);
  CHECK(plain.find("qemu-xhci") == std::string::npos);
  CHECK(plain.find("hugetlb") == std::string::npos);

  launch.display_mode = "vnc";
  std::string vnc = qemu_line(launch);
  CHECK_THAT(vnc, ContainsSubstring(
                      "-device virtio-vga -device qemu-xhci,id=usb -device usb-tablet,bus=usb.0 -vnc 127.0.0.1:0"));
  CHECK(handoff::vnc_port(launch) == 5900u);
  launch.qemu.vga = "std";
  CHECK_THAT(qemu_line(launch), ContainsSubstring("-device VGA -device qemu-xhci"));
  launch.qemu.vga = "cirrus";
  CHECK_THAT(qemu_line(launch), ContainsSubstring("-device cirrus-vga -device qemu-xhci"));
  launch.qemu.vga = "none";
  launch.qemu.vnc_display = 7;
  std::string no_card = qemu_line(launch);
  CHECK(no_card.find("vga") == std::string::npos);
  CHECK_THAT(no_card, ContainsSubstring("-vnc 127.0.0.1:7"));
  CHECK(handoff::vnc_port(launch) == 5907u);

  launch.display_mode = "headless";  // the server alone, no card, no tablet
  std::string headless = qemu_line(launch);
  CHECK_THAT(headless, ContainsSubstring("-vnc 127.0.0.1:7"));
  // With a network, on runcvm-init's address alone: never on Docker's addresses of this namespace.
  std::string networked;
  for (const auto& a :
       container_init::qemu_command(launch, container_init::BundleLayout{}, false, {"/k/vmlinux", launch.kernel.initrd},
                                    {{7, "02:42:ac:11:00:02", 1500}}))
    networked += a + " ";
  CHECK_THAT(networked, ContainsSubstring("-vnc 169.254.77.1:7 "));
  CHECK(headless.find("usb-tablet") == std::string::npos);
  launch.qemu.vnc_display.reset();
  launch.qemu.usb = true;
  std::string usb = qemu_line(launch);
  CHECK_THAT(usb, ContainsSubstring("-device qemu-xhci,id=usb"));
  CHECK(usb.find("usb-tablet") == std::string::npos);
  CHECK(!handoff::vnc_port(launch));

  launch.hugetlb = true;
  CHECK_THAT(qemu_line(launch),
             ContainsSubstring("memory-backend-memfd,id=mem,size=544M,share=on,hugetlb=on,hugetlbsize=2M,prealloc=on"));
}

TEST_CASE("the VM loads the drivers of the devices it was given", "[options][honoured][modules]") {
  handoff::Launch launch = bundle_launch();
  CHECK(vm_init::device_drivers(launch) == std::vector<std::string>{"pvpanic-mmio"});
  launch.qemu.machine = "microvm";  // no panic device
  CHECK(vm_init::device_drivers(launch).empty());
  launch.qemu.machine = "q35";
  launch.qemu.usb = true;
  CHECK(vm_init::device_drivers(launch) == std::vector<std::string>{"pvpanic-mmio", "xhci-pci"});
  launch.display_mode = "vnc";
  CHECK(vm_init::device_drivers(launch) ==
        std::vector<std::string>{"virtio-gpu", "pvpanic-mmio", "xhci-pci", "usbhid", "hid-generic"});
  launch.qemu.vga = "std";
  CHECK(vm_init::device_drivers(launch).front() == "bochs");
  // The image's own kernel: the channel's, the network's and (with disks) the disks' drivers too.
  launch = bundle_launch();
  launch.kernel.source = "image";
  CHECK(vm_init::device_drivers(launch) ==
        std::vector<std::string>{"virtio_console", "virtio_net", "virtio_balloon", "pvpanic-mmio"});
  launch.disks = {{"/disks/a.img", "/a", "ext4", std::nullopt}};
  launch.qemu.balloon = false;
  CHECK(vm_init::device_drivers(launch) ==
        std::vector<std::string>{"virtio_console", "virtio_net", "virtio_blk", "pvpanic-mmio"});

  std::string modules_dep =
      "kernel/drivers/usb/host/xhci-pci.ko: kernel/drivers/usb/host/xhci-hcd.ko kernel/drivers/usb/core/usbcore.ko "
      "kernel/drivers/usb/common/usb-common.ko\n"
      "kernel/drivers/usb/host/xhci-hcd.ko: kernel/drivers/usb/core/usbcore.ko "
      "kernel/drivers/usb/common/usb-common.ko\n"
      "kernel/drivers/hid/hid-generic.ko: kernel/drivers/hid/hid.ko\n"
      "kernel/drivers/hid/hid.ko:\n";
  CHECK(vm_init::load_order(modules_dep, "xhci-pci") ==
        std::vector<std::string>{"kernel/drivers/usb/common/usb-common.ko", "kernel/drivers/usb/core/usbcore.ko",
                                 "kernel/drivers/usb/host/xhci-hcd.ko", "kernel/drivers/usb/host/xhci-pci.ko"});
  CHECK(vm_init::load_order(modules_dep, "hid_generic") ==
        std::vector<std::string>{"kernel/drivers/hid/hid.ko", "kernel/drivers/hid/hid-generic.ko"});
  CHECK(vm_init::load_order(modules_dep, "hid").size() == 1);
  CHECK(vm_init::load_order(modules_dep, "virtio-gpu").empty());  // built in or absent: nothing to load
  CHECK(vm_init::load_order(modules_dep, "xhci").empty());        // whole names only
}

TEST_CASE("RUNCVM_HUGETLB: the host's free 2 MiB pages are checked before QEMU starts",
          "[options][honoured][hugetlb]") {
  auto meminfo = [](int total, int free, int reserved, int size_kib) {
    return "MemTotal:        8000000 kB\nHugePages_Total:     " + std::to_string(total) +
           "\nHugePages_Free:      " + std::to_string(free) + "\nHugePages_Rsvd:      " + std::to_string(reserved) +
           "\nHugePages_Surp:        0\nHugepagesize:       " + std::to_string(size_kib) + " kB\n";
  };
  CHECK(!container_init::hugepages_problem(meminfo(300, 300, 0, 2048), 554));
  CHECK(!container_init::hugepages_problem(meminfo(277, 277, 0, 2048), 554));
  auto short_pool = container_init::hugepages_problem(meminfo(0, 0, 0, 2048), 554);
  REQUIRE(short_pool);
  CHECK(*short_pool ==
        "RUNCVM_HUGETLB: the VM's 554 MiB need 277 huge pages of 2 MiB and the host has 0 free: raise vm.nr_hugepages "
        "on the host (sysctl -w vm.nr_hugepages=277 or more)");
  // Pages reserved by another VM that has not touched them yet are not free for this one.
  auto reserved = container_init::hugepages_problem(meminfo(400, 300, 100, 2048), 554);
  REQUIRE(reserved);
  CHECK_THAT(*reserved,
             ContainsSubstring(
                 "the host has 200 free: raise vm.nr_hugepages on the host (sysctl -w vm.nr_hugepages=477 or more)"));
  CHECK_THAT(*container_init::hugepages_problem(meminfo(0, 0, 0, 1048576), 554),
             ContainsSubstring("default huge page is 1048576 kB"));
  CHECK(container_init::hugepages_problem("", 554));
}

TEST_CASE("read-only roots: the VM's mount points are made before the root turns read-only",
          "[options][honoured][read-only]") {
  handoff::Launch launch = bundle_launch();
  launch.tmpfs = {{"/scratch", {}}};
  launch.disks = {{"/disks/a.img", "/var/lib/data", "ext4", std::nullopt}};
  CHECK(handoff::vm_mount_points(launch) ==
        std::vector<std::string>{"/proc", "/sys", "/dev", "/run", "/scratch", "/var/lib/data"});
}

TEST_CASE("binds and volumes below the VM's own mounts are attached again on top of them", "[handoff][mounts]") {
  handoff::Launch launch = bundle_launch();
  launch.tmpfs = {{"/scratch", {}}};
  launch.disks = {{"/disks/a.img", "/var/lib/data", "ext4", std::nullopt}};
  launch.mounts = {{"/run/docker.sock", false}, {"/data", false},     {"/scratch/in", true},
                   {"/var/lib/data/x", false},  {"/running", false},  {"/run", false},
                   {"/etc/resolv.conf", true},  {"/dev/shm/y", false}};
  // /running only shares a prefix with /run; /run itself is the container's and stays as it is.
  auto as_is = [](const std::string& path) { return path; };
  CHECK(handoff::covered_mounts(launch, as_is) ==
        std::vector<std::string>{"/run/docker.sock", "/scratch/in", "/var/lib/data/x", "/dev/shm/y"});
  // Through the image's symlinks: Debian's /var/run is /run.
  launch.mounts = {{"/var/run/docker.sock", false}, {"/var/lib/other", false}};
  auto debian = [](const std::string& path) { return path.starts_with("/var/run/") ? "/run/" + path.substr(9) : path; };
  CHECK(handoff::covered_mounts(launch, debian) == std::vector<std::string>{"/run/docker.sock"});
}

TEST_CASE("the image's kernel's console is summarised as bounded, printable text", "[options][image-kernel]") {
  std::string console =
      "[    3.462433] Run /init as init process\r\n"
      "Loading, please wait...\n"
      "\x1b[31mmount: No such device\x1b[0m\n"
      "   \n"
      "Failed to mount runcvm-root as root file system.\n"
      "[    5.149749] ACPI: PM: Preparing to enter system sleep state S5\n"
      "Rebooting automatically due to panic= boot argument\n";
  CHECK(container_init::console_summary(console, 3) ==
        "mount: No such device / Failed to mount runcvm-root as root file system. / Rebooting automatically due to "
        "panic= boot argument");
  CHECK(container_init::console_summary(console, 1) == "Rebooting automatically due to panic= boot argument");
  CHECK(container_init::console_summary("", 3).empty());
  CHECK(container_init::console_summary("[ 1.0] only the kernel\n", 3).empty());
  std::string flood(100000, 'A');
  flood += "\n\x01\x02\xff\n";
  std::string summary = container_init::console_summary(flood, 3);
  CHECK(summary == std::string(200, 'A'));  // one line, cut; the control bytes leave nothing
}
