#include "container/runcvm-init/helper_ids.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>

#include "common/error.hpp"
#include "common/file.hpp"

namespace runcvm::container_init {

bool id_mapped(std::string_view map_text, unsigned id) {
  std::istringstream lines{std::string(map_text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    unsigned long long inside = 0, outside = 0, count = 0;
    if (!(fields >> inside >> outside >> count)) continue;
    if (id >= inside && id - inside < count) return true;
  }
  return false;
}

std::vector<gid_t> groups_for_kvm(std::optional<std::pair<mode_t, gid_t>> kvm_mode_and_group) {
  if (!kvm_mode_and_group) return {};
  auto [mode, group] = *kvm_mode_and_group;
  if ((mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH)) return {};
  if ((mode & (S_IRGRP | S_IWGRP)) != (S_IRGRP | S_IWGRP) || group == 0) return {};
  return {group};
}

bool may_read_and_write(mode_t mode, uid_t owner, gid_t group, const HelperIds& ids) {
  mode_t needed = S_IROTH | S_IWOTH;
  if (owner == ids.uid)
    needed = S_IRUSR | S_IWUSR;
  else if (group == ids.gid || std::find(ids.groups.begin(), ids.groups.end(), group) != ids.groups.end())
    needed = S_IRGRP | S_IWGRP;
  return ids.uid == 0 || (mode & needed) == needed;
}

std::optional<HelperIds> qemu_ids(std::string& why_not) {
  for (const char* map : {"/proc/self/uid_map", "/proc/self/gid_map"}) {
    unsigned id = std::string_view(map).ends_with("uid_map") ? kQemuUid : kQemuGid;
    if (!id_mapped(read_file(map), id)) {
      why_not = "id " + std::to_string(id) + " is not mapped in this container's user namespace (" + map + ")";
      return std::nullopt;
    }
  }
  std::optional<std::pair<mode_t, gid_t>> kvm;
  if (struct stat st{}; ::stat("/dev/kvm", &st) == 0 && S_ISCHR(st.st_mode)) kvm = {{st.st_mode, st.st_gid}};
  return HelperIds{kQemuUid, kQemuGid, groups_for_kvm(kvm)};
}

void give_socket_to(const char* path, const std::optional<HelperIds>& ids) {
  if (!ids) return;
  if (::lchown(path, ids->uid, ids->gid) != 0) throw system_error("giving QEMU", path, errno);
}

}  // namespace runcvm::container_init
