#include "runtime/vm_capabilities.hpp"

#include <algorithm>

#include "common/capabilities.hpp"

namespace runcvm::runtime {
namespace {

bool holds_default_set(const std::vector<std::string>& set) {
  const auto& defaults = engine_default_capabilities();
  return std::all_of(defaults.begin(), defaults.end(),
                     [&](const std::string& c) { return std::find(set.begin(), set.end(), c) != set.end(); });
}

}  // namespace

const std::vector<std::string>& engine_default_capabilities() {
  static const std::vector<std::string> defaults = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID",       "CAP_SETUID",           "CAP_SETFCAP",    "CAP_SETPCAP",
      "CAP_KILL",    "CAP_SYS_CHROOT",   "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"};
  return defaults;
}

std::vector<std::string> every_capability() { return capability_names(); }

std::optional<handoff::Capabilities> vm_capabilities(const std::optional<handoff::Capabilities>& spec_sets,
                                                     VmCapabilities rule) {
  if (!spec_sets || rule == VmCapabilities::spec || !holds_default_set(spec_sets->bounding)) return spec_sets;
  handoff::Capabilities sets = *spec_sets;
  for (std::vector<std::string>* set : {&sets.bounding, &sets.effective, &sets.permitted})
    if (holds_default_set(*set)) *set = every_capability();
  return sets;
}

std::optional<handoff::Capabilities> vm_capabilities(const std::optional<handoff::Capabilities>& spec_sets,
                                                     std::string_view caps_option) {
  return vm_capabilities(spec_sets, caps_option == "spec" ? VmCapabilities::spec : VmCapabilities::automatic);
}

}  // namespace runcvm::runtime
