// The mount calls runcvm-init needs only while it builds the helpers' root. Docker's seccomp
// profile denies mount(2) and umount2(2); the runtime allows them for the container
// (runtime/seccomp.hpp) because that root is built inside the container, after runc applied the
// profile. Once it is built, this filter takes them back for runcvm-init, every thread of it and
// every helper it starts (filters are inherited and cannot be removed): a takeover of any of
// them later can no longer mount, unmount or move a mount, whatever capabilities it holds.
// chroot(2) stays: each helper enters its root at its start, the TCG retry included.
#pragma once

#include <linux/filter.h>

#include <vector>

namespace runcvm::container_init {

// The classic BPF program: EPERM for every call of the mount family (mount, umount, umount2,
// pivot_root, and the new mount API: open_tree, move_mount, fsopen, fsconfig, fsmount, fspick,
// mount_setattr) in each ABI a process may use (on x86_64: native, x32 and i386) and for every
// call of an ABI it does not know; anything else allowed (Docker's own filter, applied before,
// still decides).
std::vector<sock_filter> mount_seal_program();

// Installs mount_seal_program on every thread of this process (SECCOMP_FILTER_FLAG_TSYNC).
// Needs CAP_SYS_ADMIN or no_new_privs, so it runs before runcvm-init drops SYS_ADMIN.
void seal_mounts();

}  // namespace runcvm::container_init
