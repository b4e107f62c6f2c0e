// The root QEMU and virtiofsd run in. They are dynamic programs (the bundle's glibc loader), and
// glibc reads /etc/ld.so.preload, NSS, gconv and locale files from whatever `/` is: with the
// container's root as `/`, the image could run its own code beside QEMU, outside the VM. So
// runcvm-init builds them a root of their own, inside the container's mount namespace, before
// anything of the VM runs:
//
//   kHelperRoot (a tmpfs, read-only once built)
//   ├── opt/runcvm   the bundle, read-only: programs, libraries, loader, firmware, kernels
//   ├── dev          the container's /dev (runc's, not the image's): kvm, net/tun, null, urandom
//   ├── proc         QEMU reads the image's kernel at /proc/self/fd/N; virtiofsd keeps /proc/self/fd
//   ├── sys/kernel/mm/transparent_hugepage   read-only, for glibc's malloc (helper_environment)
//   ├── .runcvm      its helper-sockets directory alone: the sockets between runcvm-init and the helpers
//   ├── run          a small tmpfs, the only writable place (virtiofsd's lock file; var/run links here)
//   └── share        what the VM sees over virtiofs: the container's root with its volumes,
//                    without /proc, /sys, /dev and /.runcvm; its /.runcvm is a read-only tmpfs
//                    holding only the launch and network documents the VM reads. Every mount
//                    of it is noexec, nosuid and nodev: virtiofsd, chrooted there, can load no
//                    library of the image's (the guest's own kernel still runs what it likes)
//
// There is no /etc, /lib or /usr in that root: nothing of the image can be loaded by a helper,
// and the image's files reach them only as virtiofsd's shared data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "container/runcvm-init/helper_ids.hpp"
#include "handoff/state_directory.hpp"

namespace runcvm::container_init {

using handoff::kHelperRoot;
// The VM's root inside kHelperRoot, as virtiofsd's and QEMU's paths name it.
inline constexpr const char* kSharedRoot = "/share";

// --read-only: creates `mount_points` (the VM's, vm_mount_points) in the container's root, then
// makes that root read-only, as runc would have; mounts below it (volumes, Docker's /etc files)
// stay as they are. The VM sees it so through virtiofs: writes fail with EROFS. Needs CAP_SYS_ADMIN.
void make_root_read_only(const std::vector<std::string>& mount_points);

// Builds kHelperRoot (needs CAP_SYS_ADMIN). `vm_documents`: files of /.runcvm copied into the
// share's read-only /.runcvm for the VM.
void build_helper_root(const std::vector<std::string>& vm_documents);

// Drops CAP_SYS_ADMIN from every set of this process (bounding included), so neither runcvm-init
// nor any helper holds it while the VM runs. capset(2) and PR_CAPBSET_DROP change the calling
// thread alone: it refuses (Error) to run while runcvm-init has another thread.
void drop_sys_admin();
// The number of threads of this process (/proc/self/status).
unsigned thread_count();

// Refuses (Error) to go on unless the state directory and the programs' bind in it
// (handoff::kStateBundleBin) are mount points: what runc executes for `docker exec` must be
// reached only through mounts, which the VM cannot move (handoff/launch.hpp says why).
void require_state_directory_mounts();

// What a helper keeps of runcvm-init's privileges.
struct HelperPrivileges {
  // false: runcvm-init's set (virtiofsd: it keeps the file server's capabilities itself and drops
  // the rest). true: none, every capability set empty, the bounding set included, and
  // no_new_privs, so no program it could run would regain any. QEMU needs none: its taps, disks,
  // console and the image's kernel come as descriptors, /dev/kvm and its sockets are open to it
  // by their modes and owners (helper_ids.hpp).
  bool drop_all = false;
  // The ids it runs as; nullopt: runcvm-init's (uid 0).
  std::optional<HelperIds> ids = std::nullopt;
};

// Starts a helper chrooted into kHelperRoot with the given argv and env, stdin from /dev/null,
// stderr to /dev/null when `quiet`, no descriptor of runcvm-init's except `keep_fds` (QEMU's
// taps) and no blocked signal (runcvm-init blocks those it reads from a signalfd).
int spawn_helper(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 const std::vector<int>& keep_fds, bool quiet, const HelperPrivileges& privileges = {});

}  // namespace runcvm::container_init
