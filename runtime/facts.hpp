// Facts about the host, the image and the runcvm bundle, gathered once at the edge (by the
// command) and passed into the pure transforms, so tests can state them instead of faking files.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/launch.hpp"
#include "handoff/state_directory.hpp"

namespace runcvm::runtime {

struct DeviceNumber {
  unsigned major = 0;
  unsigned minor = 0;
};

struct HostFacts {
  std::optional<DeviceNumber> kvm;  // /dev/kvm, when the host has it
  std::optional<DeviceNumber> tun;  // /dev/net/tun
  unsigned cpus = 1;                // online CPUs
  std::uint64_t memory_mib = 0;     // the host's RAM (/proc/meminfo MemTotal); 0: unknown
  std::string bundle_root;          // where the runtime is installed (/opt/runcvm), on the host
  // The servers Docker's embedded DNS forwards other names to: the container's --dns, else the
  // host's resolvers (loopback ones replaced by systemd-resolved's upstreams, as Docker does).
  std::vector<std::string> dns_servers;
  // Sources of the spec's bind mounts that are unix sockets on the host (-v /var/run/docker.sock:…):
  // the operator's paths, stat()ed by the runtime; the VM gets a relayed socket for each.
  std::set<std::string> socket_sources;
};

// A kernel the image carries itself, found at a distribution's well-known paths.
struct ImageKernel {
  std::string vmlinuz;  // paths inside the image
  std::string initrd;
  std::string version;  // from the link target (vmlinuz-<version>) or the only /lib/modules entry
};

struct ImageFacts {
  std::optional<ImageKernel> kernel;
  std::string os_id;                 // /etc/os-release ID
  std::vector<std::string> os_like;  // ID_LIKE
  // Mount points runcvm adds (kRuntimeMountPoints) that the image made a link or a file.
  std::vector<std::string> unsafe_mount_points;
};

// The directories runcvm mounts its own things on in every container: the state directory and
// the bundle. The image may have them only as plain directories (Rootfs::plain_directories).
inline constexpr const char* kRuntimeMountPoints[] = {handoff::kStateDirectory, handoff::kBundleMountParent,
                                                      handoff::kBundleMountPoint};

struct BundleFacts {
  // dist -> versions available, and what `latest` points at.
  struct Dist {
    std::vector<std::string> versions;
    std::string latest;
    // Versions whose manifest says they mount the virtiofs root themselves: booted without the initramfs.
    std::set<std::string> root_without_initramfs;
  };
  std::map<std::string, Dist> kernels;
  // handoff::kBundleRequiredFiles that are not regular files here (a bundle half removed).
  std::vector<std::string> missing;
};

// `container_resolv_conf`: the host path Docker mounts at /etc/resolv.conf; its directory holds the
// container's hostconfig.json with --dns. "" when the spec has none.
HostFacts gather_host_facts(const fs::path& runtime_executable, const std::string& container_resolv_conf = "");
// The nameserver lines of a resolv.conf, loopback addresses left out.
std::vector<std::string> non_loopback_nameservers(std::string_view resolv_conf);
ImageFacts gather_image_facts(const fs::path& rootfs);
BundleFacts gather_bundle_facts(const fs::path& bundle_root);

// "ID=debian\nID_LIKE=\"ubuntu debian\"" -> id and like list.
void parse_os_release(std::string_view text, ImageFacts& facts);

}  // namespace runcvm::runtime
