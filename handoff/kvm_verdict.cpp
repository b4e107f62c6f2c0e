#include "handoff/kvm_verdict.hpp"

#include <cstdio>

#include "common/error.hpp"
#include "common/text.hpp"
#include "handoff/fields.hpp"
#include "handoff/launch.hpp"

namespace runcvm::handoff::detail {

template <>
struct Fields<KvmVerdictKey> {
  static constexpr std::tuple list{field("boot_id", &KvmVerdictKey::boot_id), field("device", &KvmVerdictKey::device),
                                   field("qemu", &KvmVerdictKey::qemu), field("kernel", &KvmVerdictKey::kernel)};
};

// The key's fields sit at the top level of the file, beside these (read and written apart).
template <>
struct Fields<KvmFailure> {
  static constexpr std::size_t kMembersApart = 1;
  static constexpr std::tuple list{field("reason", &KvmFailure::reason),
                                   field("recorded_at", &KvmFailure::recorded_at)};
};

}  // namespace runcvm::handoff::detail

namespace runcvm::handoff {

using detail::Json;
using detail::Reader;

namespace {

constexpr int kVerdictVersion = 1;

}  // namespace

std::string kvm_verdict_file_name(const KvmVerdictKey& key) {
  return hex_name(key.boot_id + '\n' + key.device + '\n' + key.qemu + '\n' + key.kernel) + ".json";
}

std::string to_json_text(const KvmFailure& failure) {
  Json out = {{"version", kVerdictVersion}};
  detail::write_fields(out, failure.key);
  out["kvm_boots"] = false;
  detail::write_fields(out, failure);
  return out.dump(2) + "\n";
}

std::optional<KvmFailure> parse_kvm_failure(std::string_view text) {
  if (text.size() > kKvmVerdictMaxBytes) return std::nullopt;
  try {
    Json root = detail::parse_json(text, "KVM verdict");
    Reader r(root, "", "KVM verdict");
    if (r.required<int>("version") != kVerdictVersion) return std::nullopt;
    if (r.required<bool>("kvm_boots")) return std::nullopt;
    KvmFailure failure = detail::read_object<KvmFailure>(r);
    failure.key = detail::read_object<KvmVerdictKey>(r);
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
