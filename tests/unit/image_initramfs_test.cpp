// runcvm's initramfs for an image's own kernel: which of the image's modules go in (from its
// modules.dep, pure), the bounds on what a hostile image can make runcvm-init read, and the
// archive's contents as the kernel and runcvm-initramfs-init will see them.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstdlib>
#include <map>

#include "common/error.hpp"
#include "common/file.hpp"
#include "container/runcvm-init/image_initramfs.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

namespace {

// The lines of Debian bookworm's 6.1.0-50-cloud-amd64 modules.dep that matter here, as depmod
// wrote them in the image (virtio, fuse and virtiofs are modules; unrelated lines around them).
constexpr const char* kDebianModulesDep =
    "kernel/fs/fuse/fuse.ko:\n"
    "kernel/fs/fuse/cuse.ko: kernel/fs/fuse/fuse.ko\n"
    "kernel/fs/fuse/virtiofs.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko "
    "kernel/fs/fuse/fuse.ko\n"
    "kernel/drivers/virtio/virtio.ko:\n"
    "kernel/drivers/virtio/virtio_ring.ko:\n"
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
    "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n"
    "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko "
    "kernel/drivers/virtio/virtio.ko\n"
    "kernel/drivers/net/dummy.ko:\n";

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::vector<std::string> select(std::string_view dep, std::string_view builtin, std::string_view machine = "q35",
                                std::size_t max_count = 64) {
  return container_init::select_root_modules(dep, builtin, container_init::root_module_names(machine), max_count,
                                             "6.1.0-50-cloud-amd64", "/lib/modules/6.1.0-50-cloud-amd64");
}

// The newc archive read back: path -> (mode, data, rdev "major:minor"), and the order of paths.
struct CpioListing {
  std::vector<std::string> order;
  std::map<std::string, std::tuple<unsigned, std::string, std::string>> entries;
};

unsigned long hex_field(const std::string& archive, std::size_t at) {
  return std::strtoul(archive.substr(at, 8).c_str(), nullptr, 16);
}

CpioListing read_cpio(const std::string& archive) {
  CpioListing listing;
  std::size_t at = 0;
  for (;;) {
    REQUIRE(archive.size() >= at + 110);
    REQUIRE(archive.substr(at, 6) == "070701");
    unsigned mode = static_cast<unsigned>(hex_field(archive, at + 6 + 8));
    std::size_t size = hex_field(archive, at + 6 + 6 * 8);
    std::string rdev =
        std::to_string(hex_field(archive, at + 6 + 9 * 8)) + ":" + std::to_string(hex_field(archive, at + 6 + 10 * 8));
    std::size_t name_size = hex_field(archive, at + 6 + 11 * 8);
    std::string name = archive.substr(at + 110, name_size - 1);
    at = (at + 110 + name_size + 3) / 4 * 4;
    std::string data = archive.substr(at, size);
    at = (at + size + 3) / 4 * 4;
    if (name == "TRAILER!!!") break;
    listing.order.push_back(name);
    listing.entries[name] = {mode, data, rdev};
  }
  CHECK(at == archive.size());
  return listing;
}

}  // namespace

TEST_CASE("an image kernel's root modules: each after what it needs, each once", "[guest][image-initramfs]") {
  CHECK(joined(select(kDebianModulesDep, "")) ==
        "kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/virtio/virtio_pci_modern_dev.ko\n"
        "kernel/drivers/virtio/virtio_pci_legacy_dev.ko\n"
        "kernel/drivers/virtio/virtio_pci.ko\n"
        "kernel/fs/fuse/fuse.ko\n"
        "kernel/fs/fuse/virtiofs.ko\n");
  // microvm's devices sit on virtio-mmio.
  CHECK(joined(select(kDebianModulesDep, "", "microvm")) ==
        "kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/virtio/virtio_mmio.ko\n"
        "kernel/fs/fuse/fuse.ko\n"
        "kernel/fs/fuse/virtiofs.ko\n");
  // Ubuntu-like: the virtio core built in, fuse and virtiofs compressed modules.
  CHECK(joined(select("kernel/fs/fuse/virtiofs.ko.zst: kernel/fs/fuse/fuse.ko.zst\nkernel/fs/fuse/fuse.ko.zst:\n",
                      "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n"
                      "kernel/drivers/virtio/virtio_pci.ko\n")) ==
        "kernel/fs/fuse/fuse.ko.zst\nkernel/fs/fuse/virtiofs.ko.zst\n");
  // Everything built in: no module at all.
  CHECK(select("",
               "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n"
               "kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/fuse/fuse.ko\nkernel/fs/fuse/virtiofs.ko\n")
            .empty());
}

