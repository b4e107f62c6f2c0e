// The `create` transform: the container's OCI spec and facts in, the spec that boots a VM out,
// plus the launch document that tells the guest what the container would have run. Pure: no
// files, no system calls; the command gathers facts and writes results.
#pragma once

#include <nlohmann/json.hpp>

#include "handoff/launch.hpp"
#include "runtime/facts.hpp"

namespace runcvm::runtime {

// Memory the VM gets when the container has no limit and RUNCVM_MEM is not set.
inline constexpr std::uint64_t kDefaultMemoryMib = 512;
// The kernel keeps part of the RAM for itself (its image, page tables, struct pages): about 46 MiB
// of 512 MiB for Debian's 6.1 kernel. The VM gets this much more than asked, so MemTotal inside
// comes out close to -m, as a user of a VM expects.
inline std::uint64_t kernel_allowance_mib(std::uint64_t requested_mib) { return 32 + requested_mib / 50; }
// Added to a container memory limit (and to its memory+swap limit) for QEMU, virtiofsd and the
// other helpers, since the guest's RAM itself lives in the container's /dev/shm.
inline constexpr std::uint64_t kMemoryContingencyMib = 256;
// Processes and threads of the container besides the workload's (runcvm-init and its DNS
// forwarder, virtiofsd's thread pool, QEMU's vCPU and I/O threads), added to --pids-limit.
inline constexpr std::int64_t kHelperPids = 256;

struct CreateInput {
  nlohmann::json spec;  // config.json as runc would read it
  HostFacts host;
  ImageFacts image;
  BundleFacts bundle;
  std::string launch_file;  // host path the launch document will be written to
};

struct CreateResult {
  nlohmann::json spec;
  handoff::Launch launch;
};

// Throws runcvm::Error (one line, naming the field or option) for specs it cannot transform.
CreateResult transform_create(const CreateInput& input);

// CPUs for the VM from the spec's CPU quota/period (rounded up), else its cpuset, else the host's.
unsigned cpus_from_resources(const nlohmann::json& resources, unsigned host_cpus);
// "0-3,8,10-11" -> 7; 0 when malformed.
unsigned count_cpuset(std::string_view cpus);

}  // namespace runcvm::runtime
