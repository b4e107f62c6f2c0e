// Who QEMU runs as. Without capabilities, uid 0 still owns root's files: the container's /dev
// nodes, runcvm-init's state files, whatever runc created. QEMU gets a uid and gid of its own
// instead, so that a guest that takes QEMU over holds no file of the container's by ownership.
// The ids are fixed (no passwd entry is needed: nothing resolves names): in Debian's range kept
// free for local use by no one (65000-65533), below nobody (65534) and within the 65536 ids a
// user namespace (userns-remap, rootless Podman) usually maps.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm::container_init {

inline constexpr uid_t kQemuUid = 65510;
inline constexpr gid_t kQemuGid = 65510;

struct HelperIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary
};

// Whether `id` is mapped in the text of /proc/self/uid_map or gid_map ("inside outside count"
// lines). A malformed line maps nothing.
bool id_mapped(std::string_view map_text, unsigned id);

// The supplementary group QEMU needs for /dev/kvm, given its mode and group: none when others
// may read and write it (runcvm's own device entry is 0666); the device's group when that group
// may (an operator's `--device /dev/kvm` keeps the host's 0660 root:kvm); never group 0, which
// would make root's group files QEMU's too (a device only root's group may use stays closed to
// QEMU, and the VM runs under TCG).
std::vector<gid_t> groups_for_kvm(std::optional<std::pair<mode_t, gid_t>> kvm_mode_and_group);

// Whether a file of this mode and owner is open for reading and writing to `ids`.
bool may_read_and_write(mode_t mode, uid_t owner, gid_t group, const HelperIds& ids);

// QEMU's ids in this container, or nullopt with `why_not` set when this user namespace does not
// map them (QEMU then keeps uid 0, still without any capability).
std::optional<HelperIds> qemu_ids(std::string& why_not);

// Gives the socket at `path` (in runcvm-init's state directory, out of the VM's reach) to QEMU,
// which connects to it without capabilities. Nothing when `ids` is nullopt.
void give_socket_to(const char* path, const std::optional<HelperIds>& ids);

}  // namespace runcvm::container_init
