// runcvm's own initramfs for an image's kernel, built by runcvm-init at container start: the
// initramfs init of the bundle kernels (runcvm-initramfs-init) plus the image kernel's own modules
// needed to reach the virtiofs root. An image's initrd (initramfs-tools with MODULES=most, dracut,
// mkinitfs) often lacks fuse and virtiofs, and each generator spells its root= hooks differently;
// with this, the image's initrd is never needed, only its kernel and /lib/modules/<version>.
//
// The image's files are hostile: they are read only through ContainerRoot (links resolve inside
// the container's root, never into runcvm's or the kernel's mounts), bounded in count and size,
// and the modules are copied as bytes into the VM's initramfs, never loaded or parsed here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "container/runcvm-init/container_root.hpp"

namespace runcvm::container_init {

struct ImageModuleLimits {
  std::size_t count = 64;                  // modules in the initramfs
  std::uint64_t file = 16ull << 20;        // one module file
  std::uint64_t total = 64ull << 20;       // all of them
  std::uint64_t index_file = 16ull << 20;  // modules.dep or modules.builtin (Ubuntu's full modules.dep: ~1 MiB)
};

// The modules a VM of `machine` needs to mount its root: the virtio core and ring, the transport
// its devices sit on (virtio-mmio on microvm, PCI elsewhere), fuse and virtiofs; each either a
// module or built in.
std::vector<std::string> root_module_names(std::string_view machine);

// The module files to load, relative to the modules directory, each after the modules it depends
// on and each once; built-in modules are skipped. Pure. `modules_dep` and `modules_builtin` are
// the image's (depmod's format: "path: dependency-paths…", loadable from last to first). Throws
// one line naming `version`, the module and `where` when a wanted module is neither, and refuses
// a path that is not a plain relative module path (no "..", no absolute path) or more than `max_count`.
std::vector<std::string> select_root_modules(std::string_view modules_dep, std::string_view modules_builtin,
                                             const std::vector<std::string>& wanted, std::size_t max_count,
                                             std::string_view version, std::string_view where);

// A plain relative path of a module file: [A-Za-z0-9._+-] components, none empty, "." or "..",
// ending .ko, .ko.xz, .ko.gz or .ko.zst.
bool is_plain_module_path(std::string_view path);

struct CpioEntry {
  std::string path;   // relative, no leading slash
  unsigned mode = 0;  // with its file type bits (S_IFDIR, S_IFREG, S_IFCHR)
  std::string data;
  unsigned rdev_major = 0, rdev_minor = 0;
};

// An uncompressed newc cpio archive (the kernel unpacks it as an initramfs): entries sorted by
// path, owner 0:0, mtime 0, so that equal inputs give equal bytes.
std::string write_cpio(std::vector<CpioEntry> entries);

// The files of the initramfs: the init, the modules (names kept, compressed or not) and their
// load order, in the layout runcvm-initramfs-init reads (handoff/kernel_artifact.hpp).
std::vector<CpioEntry> plan_image_initramfs(std::string init_program,
                                            std::vector<std::pair<std::string, std::string>> modules_in_order);

// Reads the image's modules directory through `root` and returns the whole archive. `init_program`
// is the bundle's runcvm-initramfs-init.
std::string build_image_initramfs(const ContainerRoot& root, std::string_view version, std::string_view machine,
                                  std::string init_program, const ImageModuleLimits& limits = {});

}  // namespace runcvm::container_init
