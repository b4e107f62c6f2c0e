#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/file.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/exec_request.hpp"
#include "handoff/kernel_manifest.hpp"
#include "handoff/launch.hpp"
#include "handoff/state_directory.hpp"
#include "runtime/create_transform.hpp"
#include "runtime/exec_transform.hpp"
#include "runtime/facts.hpp"
#include "runtime/kernel_choice.hpp"
#include "runtime/options.hpp"
#include "runtime/runc_cli.hpp"
#include "runtime/seccomp.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm;
using namespace runcvm::runtime;
using Catch::Matchers::ContainsSubstring;
using Json = nlohmann::json;

TEST_CASE("runc command lines as containerd sends them", "[runtime][cli]") {
  std::vector<std::string> create = {"--runcvm-runc=/usr/sbin/runc",
                                     "--root",
                                     "/var/run/docker/runtime-runc/moby",
                                     "--log",
                                     "/run/x/log.json",
                                     "--log-format",
                                     "json",
                                     "--systemd-cgroup",
                                     "create",
                                     "--bundle",
                                     "/run/x/b",
                                     "--pid-file",
                                     "/run/x/init.pid",
                                     "--console-socket",
                                     "/tmp/s.sock",
                                     "abc123"};
  RuncCall call = parse_runc_call(create);
  CHECK(call.command == "create");
  CHECK(call.bundle == "/run/x/b");
  CHECK(call.log == "/run/x/log.json");
  CHECK(call.log_format == "json");
  CHECK(call.container_id == "abc123");
  CHECK(call.runc == "/usr/sbin/runc");
  // runc gets everything but our own option, in order.
  CHECK(call.runc_args == std::vector<std::string>(create.begin() + 1, create.end()));

  RuncCall exec = parse_runc_call(std::vector<std::string>{"--root", "/r", "exec", "--process", "/tmp/runc-process1",
                                                           "--detach", "--pid-file", "/p", "abc123"});
  CHECK(exec.command == "exec");
  CHECK(exec.process == "/tmp/runc-process1");
  CHECK(exec.container_id == "abc123");

  RuncCall cli_exec = parse_runc_call(std::vector<std::string>{"exec", "-t", "id1", "sh", "-c", "--bundle x"});
  CHECK(cli_exec.container_id == "id1");
  CHECK_FALSE(cli_exec.bundle);  // the command's own arguments are not parsed
  CHECK(cli_exec.runc_args.back() == "--bundle x");

  RuncCall equals = parse_runc_call(std::vector<std::string>{"--root=/r", "--runcvm-debug", "run", "-b=/b", "id"});
  CHECK(equals.bundle == "/b");
  CHECK(equals.debug);
  CHECK(equals.runc_args == std::vector<std::string>{"--root=/r", "run", "-b=/b", "id"});

  for (const char* command : {"features", "state", "kill", "delete", "ps", "update", "events", "pause", "start"}) {
    std::vector<std::string> args = {"--root", "/r", command, "id"};
    RuncCall passthrough = parse_runc_call(args);
    CHECK(passthrough.command == command);
    CHECK(passthrough.runc_args == args);
  }
  CHECK(parse_runc_call(std::vector<std::string>{"--version"}).command.empty());
  CHECK_THROWS_WITH(parse_runc_call(std::vector<std::string>{"--root"}), ContainsSubstring("--root expects a value"));
}