TEST_CASE("an image kernel without virtiofs fails in one line naming version, module and place",
          "[guest][image-initramfs]") {
  std::string without_virtiofs = kDebianModulesDep;
  without_virtiofs.erase(
      without_virtiofs.find("kernel/fs/fuse/virtiofs.ko:"),
      without_virtiofs.find("kernel/drivers/virtio/virtio.ko:") - without_virtiofs.find("kernel/fs/fuse/virtiofs.ko:"));
  CHECK_THROWS_WITH(select(without_virtiofs, ""),
                    ContainsSubstring("the image's kernel \"6.1.0-50-cloud-amd64\" has no module \"virtiofs\" (looked "
                                      "in /lib/modules/6.1.0-50-cloud-amd64/modules.dep and modules.builtin)"));
}

TEST_CASE("hostile modules.dep: paths out of the tree, odd names and too many modules are refused",
          "[guest][image-initramfs]") {
  const std::string builtin_rest =
      "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio_pci.ko\n"
      "kernel/fs/fuse/fuse.ko\n";
  for (const char* path : {"../../../etc/virtiofs.ko", "kernel/../../x/virtiofs.ko", "/etc/virtiofs.ko",
                           "kernel//virtiofs.ko", "kernel/fs/virtiofs.ko\x1b[31m", "kernel/fs/virtiofs"}) {
    INFO(path);
    CHECK_THROWS_WITH(select(std::string(path) + ":\n", builtin_rest),
                      ContainsSubstring("not a plain relative module path"));
  }
  // A dependency path is checked as well as the module's own.
  CHECK_THROWS_WITH(select("kernel/fs/fuse/virtiofs.ko: ../../bin/sh.ko\n", builtin_rest),
                    ContainsSubstring("\"../../bin/sh.ko\", not a plain relative module path"));
  CHECK(container_init::is_plain_module_path("updates/dkms/virtio-fs.ko.xz"));
  CHECK_FALSE(container_init::is_plain_module_path("kernel/./virtiofs.ko"));
  // A virtiofs "needing" 70 modules: refused past the bound, not read.
  std::string many = "kernel/fs/fuse/virtiofs.ko:";
  for (int i = 0; i < 70; ++i) many += " kernel/m" + std::to_string(i) + ".ko";
  CHECK_THROWS_WITH(select(many + "\n", builtin_rest),
                    ContainsSubstring("needs more than 64 modules to mount its root"));
  CHECK(select(many + "\n", builtin_rest, "q35", 71).size() == 71);
}

TEST_CASE("the initramfs for an image kernel: init, modules as shipped and their load order",
          "[guest][image-initramfs]") {
  auto listing = read_cpio(container_init::write_cpio(container_init::plan_image_initramfs(
      "INIT-PROGRAM", {{"kernel/fs/fuse/fuse.ko.zst", "FUSE"}, {"kernel/fs/fuse/virtiofs.ko", "VIRTIOFS"}})));
  CHECK(joined(listing.order) ==
        "dev\ndev/console\ninit\nmodules\nmodules/fuse.ko.zst\nmodules/load-order\nmodules/virtiofs.ko\nnewroot\n"
        "proc\nsys\n");
  CHECK(listing.entries["init"] ==
        std::tuple<unsigned, std::string, std::string>{S_IFREG | 0755, "INIT-PROGRAM", "0:0"});
  CHECK(listing.entries["dev/console"] == std::tuple<unsigned, std::string, std::string>{S_IFCHR | 0600, "", "5:1"});
  CHECK(std::get<0>(listing.entries["modules"]) == (S_IFDIR | 0755));
  CHECK(std::get<1>(listing.entries["modules/fuse.ko.zst"]) == "FUSE");
  CHECK(std::get<1>(listing.entries["modules/load-order"]) == "fuse.ko.zst\nvirtiofs.ko\n");
  // Two modules of one file name cannot share the flat directory.
  CHECK_THROWS_WITH(container_init::plan_image_initramfs("I", {{"a/x.ko", ""}, {"b/x.ko", ""}}),
                    ContainsSubstring("have the same file name \"x.ko\""));
}

