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
// The kernel keeps part of the RAM for itself: a fixed part (its image, early allocations) and a
// struct page of 64 bytes per 4 KiB page (1/64 of the RAM). Of a VM of 544 MiB, Debian's 6.1
// kernel keeps 58 MiB, runcvm-minimal 35. The VM gets the struct pages and the smaller fixed part
// more than asked, so MemTotal inside comes out close to -m (95 % of it with Debian's kernel, 99 %
// with runcvm-minimal) and never above it, as a user of a container expects of its limit.
inline std::uint64_t kernel_allowance_mib(std::uint64_t requested_mib) { return 24 + requested_mib / 64; }
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
