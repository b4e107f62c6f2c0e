#include "vm/vm-init/mount_options.hpp"

#include <sys/mount.h>

#include <map>
#include <set>
#include <string_view>

namespace runcvm::vm_init {
namespace {

struct FlagEffect {
  bool clear;
  unsigned long flag;
};

// mount(8)'s names for the MS_* flags, as runc maps them.
const std::map<std::string_view, FlagEffect>& flag_names() {
  static const std::map<std::string_view, FlagEffect> names = {
      {"acl", {false, MS_POSIXACL}},       {"async", {true, MS_SYNCHRONOUS}},
      {"atime", {true, MS_NOATIME}},       {"defaults", {false, 0}},
      {"dev", {true, MS_NODEV}},           {"diratime", {true, MS_NODIRATIME}},
      {"dirsync", {false, MS_DIRSYNC}},    {"exec", {true, MS_NOEXEC}},
      {"iversion", {false, MS_I_VERSION}}, {"lazytime", {false, MS_LAZYTIME}},
      {"loud", {true, MS_SILENT}},         {"mand", {false, MS_MANDLOCK}},
      {"noacl", {true, MS_POSIXACL}},      {"noatime", {false, MS_NOATIME}},
      {"nodev", {false, MS_NODEV}},        {"nodiratime", {false, MS_NODIRATIME}},
      {"noexec", {false, MS_NOEXEC}},      {"noiversion", {true, MS_I_VERSION}},
      {"nolazytime", {true, MS_LAZYTIME}}, {"nomand", {true, MS_MANDLOCK}},
      {"norelatime", {true, MS_RELATIME}}, {"nostrictatime", {true, MS_STRICTATIME}},
      {"nosuid", {false, MS_NOSUID}},      {"relatime", {false, MS_RELATIME}},
      {"ro", {false, MS_RDONLY}},          {"rw", {true, MS_RDONLY}},
      {"silent", {false, MS_SILENT}},      {"strictatime", {false, MS_STRICTATIME}},
      {"suid", {true, MS_NOSUID}},         {"sync", {false, MS_SYNCHRONOUS}},
  };
  return names;
}

const std::set<std::string_view>& ignored_names() {
  static const std::set<std::string_view> names = {"private", "rprivate", "shared",     "rshared",
                                                   "slave",   "rslave",   "unbindable", "runbindable",
                                                   "bind",    "rbind",    "tmpcopyup"};
  return names;
}

}  // namespace

MountOptions split_mount_options(const std::vector<std::string>& options) {
  MountOptions out;
  for (const auto& option : options) {
    if (ignored_names().count(option)) continue;
    auto flag = flag_names().find(option);
    if (flag == flag_names().end()) {
      out.data += (out.data.empty() ? "" : ",") + option;
    } else if (flag->second.clear) {
      out.flags &= ~flag->second.flag;
    } else {
      out.flags |= flag->second.flag;
    }
  }
  return out;
}

}  // namespace runcvm::vm_init