TEST_CASE("the image's modules are read inside its root, bounded", "[guest][image-initramfs]") {
  test::ScratchDirectory scratch;
  const fs::path& root = scratch.path();
  fs::path modules = root / "usr/lib/modules/6.1.0-50-cloud-amd64";
  make_directories(modules / "kernel/fs/fuse");
  make_directories(root / "lib");
  write_file_atomic(modules / "modules.builtin",
                    "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n"
                    "kernel/drivers/virtio/virtio_pci.ko\n");
  write_file_atomic(modules / "modules.dep",
                    "kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\nkernel/fs/fuse/fuse.ko:\n");
  write_file_atomic(modules / "kernel/fs/fuse/fuse.ko", "FUSE");
  write_file_atomic(modules / "kernel/fs/fuse/virtiofs.ko", "VIRTIOFS");
  container_init::ContainerRoot image("the image's kernel modules", root.string());

  // Found under /usr/lib/modules when /lib/modules has none (merged /usr without the link).
  auto listing = read_cpio(container_init::build_image_initramfs(image, "6.1.0-50-cloud-amd64", "q35", "INIT"));
  CHECK(std::get<1>(listing.entries["modules/load-order"]) == "fuse.ko\nvirtiofs.ko\n");
  CHECK(std::get<1>(listing.entries["modules/virtiofs.ko"]) == "VIRTIOFS");

  // A version that is a path is refused before anything is read.
  CHECK_THROWS_WITH(container_init::build_image_initramfs(image, "../../etc", "q35", "INIT"),
                    ContainsSubstring("is not a directory name"));

  // An oversized module, and a total past the bound.
  container_init::ImageModuleLimits small;
  small.file = 6;
  CHECK_THROWS_WITH(container_init::build_image_initramfs(image, "6.1.0-50-cloud-amd64", "q35", "INIT", small),
                    ContainsSubstring("virtiofs.ko\" is 8 bytes, more than the 6 runcvm reads of it"));
  container_init::ImageModuleLimits tight;
  tight.total = 10;
  CHECK_THROWS_WITH(container_init::build_image_initramfs(image, "6.1.0-50-cloud-amd64", "q35", "INIT", tight),
                    ContainsSubstring("the modules to mount its root exceed"));

  // Links that point out of the image's root resolve inside it: the host's file is never read.
  write_file_atomic(scratch.path() / "outside.ko", "HOST-FILE");
  for (const std::string& target : {(scratch.path() / "outside.ko").string(),
                                    "../../../../../../../../../../" + (scratch.path() / "outside.ko").string()}) {
    fs::remove(modules / "kernel/fs/fuse/virtiofs.ko");
    fs::create_symlink(target, modules / "kernel/fs/fuse/virtiofs.ko");
    CHECK_THROWS_WITH(
        container_init::build_image_initramfs(image, "6.1.0-50-cloud-amd64", "q35", "INIT"),
        ContainsSubstring("has no module file \"/usr/lib/modules/6.1.0-50-cloud-amd64/kernel/fs/fuse/virtiofs.ko\""));
  }
  // A FIFO in its place is refused without blocking.
  fs::remove(modules / "kernel/fs/fuse/virtiofs.ko");
  REQUIRE(::mkfifo((modules / "kernel/fs/fuse/virtiofs.ko").c_str(), 0644) == 0);
  CHECK_THROWS_WITH(container_init::build_image_initramfs(image, "6.1.0-50-cloud-amd64", "q35", "INIT"),
                    ContainsSubstring("virtiofs.ko\" is not a regular file"));
  // A device node is refused before its driver's open runs: the terminal a 5:0 node names would
  // fail that open (no controlling terminal here), so an error other than ours means it ran.
  fs::remove(modules / "kernel/fs/fuse/virtiofs.ko");
  REQUIRE(::mknod((modules / "kernel/fs/fuse/virtiofs.ko").c_str(), S_IFCHR | 0644, ::makedev(5, 0)) == 0);
  CHECK_THROWS_WITH(container_init::build_image_initramfs(image, "6.1.0-50-cloud-amd64", "q35", "INIT"),
                    ContainsSubstring("virtiofs.ko\" is not a regular file"));
  // Without any modules.dep: said so, naming both places looked in.
  fs::remove(modules / "modules.dep");
  CHECK_THROWS_WITH(container_init::build_image_initramfs(image, "6.1.0-50-cloud-amd64", "q35", "INIT"),
                    ContainsSubstring("has no modules.dep in /lib/modules/6.1.0-50-cloud-amd64 or "
                                      "/usr/lib/modules/6.1.0-50-cloud-amd64"));
}
