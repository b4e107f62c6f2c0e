#include "runtime/create_transform.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "common/error.hpp"
#include "common/text.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/kernel_artifact.hpp"
#include "handoff/kvm_verdict.hpp"
#include "handoff/socket_relays.hpp"
#include "handoff/vm_template.hpp"
#include "runtime/container_capabilities.hpp"
#include "runtime/kernel_choice.hpp"
#include "runtime/options.hpp"
#include "runtime/process_spec.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/vm_capabilities.hpp"

namespace runcvm::runtime {
namespace {

using Json = nlohmann::json;

Field config(std::string path) { return Field{"config.json", std::move(path)}; }

void require_objects(const Json& parent, const char* key, const char* path) {
  if (!parent.is_object()) throw Error("config.json: the parent of field `" + std::string(path) + "` is not an object");
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return;
  if (!it->is_array()) throw Error("config.json: field `" + std::string(path) + "`: expected a list");
  for (std::size_t i = 0; i < it->size(); ++i)
    if (!(*it)[i].is_object())
      throw Error("config.json: field `" + std::string(path) + "[" + std::to_string(i) +
                  "]`: expected an object, got " + (*it)[i].dump());
}

// Docker's --init runs /sbin/docker-init (tini) with "--" before the command; our VM init takes
// that role, so the wrapper is dropped and the VM is told.
bool strip_docker_init(handoff::Process& p, const Json& mounts) {
  if (p.args.size() < 3 || p.args[0] != "/sbin/docker-init" || p.args[1] != "--") return false;
  bool mounted = std::any_of(mounts.begin(), mounts.end(), [](const Json& m) {
    return spec_value<std::string>(m, "destination", config("mounts[].destination"), "") == "/sbin/docker-init";
  });
  if (!mounted) return false;
  p.args.erase(p.args.begin(), p.args.begin() + 2);
  return true;
}

// An entrypoint that is itself an init must be the VM's PID 1, as it is in a container: the
// well-known paths of systemd and of sysvinit/busybox init (what `docker run IMAGE /sbin/init`
// and systemd images' CMD name).
bool is_init_program(const std::string& program) {
  static const std::set<std::string> paths = {"/sbin/init",           "/usr/sbin/init",
                                              "/lib/systemd/systemd", "/usr/lib/systemd/systemd",
                                              "/bin/systemd",         "/usr/bin/systemd"};
  return paths.count(program) != 0;
}

bool has_option(const Json& mount, std::string_view option) {
  auto it = mount.find("options");
  if (it == mount.end() || !it->is_array()) return false;
  return std::any_of(it->begin(), it->end(),
                     [&](const Json& o) { return o.is_string() && o.get<std::string>() == option; });
}

// Kernel filesystems and /dev stay the container's own; the VM mounts its own versions.
bool is_system_mount(const Json& mount) {
  static const std::set<std::string> types = {"proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"};
  std::string destination = spec_value<std::string>(mount, "destination", config("mounts[].destination"), "");
  std::string type = spec_value<std::string>(mount, "type", config("mounts[].type"), "");
  return types.count(type) != 0 || destination == "/dev" || destination == "/dev/shm";
}

std::string tmpfs_size_option(std::uint64_t bytes) { return "size=" + std::to_string(bytes); }

std::uint64_t size_option(const Json& mount, std::uint64_t fallback) {
  if (auto it = mount.find("options"); it != mount.end() && it->is_array())
    for (const auto& o : *it) {
      std::string text = o.is_string() ? o.get<std::string>() : "";
      if (!text.starts_with("size=")) continue;
      if (auto bytes = parse_size(std::string_view(text).substr(5))) return *bytes;
    }
  return fallback;
}

void set_size_option(Json& mount, std::uint64_t bytes) {
  Json options = Json::array();
  if (auto it = mount.find("options"); it != mount.end() && it->is_array())
    for (const auto& o : *it)
      if (!(o.is_string() && o.get<std::string>().starts_with("size="))) options.push_back(o);
  options.push_back(tmpfs_size_option(bytes));
  mount["options"] = options;
}

void add_device(Json& linux_section, const std::string& path, DeviceNumber number) {
  Json& devices = linux_section["devices"];
  if (!devices.is_array()) devices = Json::array();
  bool present = std::any_of(devices.begin(), devices.end(), [&](const Json& d) {
    return spec_value<std::string>(d, "path", config("linux.devices[].path"), "") == path;
  });
  if (!present)
    devices.push_back({{"path", path},
                       {"type", "c"},
                       {"major", number.major},
                       {"minor", number.minor},
                       {"fileMode", 0666},
                       {"uid", 0},
                       {"gid", 0}});
  Json& rules = linux_section["resources"]["devices"];
  if (!rules.is_array()) rules = Json::array();
  rules.push_back(
      {{"allow", true}, {"type", "c"}, {"major", number.major}, {"minor", number.minor}, {"access", "rwm"}});
}

bool has_capability(const Json& process, std::string_view capability) {
  auto caps = process.find("capabilities");
  if (caps == process.end() || !caps->is_object()) return false;
  auto bounding = caps->find("bounding");
  if (bounding == caps->end() || !bounding->is_array()) return false;
  return std::any_of(bounding->begin(), bounding->end(),
                     [&](const Json& c) { return c.is_string() && c.get<std::string>() == capability; });
}

bool has_device(const Json& linux_section, const std::string& path) {
  auto devices = linux_section.find("devices");
  if (devices == linux_section.end() || !devices->is_array()) return false;
  return std::any_of(devices->begin(), devices->end(),
                     [&](const Json& d) { return d.is_object() && d.value("path", "") == path; });
}

Json bind_mount(const std::string& source, const std::string& destination, bool read_only) {
  Json options = Json::array({"rbind", "nosuid", "nodev"});
  if (read_only) options.push_back("ro");
  return {{"destination", destination}, {"type", "bind"}, {"source", source}, {"options", options}};
}

}  // namespace

unsigned count_cpuset(std::string_view cpus) {
  unsigned count = 0;
  while (!cpus.empty()) {
    size_t comma = cpus.find(',');
    std::string_view range = cpus.substr(0, comma);
    cpus = comma == std::string_view::npos ? std::string_view{} : cpus.substr(comma + 1);
    size_t dash = range.find('-');
    unsigned first = 0, last = 0;
    auto parse = [](std::string_view s, unsigned& out) {
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
    };
    if (!parse(range.substr(0, dash), first)) return 0;
    last = first;
    if (dash != std::string_view::npos && !parse(range.substr(dash + 1), last)) return 0;
    if (last < first) return 0;
    count += last - first + 1;
  }
  return count;
}

unsigned cpus_from_resources(const Json& resources, unsigned host_cpus) {
  const Json& cpu = object_at(resources, "cpu", config("linux.resources.cpu"));
  auto quota = spec_value<std::int64_t>(cpu, "quota", config("linux.resources.cpu.quota"), 0);
  auto period = spec_value<std::uint64_t>(cpu, "period", config("linux.resources.cpu.period"), 0);
  // --cpus 0.5 is quota 50000 / period 100000: round up, never below one CPU.
  if (quota > 0 && period > 0)
    return std::max<unsigned>(1, static_cast<unsigned>((static_cast<std::uint64_t>(quota) + period - 1) / period));
  if (unsigned n = count_cpuset(spec_value<std::string>(cpu, "cpus", config("linux.resources.cpu.cpus"), ""))) return n;
  return std::max(1u, host_cpus);
}

namespace {

// The spec is one runcvm can transform, and the bundle is whole; the lists read below hold objects.
void validate(Json& spec, const CreateInput& input) {
  if (!spec.is_object()) throw Error("config.json: expected a JSON object");
  std::string oci_version = spec_value<std::string>(spec, "ociVersion", config("ociVersion"), "");
  if (!oci_version.starts_with("1."))
    throw Error("config.json: ociVersion " + quote(oci_version) + " is not supported (1.x)");
  if (!input.bundle.missing.empty()) {
    std::string missing;
    for (const auto& file : input.bundle.missing) missing += (missing.empty() ? "" : ", ") + file;
    throw Error("the runcvm bundle " + quote(input.host.bundle_root) + " is incomplete: " + missing + " missing")
        .with_hint("install the bundle again");
  }
  for (const auto& point : input.image.unsafe_mount_points)
    throw Error("the image's " + quote(point) +
                " is a link or not a directory: runcvm mounts its own state and programs there")
        .with_hint("remove it from the image, or make it a plain directory");
  Json& process = spec["process"];
  if (!process.is_object()) throw Error("config.json: field `process`: expected an object");
  Json& linux_section = spec["linux"];
  if (linux_section.is_null()) linux_section = Json::object();
  if (spec["mounts"].is_null()) spec["mounts"] = Json::array();
  // Lists whose entries are read below must hold objects; anything else is a malformed spec.
  require_objects(spec, "mounts", "mounts");
  require_objects(linux_section, "namespaces", "linux.namespaces");
  require_objects(linux_section, "devices", "linux.devices");
  require_objects(object_at(linux_section, "resources", config("linux.resources")), "devices",
                  "linux.resources.devices");
  require_objects(process, "rlimits", "process.rlimits");
  if (!object_at(process, "capabilities", config("process.capabilities")).empty())
    for (const char* set : {"bounding", "effective", "permitted"})
      spec_value<std::vector<std::string>>(process["capabilities"], set,
                                           config(std::string("process.capabilities.") + set), {});
}

// The workload as runc would have run it, into the launch document. Whether Docker's init was
// taken off it (docker run --init: the VM's PID 1 reaps and forwards signals itself).
bool read_workload(Json& spec, handoff::Launch& launch) {
  launch.process = saved_process(spec["process"], "config.json", "process.");
  bool docker_init = strip_docker_init(launch.process, spec["mounts"]);
  launch.exec_init = !launch.process.args.empty() && is_init_program(launch.process.args.front());
  launch.hostname = spec_value<std::string>(spec, "hostname", config("hostname"), "");
  launch.read_only_root =
      spec_value<bool>(object_at(spec, "root", config("root")), "readonly", config("root.readonly"), false);
  // --read-only: runcvm-init makes the root read-only itself, once it has made the VM's mount
  // points in it (/run, --tmpfs destinations), which runc cannot know of.
  if (launch.read_only_root) spec["root"]["readonly"] = false;
  // --sysctl: runc sets them in the container's namespaces (QEMU's), the VM in its own kernel.
  launch.sysctls = spec_value<std::map<std::string, std::string>>(spec["linux"], "sysctl", config("linux.sysctl"), {});
  return docker_init;
}

// The VM needs a network namespace of the container's own: refuse the two that are someone else's.
void require_own_network(const Json& linux_section) {
  // Host networking: no network namespace, or (as dockerd does for --network host) joining the
  // host's own, which dockerd names <exec-root>/netns/default.
  bool host_network = true;
  if (auto it = linux_section.find("namespaces"); it != linux_section.end() && it->is_array())
    for (const auto& ns : *it) {
      std::string path = spec_value<std::string>(ns, "path", config("linux.namespaces[].path"), "");
      bool host_path = path.ends_with("/netns/default");
      std::string type = spec_value<std::string>(ns, "type", config("linux.namespaces[].type"), "");
      if (type == "network" && !host_path) host_network = false;
      // --network container:<id>: dockerd points at the other container's /proc/<pid>/ns/net.
      if (type == "network" && path.starts_with("/proc/"))
        throw Error("--network container:… is not supported: a VM cannot share another container's network namespace")
            .with_hint("put both containers on a user-defined network and use names instead");
    }
  if (host_network)
    throw Error("--network host is not supported: the VM has a network stack of its own")
        .with_hint("use the default bridge or a user-defined network, and -p to publish ports");
}

void apply_options(const Options& options, const CreateInput& input, const Json& process, handoff::Launch& launch) {
  launch.disks = options.disks;
  // CAP_SYS_ADMIN for the helpers only when the operator gave it (--cap-add SYS_ADMIN,
  // --privileged): the image cannot put a capability in the spec.
  launch.sys_admin = has_capability(process, "CAP_SYS_ADMIN");
  launch.display_mode = options.display_mode;
  launch.qemu = options.qemu;
  launch.hugetlb = options.hugetlb;
  launch.cgroupfs = options.cgroupfs;
  launch.virtiofs_cache = options.virtiofs_cache;
  launch.timings = options.timings;
  launch.template_vm = options.template_vm;
  launch.process.capabilities = vm_capabilities(launch.process.capabilities, options.capabilities);
  launch.dns_upstreams = input.host.dns_servers;
  launch.breakpoints = options.breakpoints;
  if (!launch.breakpoints.empty() && !launch.process.terminal)
    throw Error("RUNCVM_BREAK: a break point's shell needs a terminal").with_hint("docker run -it");
}

// VM size, and the container's limits raised to hold the guest's RAM plus QEMU's overhead.
// RUNCVM_CPUS and RUNCVM_MEM may come from the image: they may ask for less than the operator
// gave (--cpus, --cpuset-cpus, -m), never more; without a limit, for no more than the host has (a
// VM larger than its host is no workload's need, only a way to overcommit it). RUNCVM_HUGETLB
// takes the RAM from the host's huge-page pool, which the operator reserved for chosen
// workloads: without -m the image gets the default size there, no more.
void check_requested_size(const Options& options, const CreateInput& input, unsigned operator_cpus,
                          std::int64_t limit) {
  if (options.cpus && *options.cpus > operator_cpus)
    throw Error("RUNCVM_CPUS: " + std::to_string(*options.cpus) + " is more than the container may use (" +
                std::to_string(operator_cpus) + ": --cpus, --cpuset-cpus, else the host's CPUs)")
        .with_hint("raise --cpus, or set RUNCVM_CPUS at most to it");
  if (!options.memory_mib) return;
  std::uint64_t requested = *options.memory_mib;
  auto refuse = [&](const std::string& what) {
    throw Error("RUNCVM_MEM: " + std::to_string(requested) + "M is more than " + what)
        .with_hint("raise -m, or set RUNCVM_MEM at most to it");
  };
  auto mib = [](std::uint64_t n) { return std::to_string(n) + "M"; };
  if (limit > 0 && (requested << 20) > static_cast<std::uint64_t>(limit))
    refuse("the container's memory limit (-m " + mib(static_cast<std::uint64_t>(limit) >> 20) + ")");
  if (limit <= 0 && options.hugetlb && requested > kDefaultMemoryMib)
    refuse("a VM of huge pages may have without -m (" + mib(kDefaultMemoryMib) + ")");
  if (limit <= 0 && input.host.memory_mib && requested > input.host.memory_mib)
    refuse("the host's memory (" + mib(input.host.memory_mib) + ")");
}

void size_vm(const Options& options, const CreateInput& input, Json& linux_section, handoff::Launch& launch) {
  Json& resources = linux_section["resources"];
  if (!resources.is_object()) resources = Json::object();
  unsigned operator_cpus = cpus_from_resources(resources, input.host.cpus);
  Json& memory = resources["memory"];
  if (!memory.is_object()) memory = Json::object();
  auto limit = spec_value<std::int64_t>(memory, "limit", config("linux.resources.memory.limit"), 0);
  check_requested_size(options, input, operator_cpus, limit);
  launch.cpus = options.cpus.value_or(operator_cpus);
  std::uint64_t requested_mib =
      options.memory_mib.value_or(limit > 0 ? static_cast<std::uint64_t>(limit) >> 20 : kDefaultMemoryMib);
  launch.memory_mib = requested_mib + kernel_allowance_mib(requested_mib);
  if (launch.hugetlb) launch.memory_mib += launch.memory_mib % 2;  // whole 2 MiB pages
  if (limit > 0) {
    std::int64_t needed = static_cast<std::int64_t>((launch.memory_mib + kMemoryContingencyMib) << 20);
    std::int64_t raise = std::max<std::int64_t>(needed - limit, 0);
    memory["limit"] = limit + raise;
    auto swap = spec_value<std::int64_t>(memory, "swap", config("linux.resources.memory.swap"), 0);
    if (swap > 0) memory["swap"] = swap + raise;  // memory+swap must stay >= memory
  }
  if (memory.empty()) resources.erase("memory");
  // --pids-limit: the workload's, enforced in the VM; the container's also holds the helpers.
  if (auto pids = resources.find("pids"); pids != resources.end() && pids->is_object()) {
    auto pids_limit = spec_value<std::int64_t>(*pids, "limit", config("linux.resources.pids.limit"), 0);
    if (pids_limit > 0) {
      launch.pids_limit = pids_limit;
      (*pids)["limit"] = pids_limit + kHelperPids;
    }
  }
}

// Mounts: kernel filesystems stay; user binds and volumes stay and are listed for the VM, which
// sees them at the same paths over virtiofs (those below /disks hold disk images and stay the
// container's); user tmpfs mounts move into the VM; Docker's init goes. Then what runcvm adds:
// the kernel's modules where the VM's modprobe looks for them, the bundle (QEMU, virtiofsd, our
// programs) read-only, and the guest's handoff state.
Json mounts_for_vm(const Options& options, const CreateInput& input, const Json& mounts, bool docker_init,
                   handoff::Launch& launch) {
  Json kept = Json::array();
  std::uint64_t guest_bytes = launch.memory_mib << 20;
  for (Json mount : mounts) {
    std::string destination = spec_value<std::string>(mount, "destination", config("mounts[].destination"), "");
    std::string type = spec_value<std::string>(mount, "type", config("mounts[].type"), "");
    if (destination == "/sbin/docker-init" && docker_init) continue;
    if (is_system_mount(mount)) {
      // The VM's /dev/shm gets what --shm-size asked; the container's also holds the guest's RAM.
      if (destination == "/dev/shm" && type == "tmpfs") {
        launch.shm_bytes = size_option(mount, launch.shm_bytes);
        set_size_option(mount, guest_bytes + launch.shm_bytes);
      }
      kept.push_back(mount);
    } else if (type == "tmpfs") {
      launch.tmpfs.push_back(
          {destination, spec_value<std::vector<std::string>>(mount, "options", config("mounts[].options"), {})});
    } else {
      std::string source = spec_value<std::string>(mount, "source", config("mounts[].source"), "");
      // Below /disks are the disks' backing files: the container's alone, never shared with the VM.
      bool shared = !at_or_below(destination, "/disks");
      if (shared && input.host.socket_sources.count(source))
        launch.sockets.push_back(destination);
      else if (shared)
        launch.mounts.push_back({destination, has_option(mount, "ro")});
      kept.push_back(mount);
    }
  }
  if (launch.sockets.size() > handoff::kMaxSockets)
    throw Error(std::to_string(launch.sockets.size()) + " host sockets bind-mounted: a VM relays at most " +
                std::to_string(handoff::kMaxSockets))
        .with_hint("mount a directory holding the sockets instead, or fewer of them");

  launch.kernel = choose_kernel(options, input.image, input.bundle);
  drop_needless_initramfs(launch, input.bundle);
  if (launch.kernel.source == "bundle") {
    std::string host_modules =
        handoff::kernel_artifact::kernel_directory(input.host.bundle_root, launch.kernel.dist, launch.kernel.version) +
        "/" + handoff::kernel_artifact::kModules;
    if (options.kernel_mount_lib_modules)
      kept.push_back({{"destination", "/lib/modules"},
                      {"type", "tmpfs"},
                      {"source", "tmpfs"},
                      {"options", {"nosuid", "nodev", "mode=0755", "size=65536"}}});
    kept.push_back(bind_mount(host_modules, launch.kernel.modules, true));
  }

  kept.push_back(bind_mount(input.host.bundle_root, handoff::kBundleMountPoint, true));
  kept.push_back({{"destination", handoff::kStateDirectory},
                  {"type", "tmpfs"},
                  {"source", "tmpfs"},
                  {"options", {"nosuid", "nodev", "mode=0700", "size=16777216"}}});
  Json launch_mount = bind_mount(input.launch_file, handoff::kLaunchPath, true);
  launch_mount["options"] = {"bind", "nosuid", "nodev", "ro"};
  kept.push_back(launch_mount);
  // What runc executes for `docker exec`, out of the VM's reach (handoff::kStateBundleBin).
  Json exec_programs =
      bind_mount(handoff::BundleLayout{input.host.bundle_root}.programs(), handoff::kStateBundleBin, true);
  exec_programs["options"] = {"bind", "nosuid", "nodev", "ro"};
  kept.push_back(exec_programs);
  return kept;
}

// Devices and privileges QEMU and virtiofsd need, and the few calls they make that Docker's
// seccomp profile denies (runtime/seccomp.hpp). AppArmor's docker-default denies every mount,
// which runcvm-init needs to build the helpers' root: see SECURITY.md.
// CAP_SYS_ADMIN is runcvm-init's alone, to build the helpers' root (mounts) before anything of
// the VM runs; it drops it then, unless the operator gave it (launch.sys_admin).
void grant_helper_privileges(const CreateInput& input, const handoff::Launch& launch, Json& spec) {
  Json& linux_section = spec["linux"];
  Json& process = spec["process"];
  if (input.host.kvm) add_device(linux_section, "/dev/kvm", *input.host.kvm);
  // Where runcvm-init finds, and leaves, the verdict on whether this host's KVM boots the VM
  // (handoff/kvm_verdict.hpp): only where KVM may be tried.
  if (launch.qemu.accel == "auto" && has_device(linux_section, "/dev/kvm")) {
    Json verdicts = bind_mount(handoff::kKvmVerdictHostDirectory, handoff::kKvmVerdictDirectory, false);
    verdicts["options"].push_back("noexec");
    spec["mounts"].push_back(verdicts);
  }
  // Where runcvm-init finds, and builds, the templates its VM may start from (handoff/vm_template.hpp).
  if (!handoff::template_refusal(launch)) {
    Json templates = bind_mount(handoff::kTemplateHostDirectory, handoff::kTemplateDirectory, false);
    templates["options"].push_back("noexec");
    spec["mounts"].push_back(templates);
  }
  if (input.host.tun) add_device(linux_section, "/dev/net/tun", *input.host.tun);
  // The workload's own capabilities (--cap-add, --cap-drop) are in the launch document and set in
  // the VM; the container's only the helpers use.
  set_container_capabilities(process);
  if (auto seccomp = linux_section.find("seccomp"); seccomp != linux_section.end() && !seccomp->is_null())
    allow_helper_syscalls(*seccomp);
  if (process.contains("apparmorProfile")) process["apparmorProfile"] = "unconfined";
}

// The container's own PID 1: runcvm-init as root, with a fixed environment; the workload's
// process lives in the launch document.
void run_runcvm_init(Json& process) {
  handoff::BundleLayout bundle;
  process["args"] = {bundle.path(handoff::kBundleContainerInit)};
  process["env"] = {"PATH=" + bundle.programs() + ":/usr/sbin:/usr/bin:/sbin:/bin"};
  process["cwd"] = "/";
  process["user"] = {{"uid", 0}, {"gid", 0}};
}

}  // namespace

CreateResult transform_create(const CreateInput& input) {
  CreateResult result;
  Json spec = input.spec;
  validate(spec, input);
  Options options = in_context("container environment", [&] {
    return parse_options(spec_value<std::vector<std::string>>(spec["process"], "env", config("process.env"), {}));
  });
  handoff::Launch& launch = result.launch;
  bool docker_init = read_workload(spec, launch);
  require_own_network(spec["linux"]);
  apply_options(options, input, spec["process"], launch);
  size_vm(options, input, spec["linux"], launch);
  spec["mounts"] = mounts_for_vm(options, input, spec["mounts"], docker_init, launch);
  grant_helper_privileges(input, launch, spec);
  run_runcvm_init(spec["process"]);
  result.spec = std::move(spec);
  return result;
}

}  // namespace runcvm::runtime
