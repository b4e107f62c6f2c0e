#include "runtime/seccomp.hpp"

#include <cstdint>
#include <set>
#include <string>

#include "common/error.hpp"

namespace runcvm::runtime {
namespace {

using Json = nlohmann::json;

// unshare(2)'s namespace flags: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
// (0x7E020000, the mask Docker's profile uses for clone without CAP_SYS_ADMIN) and CLONE_NEWTIME
// (0x80, Linux 5.6), which clone(2) cannot take but unshare(2) can: a time namespace is a
// namespace all the same, and virtiofsd's unshare(CLONE_FS) needs none of them.
constexpr std::uint64_t kNamespaceFlags = 0x7E020000 | 0x80;

// The calls allowed without arguments checked in rules that already exist.
std::set<std::string> allowed_unconditionally(const Json& syscalls) {
  std::set<std::string> names;
  for (const auto& rule : syscalls) {
    if (!rule.is_object() || rule.value("action", "") != "SCMP_ACT_ALLOW") continue;
    auto args = rule.find("args");
    if (args != rule.end() && args->is_array() && !args->empty()) continue;
    auto list = rule.find("names");
    if (list == rule.end() || !list->is_array()) continue;
    for (const auto& name : *list)
      if (name.is_string()) names.insert(name.get<std::string>());
  }
  return names;
}

}  // namespace

void allow_helper_syscalls(Json& seccomp) {
  if (!seccomp.is_object())
    throw Error("config.json: field `linux.seccomp`: expected an object, got " + seccomp.dump());
  if (seccomp.value("defaultAction", "") == "SCMP_ACT_ALLOW") return;
  Json& syscalls = seccomp["syscalls"];
  if (syscalls.is_null()) syscalls = Json::array();
  if (!syscalls.is_array())
    throw Error("config.json: field `linux.seccomp.syscalls`: expected a list, got " + syscalls.dump());

  std::set<std::string> present = allowed_unconditionally(syscalls);
  // mount/umount2/mount_setattr build the helpers' root; they still need CAP_SYS_ADMIN in the
  // kernel, and runcvm-init takes them back from itself and every helper with a filter of its own
  // once that root is built (container/runcvm-init/mount_seal.hpp). chroot is the helpers'
  // confinement, entered at each helper's start.
  Json names = Json::array();
  for (const char* name : {"mount", "umount2", "mount_setattr", "chroot"})
    if (!present.count(name)) names.push_back(name);
  if (!names.empty()) syscalls.push_back({{"names", names}, {"action", "SCMP_ACT_ALLOW"}});
  // runc hands `value` and `valueTwo` to libseccomp as mask and operand: unshare is allowed when
  // (flags & namespace flags) == 0, as Docker allows clone.
  if (!present.count("unshare"))
    syscalls.push_back(
        {{"names", {"unshare"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"args", {{{"index", 0}, {"value", kNamespaceFlags}, {"valueTwo", 0}, {"op", "SCMP_CMP_MASKED_EQ"}}}}});
}

}  // namespace runcvm::runtime
