#include "handoff/kvm_verdict.hpp"

#include <cstdio>

#include "common/error.hpp"
#include "handoff/json_reader.hpp"
#include "handoff/launch.hpp"

namespace runcvm::handoff {

using detail::Json;
using detail::Reader;

namespace {

constexpr int kVerdictVersion = 1;

// FNV-1a, 64 bits: the name only has to be stable and spread the keys; static programs carry no
// digest library (OpenSSL is the builder's), and a collision only means one verdict replaces another.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

}  // namespace

std::string kvm_verdict_file_name(const KvmVerdictKey& key) {
  char name[32];
  std::snprintf(
      name, sizeof name, "%016llx.json",
      static_cast<unsigned long long>(fnv1a(key.boot_id + '\n' + key.device + '\n' + key.qemu + '\n' + key.kernel)));
  return name;
}

std::string to_json_text(const KvmFailure& failure) {
  Json out = {{"version", kVerdictVersion}, {"boot_id", failure.key.boot_id},    {"device", failure.key.device},
              {"qemu", failure.key.qemu},   {"kernel", failure.key.kernel},      {"kvm_boots", false},
              {"reason", failure.reason},   {"recorded_at", failure.recorded_at}};
  return out.dump(2) + "\n";
}

std::optional<KvmFailure> parse_kvm_failure(std::string_view text) {
  if (text.size() > kKvmVerdictMaxBytes) return std::nullopt;
  try {
    Json root = detail::parse_json(text, "KVM verdict");
    Reader r(root, "", "KVM verdict");
    if (r.required<int>("version") != kVerdictVersion) return std::nullopt;
    KvmFailure failure;
    failure.key = {r.required<std::string>("boot_id"), r.required<std::string>("device"),
                   r.required<std::string>("qemu"), r.required<std::string>("kernel")};
    if (r.required<bool>("kvm_boots")) return std::nullopt;
    failure.reason = r.required<std::string>("reason");
    failure.recorded_at = r.required<std::int64_t>("recorded_at");
    r.finish();
    return failure;
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool kvm_verdict_applies(const Launch& launch) {
  Qemu runcvms_own;
  runcvms_own.accel = launch.qemu.accel;
  return launch.qemu == runcvms_own && launch.kernel.append.empty() && !launch.hugetlb &&
         launch.display_mode == "headless";
}

}  // namespace runcvm::handoff
