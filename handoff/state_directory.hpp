// The container's state directory: a tmpfs the runtime mounts at /.runcvm in every runcvm
// container, 0700, root's. It carries the documents the runtime hands to runcvm-init and the VM,
// the sockets between runcvm-init, its helpers and `docker exec`, and runcvm-init's log. Every
// path of it is spelled here and nowhere else (tests/unit/contracts_test.cpp checks the tree).
#pragma once

#include <cstddef>

namespace runcvm::handoff {

inline constexpr const char* kStateDirectory = "/.runcvm";

// The documents (launch.hpp, network.hpp); also inside the VM, over virtiofs, read-only.
inline constexpr const char* kLaunchPath = "/.runcvm/launch.json";
inline constexpr const char* kNetworkPath = "/.runcvm/network.json";
// Random bytes from the host the VM's initramfs adds to its kernel's pool, crediting them and
// forcing a reseed before it runs the VM's init: a VM restored from a template starts with the
// template's random state, and must not share it with its siblings. Also in the VM, read-only.
inline constexpr const char* kSeedPath = "/.runcvm/seed";
inline constexpr std::size_t kSeedBytes = 64;

// The bundle's programs again, inside the state directory: what runc executes for `docker exec`
// once the VM runs. Not the bundle's mount point (/opt/runcvm): the VM's share is a live, writable
// view of the container's root, and rename(2) moves a mount point with a renamed ancestor, so
// root in the VM could move /opt aside and plant its own /opt/runcvm/bin/runcvm-exec for the host
// side to run. Here every ancestor is a mount point (the root, the state tmpfs, this bind), which
// rename(2) refuses to move (EBUSY), and the share does not hold the state directory at all.
inline constexpr const char* kStateBundleBin = "/.runcvm/bin";
inline constexpr const char* kExecClient = "/.runcvm/bin/runcvm-exec";
// Where runcvm-init accepts runcvm-exec's sessions once the VM's exec agent runs (it appears
// then, so a client that finds it can start at once).
inline constexpr const char* kExecSocket = "/.runcvm/exec.sock";

// The KVM verdicts runcvm-init reads and writes (kvm_verdict.hpp): the host's /run/runcvm/kvm,
// bound here.
inline constexpr const char* kKvmVerdictDirectory = "/.runcvm/kvm";
// The host's template directory (vm_template.hpp), bound here.
inline constexpr const char* kTemplateDirectory = "/.runcvm/templates";

// runcvm-init's notices (notice.hpp), at most 256 KiB.
inline constexpr const char* kInitLog = "/.runcvm/runcvm-init.log";

// Sockets between runcvm-init, virtiofsd and QEMU, in a directory the helpers' root holds at the
// same path, without the rest of the state directory. Each socket QEMU connects to is owned by
// QEMU's uid.
inline constexpr const char* kHelperSocketDirectory = "/.runcvm/helper-sockets";
inline constexpr const char* kVirtiofsSocket = "/.runcvm/helper-sockets/virtiofs.sock";
inline constexpr const char* kChannelSocket = "/.runcvm/helper-sockets/channel.sock";
inline constexpr const char* kExecPortSocket = "/.runcvm/helper-sockets/exec-port.sock";
// QEMU's monitor (QMP), for hot-plugging network cards; on machines with PCI only.
inline constexpr const char* kQmpSocket = "/.runcvm/helper-sockets/qmp.sock";

// The root QEMU and virtiofsd run in (helper_root.hpp).
inline constexpr const char* kHelperRoot = "/.runcvm/helpers";

}  // namespace runcvm::handoff
