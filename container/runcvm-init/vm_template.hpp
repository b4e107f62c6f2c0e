// Starting the VM from a template (handoff/vm_template.hpp) instead of booting it. Booting the
// kernel is most of a VM's start under TCG, and the same work for every container: runcvm-init
// boots it once per key, without anything of any container (no root, no cards, no disks, a null
// console), until the initramfs says it is parked, and saves the paused machine with QEMU's
// migration stream into the host's template directory. Each later VM is a QEMU that loads that
// stream (RAM included, into its own memfd) paused; runcvm-init then attaches the container's
// root (vhost-user-fs), cards (their taps passed over QMP) and disks to the template's empty
// root ports, and resumes it. The initramfs, which was waiting for its root, mounts it, reseeds
// the kernel's random pool from the host's seed and goes on as after a boot.
//
// Trust: a template is built by runcvm-init alone, from the bundle's files, in the helpers' root,
// before the container's own VM exists; the directory is root's, out of every VM's and helper's
// reach. A state that does not match its manifest (size, CRC-32) or a manifest of another key is
// rebuilt, never loaded; a state QEMU refuses is discarded and the VM boots instead.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "container/runcvm-init/helper_ids.hpp"
#include "container/runcvm-init/qmp.hpp"
#include "container/runcvm-init/vm_command.hpp"
#include "handoff/launch.hpp"
#include "handoff/vm_template.hpp"

namespace runcvm::container_init {

// What building a template needs of runcvm-init: the VM's launch, the bundle, the boot files and
// accelerator, QEMU's ids, and the listeners a template's QEMU connects to as every QEMU does.
struct TemplateBuilder {
  const handoff::Launch& launch;
  const BundleLayout& bundle;
  const BootFiles& files;
  bool kvm = false;
  std::optional<HelperIds> qemu_ids;
  int channel_listener = -1, exec_listener = -1, qmp_listener = -1;
  std::chrono::milliseconds boot_limit{60000};  // for the template to park
};

// The key of the template `builder` builds; throws Error when one cannot be made here (no
// template directory, a file that cannot be read).
handoff::TemplateKey template_key(const TemplateBuilder& builder);

// A template's state or RAM that did not match its manifest: rebuilt (open_template's `rebuild`).
class DamagedTemplate : public Error {
 public:
  using Error::Error;
};

// A template's saved state and RAM, opened read-only, and its manifest.
struct OpenedTemplate {
  UniqueFd state, ram;
  handoff::TemplateManifest manifest;
};

// The template's saved state and RAM, checked against their manifest (all but the RAM's CRC-32,
// which RamCopy checks as it copies it); built first, under the template directory's lock (so that
// concurrent first starts build one), when it is missing, truncated or of another key, or
// `rebuild` says it is damaged. Throws Error naming what failed.
OpenedTemplate open_template(const handoff::TemplateKey& key, const TemplateBuilder& builder, bool rebuild = false);

// A copy of the template's RAM for the VM to start from: a memfd of the guest's RAM size
// (BootFiles::ram_fd) that a thread of its own fills with the template's pages while QEMU starts
// (about 50 ms of the start, beside QEMU's 130). QEMU reads the RAM only when it loads the state,
// which waits for finish().
class RamCopy {
 public:
  // Throws Error when the template's RAM is not the VM's size.
  RamCopy(const OpenedTemplate& opened, const handoff::Launch& launch);
  RamCopy(const RamCopy&) = delete;
  RamCopy& operator=(const RamCopy&) = delete;
  ~RamCopy();
  int fd() const { return ram_.get(); }
  // Once every page is in: throws DamagedTemplate when they did not match the manifest's
  // CRC-32, Error when the copy failed.
  void finish();

 private:
  UniqueFd ram_;
  std::thread thread_;
  std::exception_ptr failure_;  // written by the thread, read after join
};

// Streams a template's state into a pipe that QEMU loads it from (-incoming fd:), checking its
// CRC-32 on the way, on a thread of its own while QEMU loads. QEMU never holds the template's
// file: a QEMU left running as root (helper_ids.hpp) could otherwise reopen it for writing
// through /proc/self/fd and plant a state every later VM would run.
class StatePump {
 public:
  explicit StatePump(OpenedTemplate opened);
  StatePump(const StatePump&) = delete;
  StatePump& operator=(const StatePump&) = delete;
  ~StatePump();
  // The pipe's read end, for QEMU to inherit; closed here once QEMU has it (release_qemu_end).
  int qemu_end() const { return qemu_end_.get(); }
  void release_qemu_end() { qemu_end_.reset(); }
  // Once QEMU has loaded the state: whether every byte of it went through, matching the manifest.
  // Throws DamagedTemplate when the state did not match, Error when it did not go through.
  void finish();

 private:
  UniqueFd qemu_end_;
  std::thread thread_;
  std::string failure_;  // written by the thread, read after join
  bool damaged_ = false;
};

// Removes the template for `key` (QEMU refused its state): the next container builds it again.
void discard_template(const handoff::TemplateKey& key);

// QEMU restoring a template (VmStart::restore), on its monitor: has it load the state from its
// descriptor `incoming_fd` (the pump's pipe), waits until it is loaded and `pump` vouches for it, attaches the
// container's root, cards and RUNCVM_DISKS disks to the template's slots, and resumes the VM. Throws Error naming the
// step (QEMU exiting ends the monitor's socket), DamagedTemplate from the pump.
void attach_and_resume(Qmp& qmp, StatePump& pump, int incoming_fd, const handoff::Launch& launch,
                       const std::vector<Nic>& nics, std::chrono::milliseconds load_limit);

}  // namespace runcvm::container_init