TEST_CASE("RUNCVM_* options are typed and validated together", "[runtime][options]") {
  Options o = parse_options({"PATH=/bin", "RUNCVM_KERNEL=debian/6.1.0-56-amd64", "RUNCVM_CPUS=2", "RUNCVM_MEM=1G",
                             "RUNCVM_KERNEL_DEBUG=true", "RUNCVM_BIOS_DEBUG=1", "RUNCVM_DISKS=/disks/a,/a,ext4,512M",
                             "RUNCVM_QEMU_VGA=cirrus", "RUNCVM_QEMU_VNC_DISPLAY=3", "RUNCVM_QEMU_USB=1"});
  REQUIRE(o.kernel);
  CHECK(o.kernel->dist == "debian");
  CHECK(o.kernel->version == "6.1.0-56-amd64");
  CHECK(o.cpus == 2u);
  CHECK(o.memory_mib == 1024u);
  CHECK(o.kernel_debug);
  CHECK(o.qemu.bios_debug);
  REQUIRE(o.disks.size() == 1);
  CHECK(o.disks[0].size_bytes == 512ull << 20);
  CHECK(o.qemu.vga == "cirrus");
  CHECK(o.qemu.vnc_display == 3u);
  CHECK(o.qemu.usb);
  CHECK(parse_options({"RUNCVM_CPUS=1", "RUNCVM_CPUS=4"}).cpus == 4u);  // the last one wins

  auto error = [](std::vector<std::string> env) {
    try {
      parse_options(env);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error({"RUNCVM_DISKS=/disks/a,/a,ext4;x,y"}) ==
        "RUNCVM_DISKS: entry 2 \"x,y\": expected <src>,<dst>,<fs>[,<size>]");
  CHECK(error({"RUNCVM_DISKS=a,/a,ext4"}) == "RUNCVM_DISKS: entry 1 \"a,/a,ext4\": <src> must be an absolute path");
  CHECK(error({"RUNCVM_DISKS=/a,/b,zfs"}) ==
        "RUNCVM_DISKS: entry 1 \"/a,/b,zfs\": <fs> \"zfs\" is not supported (ext4, ext3, ext2)");
  CHECK(error({"RUNCVM_DISKS=/a,/b,ext4,5X"}) ==
        "RUNCVM_DISKS: entry 1 \"/a,/b,ext4,5X\": <size> \"5X\" is not a size like 512M or 5G");
  // A disk's paths stay in the container's own files: no walk out, nothing of runcvm's or the kernel's.
  CHECK(error({"RUNCVM_DISKS=/disks/../.runcvm/kvm/x,/a,ext4,1G"}) ==
        "RUNCVM_DISKS: entry 1 \"/disks/../.runcvm/kvm/x,/a,ext4,1G\": <src> must not have `.` or `..` steps");
  CHECK(
      error({"RUNCVM_DISKS=/.runcvm/kvm/x,/a,ext4,1G"}) ==
      "RUNCVM_DISKS: entry 1 \"/.runcvm/kvm/x,/a,ext4,1G\": <src> must not be in /.runcvm (runcvm's or the kernel's)");
  CHECK(error({"RUNCVM_DISKS=/disks/x,/sys/class,ext4,1G"}) ==
        "RUNCVM_DISKS: entry 1 \"/disks/x,/sys/class,ext4,1G\": <dst> must not be in /sys (runcvm's or the kernel's)");
  CHECK_THAT(error({"RUNCVM_DISKS=/proc/1/root/x,/a,ext4"}), ContainsSubstring("<src> must not be in /proc"));
  CHECK_THAT(error({"RUNCVM_DISKS=/opt/runcvm/x,/a,ext4"}), ContainsSubstring("<src> must not be in /opt/runcvm"));
  CHECK(error({"RUNCVM_DISKS=/procfs/x,/devices/./a,ext4"}) ==
        "RUNCVM_DISKS: entry 1 \"/procfs/x,/devices/./a,ext4\": <dst> must not have `.` or `..` steps");
  CHECK(parse_options({"RUNCVM_DISKS=/procfs/x,/devices,ext4"}).disks.size() == 1);
  CHECK(error({"RUNCVM_CPUS=0.5"}) == "RUNCVM_CPUS: \"0.5\": expected a whole number from 1 to 256");
  CHECK(error({"RUNCVM_MEM=10M"}) == "RUNCVM_MEM: \"10M\": expected a size of at least 64M, like 512M or 2G");
  CHECK(error({"RUNCVM_KERNEL=../etc"}) ==
        "RUNCVM_KERNEL: \"../etc\": expected <dist> or <dist>/<version>, e.g. debian or debian/6.1.0-18-amd64");
  // Options that would let the image's ENV grant privilege are refused with what to do instead.
  CHECK(error({"RUNCVM_SYS_ADMIN=1"}) ==
        "RUNCVM_SYS_ADMIN: the image's environment cannot grant capabilities: use docker run --cap-add SYS_ADMIN");
  CHECK_THAT(error({"RUNCVM_RUNTIME_DEBUG=1"}),
             ContainsSubstring("RUNCVM_RUNTIME_DEBUG: the image's environment cannot turn on"));
  CHECK(error({"RUNCVM_QEMU_MACHINE=virt"}) == "RUNCVM_QEMU_MACHINE: \"virt\": expected one of q35, pc, microvm");
  CHECK(parse_options({"RUNCVM_QEMU_MACHINE=microvm", "RUNCVM_QEMU_VNC_DISPLAY=1"}).qemu.machine == "microvm");
  CHECK(error({"RUNCVM_QEMU_MACHINE=microvm", "RUNCVM_QEMU_USB=1"}) ==
        "RUNCVM_QEMU_USB: a USB controller needs a PCI bus, which RUNCVM_QEMU_MACHINE=microvm has not: use q35");
  CHECK_THAT(error({"RUNCVM_DISPLAY_MODE=vnc", "RUNCVM_QEMU_MACHINE=microvm"}),
             ContainsSubstring("RUNCVM_DISPLAY_MODE: \"vnc\" needs a graphics card and a USB tablet, which "
                               "RUNCVM_QEMU_MACHINE=microvm cannot have"));
  CHECK_THAT(error({"RUNCVM_QEMU_DISPLAY=curses"}),
             ContainsSubstring(
                 "RUNCVM_QEMU_DISPLAY: QEMU's own display (curses) on the container's terminal is not supported"));
  CHECK(error({"RUNCVM_QEMU_VGA=vmware"}) == "RUNCVM_QEMU_VGA: \"vmware\": expected one of virtio, std, cirrus, none");
  CHECK(error({"RUNCVM_QEMU_VNC_DISPLAY=100"}) ==
        "RUNCVM_QEMU_VNC_DISPLAY: \"100\": expected a display number from 0 to 99 (VNC port 5900 + it)");
  CHECK(error({"RUNCVM_BREAK=prenet,preqemu"}) ==
        "RUNCVM_BREAK: \"preqemu\" is not a break point: they are in the VM (prenet, postnet, preworkload); a shell "
        "outside "
        "it would run the image's programs there");
  CHECK(parse_options({"RUNCVM_BREAK=postnet,preworkload"}).breakpoints ==
        std::vector<std::string>{"postnet", "preworkload"});
  CHECK(error({"RUNCVM_NOPE=1"}) == "RUNCVM_NOPE: unknown option (see docs/options.md)");
  CHECK(error({"RUNCVM_CPUS=x", "RUNCVM_MEM=y"}) ==
        "RUNCVM_CPUS: \"x\": expected a whole number from 1 to 256; RUNCVM_MEM: \"y\": expected a size of at least "
        "64M, like 512M or 2G");

  CHECK(workload_env({"A=1", "RUNCVM_CPUS=2", "B=2"}) == std::vector<std::string>{"A=1", "B=2"});
}

TEST_CASE("docs/options.md documents every RUNCVM_* option", "[runtime][options]") {
  std::string reference = read_file(fs::path(RUNCVM_SOURCE_DIR) / "docs/options.md");
  for (const auto& option : option_table()) {
    INFO(option.name);
    CHECK(reference.find("| `" + std::string(option.name) + "` |") != std::string::npos);
  }
  CHECK(option_table().size() == 25);
  // The user's guide sends its readers there.
  CHECK(read_file(fs::path(RUNCVM_SOURCE_DIR) / "README.md").find("(docs/options.md)") != std::string::npos);
}

TEST_CASE("VM CPUs round --cpus up and never go below one", "[runtime]") {
  auto cpus = [](Json cpu) { return cpus_from_resources(Json{{"cpu", cpu}}, 8); };
  CHECK(cpus({{"quota", 50000}, {"period", 100000}}) == 1);  // --cpus 0.5
  CHECK(cpus({{"quota", 150000}, {"period", 100000}}) == 2);
  CHECK(cpus({{"quota", 200000}, {"period", 100000}}) == 2);
  CHECK(cpus({{"quota", -1}, {"period", 100000}, {"cpus", "0-2,5"}}) == 4);
  CHECK(cpus(Json::object()) == 8);
  CHECK(count_cpuset("0-3,8,10-11") == 7);
  CHECK(count_cpuset("3-1") == 0);
  CHECK(count_cpuset("x") == 0);
}

TEST_CASE("os-release and image kernels are read from the rootfs", "[runtime][facts]") {
  ImageFacts facts;
  parse_os_release("NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=\"debian foo\"\n", facts);
  CHECK(facts.os_id == "ubuntu");
  CHECK(facts.os_like == std::vector<std::string>{"debian", "foo"});

  test::ScratchDirectory root;
  make_directories(root.path() / "boot");
  make_directories(root.path() / "etc");
  write_file_atomic(root.path() / "boot/vmlinuz-6.1.0-18-amd64", "kernel");
  write_file_atomic(root.path() / "boot/initrd.img-6.1.0-18-amd64", "initrd");
  fs::create_symlink("boot/vmlinuz-6.1.0-18-amd64", root.path() / "vmlinuz");
  fs::create_symlink("/boot/initrd.img-6.1.0-18-amd64", root.path() / "initrd.img");  // absolute: inside the image
  fs::create_symlink("../usr/lib/os-release", root.path() / "etc/os-release");
  make_directories(root.path() / "usr/lib");
  write_file_atomic(root.path() / "usr/lib/os-release", "ID=debian\n");
  ImageFacts image = gather_image_facts(root.path());
  REQUIRE(image.kernel);
  CHECK(image.kernel->vmlinuz == "/vmlinuz");
  CHECK(image.kernel->version == "6.1.0-18-amd64");
  CHECK(image.os_id == "debian");

  fs::remove(root.path() / "vmlinuz");
  fs::create_symlink("/../../../etc/passwd", root.path() / "vmlinuz");  // must not escape the image
  CHECK_FALSE(gather_image_facts(root.path()).kernel);
}

TEST_CASE("bundle kernels are listed with their latest link", "[runtime][facts]") {
  test::ScratchDirectory bundle;
  for (const char* v : {"6.1.0-55-amd64", "6.1.0-56-amd64"}) make_directories(bundle.path() / "kernels/debian" / v);
  fs::create_symlink("6.1.0-56-amd64", bundle.path() / "kernels/debian/latest");
  BundleFacts facts = gather_bundle_facts(bundle.path());
  REQUIRE(facts.kernels.count("debian") == 1);
  CHECK(facts.kernels["debian"].versions == std::vector<std::string>{"6.1.0-55-amd64", "6.1.0-56-amd64"});
  CHECK(facts.kernels["debian"].latest == "6.1.0-56-amd64");
  // Nothing else is there: every program the containers run is missing.
  CHECK(facts.missing.size() == std::size(handoff::kBundleRequiredFiles));
  for (const char* file : handoff::kBundleRequiredFiles) {
    make_directories((bundle.path() / file).parent_path());
    write_file_atomic(bundle.path() / file, "program");
  }
  fs::remove(bundle.path() / handoff::kBundleVirtiofsd);
  CHECK(gather_bundle_facts(bundle.path()).missing == std::vector<std::string>{handoff::kBundleVirtiofsd});
}

TEST_CASE("a bundle kernel that mounts its root itself boots without its initramfs unless from a template",
          "[runtime][facts]") {
  test::ScratchDirectory bundle;
  auto manifest = [&](const std::string& dist, const std::string& version, const std::string& text) {
    make_directories(bundle.path() / "kernels" / dist / version);
    write_file_atomic(bundle.path() / "kernels" / dist / version / "kernel.json", text);
    fs::create_symlink(version, bundle.path() / "kernels" / dist / "latest");
  };
  auto text = [](const std::string& version, bool root_without_initramfs) {
    handoff::KernelManifest m;
    m.version = version;
    m.root_without_initramfs = root_without_initramfs;
    return handoff::to_json_text(m);
  };
  manifest("runcvm", "6.1.192-runcvm", text("6.1.192-runcvm", true));
  manifest("debian", "6.1.0-56-amd64", text("6.1.0-56-amd64", false));
  manifest("ubuntu", "6.8.0-31-generic", "{ damaged");  // unreadable: booted the safe way, with the initramfs
  // A manifest of another format (an older runcvm-build's, without manifest_version): the same.
  manifest("older", "6.1.0-1-amd64", R"({"version": "6.1.0-1-amd64", "root_without_initramfs": true})");
  BundleFacts facts = gather_bundle_facts(bundle.path());
  CHECK(facts.kernels["runcvm"].root_without_initramfs == std::set<std::string>{"6.1.192-runcvm"});
  CHECK(facts.kernels["debian"].root_without_initramfs.empty());
  CHECK(facts.kernels["ubuntu"].root_without_initramfs.empty());
  CHECK(facts.kernels["older"].root_without_initramfs.empty());

  Options options;
  options.kernel = KernelRequest{"runcvm", std::nullopt};
  handoff::Launch launch;
  launch.kernel = choose_kernel(options, ImageFacts{}, facts);
  CHECK(launch.kernel.vmlinuz == "/opt/runcvm/kernels/runcvm/6.1.192-runcvm/vmlinuz");
  // From a template: the template waits for its root in the initramfs.
  drop_needless_initramfs(launch, facts);
  CHECK(launch.kernel.initrd == "/opt/runcvm/kernels/runcvm/6.1.192-runcvm/initrd");
  // Booted: the kernel mounts its root itself.
  launch.template_vm = false;
  drop_needless_initramfs(launch, facts);
  CHECK(launch.kernel.initrd.empty());
  // A kernel that needs its initramfs keeps it either way.
  options.kernel = KernelRequest{"debian", std::nullopt};
  launch.kernel = choose_kernel(options, ImageFacts{}, facts);
  drop_needless_initramfs(launch, facts);
  CHECK(launch.kernel.initrd == "/opt/runcvm/kernels/debian/6.1.0-56-amd64/initrd");
  options.kernel = KernelRequest{"ubuntu", std::nullopt};
  CHECK(choose_kernel(options, ImageFacts{}, facts).initrd == "/opt/runcvm/kernels/ubuntu/6.8.0-31-generic/initrd");
}

TEST_CASE("exec runs the guest's exec client with the original process as its request", "[runtime][exec]") {
  Json process = {{"terminal", true},
                  {"consoleSize", {{"height", 40}, {"width", 120}}},
                  {"user", {{"uid", 1000}, {"gid", 100}, {"additionalGids", {27, 44}}}},
                  {"args", {"sh", "-c", "echo h\u00e9llo \"quoted\""}},
                  {"env", {"PATH=/bin", "RUNCVM_CPUS=2", "A=b"}},
                  {"cwd", "/work"},
                  {"capabilities", {{"bounding", {"CAP_KILL", "CAP_SYS_MODULE"}}, {"ambient", {"CAP_SYS_RAWIO"}}}}};
  Json out = transform_exec(process);
  // The request (env included) never appears in argv, which `ps` shows every user of the host.
  CHECK(out["args"] == Json{handoff::kExecClient});
  REQUIRE(out["env"].size() == 2);
  std::string request_variable = out["env"][1].get<std::string>();
  std::string prefix = std::string(handoff::kExecRequestVariable) + "=";
  REQUIRE(request_variable.starts_with(prefix));
  CHECK(out["user"] == Json{{"uid", 0}, {"gid", 0}});
  CHECK(out["terminal"] == true);
  CHECK(out["consoleSize"] == process["consoleSize"]);
  // The client holds no capability and gains none; the user's hold in the VM only.
  for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"})
    CHECK(out["capabilities"][set] == Json::array());
  CHECK(out["noNewPrivileges"] == true);
  handoff::ExecRequest exec = handoff::parse_exec_request(request_variable.substr(prefix.size()));
  CHECK(exec.wait_seconds == handoff::kExecWaitDefaultSeconds);
  const handoff::Process& request = exec.process;
  REQUIRE(request.capabilities);
  CHECK(request.capabilities->bounding == std::vector<std::string>{"CAP_KILL", "CAP_SYS_MODULE"});
  CHECK(request.args == std::vector<std::string>{"sh", "-c", "echo h\u00e9llo \"quoted\""});
  CHECK(request.env == std::vector<std::string>{"PATH=/bin", "A=b"});
  CHECK(request.cwd == "/work");
  CHECK(request.uid == 1000);
  CHECK(request.gid == 100);
  CHECK(request.additional_gids == std::vector<std::uint32_t>{27, 44});
  CHECK(request.terminal);
  CHECK(request.console_size == handoff::ConsoleSize{40, 120});
  // The wait for the exec agent comes from RUNCVM_EXEC_TIMEOUT in the exec's env (the container's
  // env merged with -e); a bad value fails the exec with one line.
  process["env"] = {"PATH=/bin", "RUNCVM_EXEC_TIMEOUT=5"};
  CHECK(handoff::parse_exec_request(transform_exec(process)["env"][1].get<std::string>().substr(prefix.size()))
            .wait_seconds == 5);
  process["env"] = {"PATH=/bin", "RUNCVM_EXEC_TIMEOUT=soon"};
  CHECK_THROWS_WITH(transform_exec(process),
                    ContainsSubstring("RUNCVM_EXEC_TIMEOUT: \"soon\": expected a whole number of seconds"));
  CHECK_THROWS_WITH(transform_exec(Json{{"args", Json::array()}}), ContainsSubstring("process.json: field `args`"));
  CHECK_THROWS_WITH(transform_exec(Json{{"args", {"x"}}, {"user", {{"uid", "root"}}}}),
                    ContainsSubstring("process.json: field `user.uid`: unexpected value \"root\""));
}

TEST_CASE("the launch document is read strictly", "[runtime][handoff]") {
  handoff::Launch launch;
  launch.process.args = {"sh"};
  launch.kernel = {"bundle", "debian", "6.1", "/v", "/i", "/lib/modules/6.1", "", false};
  std::string text = handoff::to_json_text(launch);
  CHECK(handoff::to_json_text(handoff::parse_launch(text)) == text);

  Json doc = Json::parse(text);
  doc["surprise"] = 1;
  CHECK_THROWS_WITH(handoff::parse_launch(doc.dump()), "launch document: field `surprise`: unknown field");
  doc = Json::parse(text);
  doc["version"] = 1;
  CHECK_THROWS_WITH(handoff::parse_launch(doc.dump()), ContainsSubstring("version 1 is not supported"));
  doc = Json::parse(text);
  doc["process"].erase("cwd");
  CHECK_THROWS_WITH(handoff::parse_launch(doc.dump()), "launch document: field `process.cwd`: is required");
  doc = Json::parse(text);
  doc["mounts"] = {{{"destination", "/x"}, {"read_only", "yes"}}};
  CHECK_THROWS_WITH(handoff::parse_launch(doc.dump()),
                    "launch document: field `mounts[0].read_only`: has the wrong type: \"yes\"");
  // Sockets become runcvm-init's ports and paths it connects to: a bounded list of absolute paths.
  doc = Json::parse(text);
  doc["sockets"] = {"relative/docker.sock"};
  CHECK_THROWS_WITH(handoff::parse_launch(doc.dump()),
                    ContainsSubstring("socket \"relative/docker.sock\": expected an absolute path"));
  doc["sockets"] = Json::array();
  for (int i = 0; i < 17; ++i) doc["sockets"].push_back("/s" + std::to_string(i));
  CHECK_THROWS_WITH(handoff::parse_launch(doc.dump()), ContainsSubstring("17 sockets: at most 16"));
  // The cache mode becomes one of virtiofsd's arguments: nothing but a known mode gets there.
  doc = Json::parse(text);
  doc["virtiofs_cache"] = "auto,source=/";
  CHECK_THROWS_WITH(handoff::parse_launch(doc.dump()),
                    ContainsSubstring("virtiofs_cache \"auto,source=/\": expected auto, always or none"));
}

TEST_CASE("the host's resolvers leave out loopback ones", "[runtime][facts]") {
  CHECK(runtime::non_loopback_nameservers("# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
                                          "nameserver ::1\nsearch lan\nnameserver 192.168.1.1 # router\n") ==
        std::vector<std::string>{"10.0.0.2", "192.168.1.1"});
  CHECK(runtime::non_loopback_nameservers("nameserver 127.0.0.11\n").empty());
}

TEST_CASE("capabilities from --cap-add ALL hold in the VM only: the container keeps the helpers' set",
          "[runtime][capabilities]") {
  // What docker run --cap-add ALL puts in the spec (dockerd expands ALL to every capability it
  // knows); dockerd in the VM needs SYS_MODULE, NET_ADMIN, SYS_ADMIN, SYS_RESOURCE… there.
  runtime::CreateInput input;
  input.spec = Json::parse(read_file(fs::path(RUNCVM_SOURCE_DIR) / "tests/runtime/golden/docker-plain/in.json"));
  Json all = Json::array({"CAP_CHOWN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE", "CAP_SYS_RESOURCE",
                          "CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_BPF", "CAP_PERFMON", "CAP_MAC_ADMIN"});
  for (const char* set : {"bounding", "effective", "permitted", "inheritable"})
    input.spec["process"]["capabilities"][set] = all;
  input.host.tun = runtime::DeviceNumber{10, 200};
  input.host.bundle_root = "/opt/runcvm";
  input.image.os_id = "debian";
  input.bundle.kernels["debian"] = {{"6.1.0-56-amd64"}, "6.1.0-56-amd64", {}};
  input.launch_file = "/run/runcvm-launch.json";
  auto result = runtime::transform_create(input);

  REQUIRE(result.launch.process.capabilities);
  CHECK(result.launch.process.capabilities->bounding == all.get<std::vector<std::string>>());
  const Json& container = result.spec["process"]["capabilities"];
  for (const char* set : {"bounding", "effective", "permitted"}) {
    auto caps = container[set].get<std::vector<std::string>>();
    CHECK(std::find(caps.begin(), caps.end(), "CAP_CHOWN") != caps.end());
    for (const char* vm_only : {"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE", "CAP_BPF", "CAP_MAC_ADMIN"})
      CHECK(std::find(caps.begin(), caps.end(), vm_only) == caps.end());
  }
  CHECK_FALSE(container.contains("inheritable"));
  CHECK_FALSE(container.contains("ambient"));
}

TEST_CASE("the helpers' unshare is allowed without any namespace flag, a time namespace's included",
          "[runtime][seccomp]") {
  Json seccomp = {{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", Json::array()}};
  allow_helper_syscalls(seccomp);
  const Json* unshare = nullptr;
  for (const auto& rule : seccomp["syscalls"])
    if (rule["names"] == Json{"unshare"}) unshare = &rule;
  REQUIRE(unshare != nullptr);
  const Json& argument = (*unshare)["args"].at(0);
  CHECK(argument["op"] == "SCMP_CMP_MASKED_EQ");
  CHECK(argument["valueTwo"] == 0);
  auto mask = argument["value"].get<std::uint64_t>();
  // CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: each is refused.
  for (std::uint64_t flag :
       {0x80ULL, 0x20000ULL, 0x2000000ULL, 0x4000000ULL, 0x8000000ULL, 0x10000000ULL, 0x20000000ULL, 0x40000000ULL}) {
    INFO(flag);
    CHECK((mask & flag) == flag);
  }
  CHECK((mask & 0x200) == 0);  // CLONE_FS, which virtiofsd's threads unshare
  CHECK((mask & 0x400) == 0);  // CLONE_FILES
}
