#include "runtime/facts.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/kernel_artifact.hpp"
#include "handoff/kernel_manifest.hpp"
#include "handoff/launch.hpp"
#include "runtime/rootfs.hpp"

namespace runcvm::runtime {
namespace {

std::optional<DeviceNumber> character_device(const char* path) {
  struct stat st {};
  if (::stat(path, &st) != 0 || !S_ISCHR(st.st_mode)) return std::nullopt;
  return DeviceNumber{::major(st.st_rdev), ::minor(st.st_rdev)};
}

// The kernel release of an image whose only /lib/modules entry names it.
std::string only_module_directory(const Rootfs& rootfs) {
  for (const char* dir : {"/lib/modules", "/usr/lib/modules"}) {
    auto versions = rootfs.list_directories(dir);
    if (!versions.empty()) return versions.size() == 1 ? versions.front() : "";
  }
  return "";
}

}  // namespace

std::vector<std::string> non_loopback_nameservers(std::string_view resolv_conf) {
  std::vector<std::string> out;
  while (!resolv_conf.empty()) {
    size_t eol = resolv_conf.find('\n');
    std::string line(resolv_conf.substr(0, eol));
    resolv_conf = eol == std::string_view::npos ? std::string_view{} : resolv_conf.substr(eol + 1);
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    if (address.starts_with("127.") || address == "::1") continue;
    out.push_back(address);
  }
  return out;
}

namespace {

std::vector<std::string> dns_servers(const std::string& container_resolv_conf) {
  if (!container_resolv_conf.empty()) {
    try {  // docker run --dns, kept by dockerd in hostconfig.json next to the container's resolv.conf
      auto config = nlohmann::json::parse(read_file(fs::path(container_resolv_conf).parent_path() / "hostconfig.json"));
      if (auto it = config.find("Dns"); it != config.end() && it->is_array() && !it->empty())
        return it->get<std::vector<std::string>>();
    } catch (const std::exception&) {  // not dockerd's layout: the host's resolvers, then
    }
  }
  for (const char* path : {"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"}) {
    try {
      auto servers = non_loopback_nameservers(read_file(path));
      if (!servers.empty()) return servers;
    } catch (const Error&) {
    }
  }
  return {};
}

}  // namespace

HostFacts gather_host_facts(const fs::path& runtime_executable, const std::string& container_resolv_conf) {
  HostFacts facts;
  facts.dns_servers = dns_servers(container_resolv_conf);
  facts.kvm = character_device("/dev/kvm");
  facts.tun = character_device("/dev/net/tun");
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  facts.cpus = cpus > 0 ? static_cast<unsigned>(cpus) : 1;
  long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0)
    facts.memory_mib = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size) >> 20;
  // <bundle>/bin/runcvm-runtime (handoff::kBundleRuntime)
  facts.bundle_root = runtime_executable.parent_path().parent_path().string();
  return facts;
}

void parse_os_release(std::string_view text, ImageFacts& facts) {
  auto value_of = [](std::string_view raw) {
    std::string v(raw);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    return v;
  };
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.starts_with("ID=")) {
      facts.os_id = value_of(line.substr(3));
    } else if (line.starts_with("ID_LIKE=")) {
      facts.os_like.clear();
      std::string like = value_of(line.substr(8));
      size_t start = 0;
      while (start < like.size()) {
        size_t end = like.find(' ', start);
        if (end == std::string::npos) end = like.size();
        if (end > start) facts.os_like.push_back(like.substr(start, end - start));
        start = end + 1;
      }
    }
  }
}

ImageFacts gather_image_facts(const fs::path& rootfs_path) {
  ImageFacts facts;
  Rootfs rootfs(rootfs_path);
  // Debian, Ubuntu and Alpine keep a kernel at these paths when one is installed in the image.
  const std::pair<const char*, const char*> layouts[] = {{"/vmlinuz", "/initrd.img"},
                                                         {"/boot/vmlinuz", "/boot/initrd.img"},
                                                         {"/boot/vmlinuz-virt", "/boot/initramfs-virt"}};
  for (const auto& [vmlinuz, initrd] : layouts) {
    auto kernel = rootfs.resolve(vmlinuz);
    auto ramdisk = rootfs.resolve(initrd);
    if (!kernel || !kernel->regular || !ramdisk || !ramdisk->regular) continue;
    std::string name = fs::path(kernel->path).filename().string();
    std::string version =
        name.starts_with("vmlinuz-") && name != "vmlinuz-virt" ? name.substr(8) : only_module_directory(rootfs);
    facts.kernel = ImageKernel{vmlinuz, initrd, version};
    break;
  }
  // os-release(5): /etc/os-release, else /usr/lib/os-release. An unreadable one (a link out of
  // the image's reach, a FIFO, a huge file) only means the distribution is unknown.
  for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
    if (!rootfs.resolve(path)) continue;
    if (auto text = rootfs.read_small_file(path)) parse_os_release(*text, facts);
    break;
  }
  for (const char* point : kRuntimeMountPoints)
    if (!rootfs.plain_directories(point)) facts.unsafe_mount_points.emplace_back(point);
  return facts;
}

namespace {

// The kernel's manifest (written by runcvm-build, part of the installed bundle). Unreadable, of
// another format or without the flag: the kernel boots through the initramfs, which every bundle
// kernel has.
bool mounts_root_without_initramfs(const fs::path& kernel_directory) {
  try {
    return handoff::parse_kernel_manifest(read_file(kernel_directory / handoff::kernel_artifact::kManifest))
        .root_without_initramfs;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

BundleFacts gather_bundle_facts(const fs::path& bundle_root) {
  BundleFacts facts;
  std::error_code ec;
  for (const auto& dist : fs::directory_iterator(bundle_root / handoff::kernel_artifact::kKernelsDirectory, ec)) {
    if (!dist.is_directory()) continue;
    BundleFacts::Dist entry;
    std::error_code inner;
    for (const auto& version : fs::directory_iterator(dist.path(), inner)) {
      if (!version.is_directory() || version.is_symlink()) continue;
      std::string name = version.path().filename().string();
      entry.versions.push_back(name);
      if (mounts_root_without_initramfs(version.path())) entry.root_without_initramfs.insert(name);
    }
    entry.latest = fs::read_symlink(dist.path() / handoff::kernel_artifact::kLatest, inner).string();
    std::sort(entry.versions.begin(), entry.versions.end());
    if (!entry.versions.empty()) facts.kernels[dist.path().filename().string()] = std::move(entry);
  }
  for (const char* file : handoff::kBundleRequiredFiles)
    if (!fs::is_regular_file(bundle_root / file, ec)) facts.missing.emplace_back(file);
  return facts;
}

}  // namespace runcvm::runtime
