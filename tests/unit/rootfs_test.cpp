// The host runtime's view of the image's rootfs: links that try to reach the host, FIFOs that
// would block, files too big to hold, loops; none may be followed, opened or read.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>

#include "runtime/facts.hpp"
#include "runtime/rootfs.hpp"
#include "tests/unit/support.hpp"

namespace runcvm::runtime {
namespace {

// A host directory with a rootfs inside it and a "host file" beside it.
struct HostileImage {
  test::ScratchDirectory host;
  fs::path root = host.path() / "rootfs";
  fs::path secret = host.path() / "host-secret";
  HostileImage() {
    make_directories(root / "etc");
    make_directories(root / "usr/lib");
    write_file_atomic(secret, "ID=ubuntu\n");
    write_file_atomic(root / "usr/lib/os-release", "ID=debian\n");
  }
  void link(const std::string& target, const std::string& name) { fs::create_symlink(target, root / name); }
};

TEST_CASE("links through the image's root never reach the host", "[runtime][rootfs]") {
  HostileImage image;
  // /a -> / then etc/os-release -> /a/<host path>: resolved from the host's / it would read the secret.
  image.link("/", "a");
  image.link("/a" + image.secret.string(), "etc/os-release");
  Rootfs rootfs(image.root);
  CHECK_FALSE(rootfs.resolve("/etc/os-release"));
  CHECK_FALSE(rootfs.read_small_file("/etc/os-release"));
  // Relative links that climb above the root stay at its top, as in a chroot.
  fs::remove(image.root / "etc/os-release");
  image.link("../../../../../../.." + image.secret.string(), "etc/os-release");
  CHECK_FALSE(rootfs.read_small_file("/etc/os-release"));
  CHECK(gather_image_facts(image.root).os_id == "debian");  // os-release(5)'s fallback, never the host's
  // The same path inside the image is what the link finds.
  make_directories(image.root / image.secret.parent_path().relative_path());
  write_file_atomic(image.root / image.secret.relative_path(), "ID=alpine\n");
  CHECK(rootfs.read_small_file("/etc/os-release") == "ID=alpine\n");
  auto resolved = rootfs.resolve("/a/a/a/etc/os-release");
  REQUIRE(resolved);
  CHECK(resolved->path == image.secret.string());
  CHECK(resolved->regular);
}

TEST_CASE("FIFOs, devices, directories and big files are not read", "[runtime][rootfs]") {
  HostileImage image;
  REQUIRE(::mkfifo((image.root / "etc/os-release").c_str(), 0644) == 0);
  Rootfs rootfs(image.root);
  CHECK(rootfs.resolve("/etc/os-release"));                // it exists…
  CHECK_FALSE(rootfs.read_small_file("/etc/os-release"));  // …but is not opened (that would block)
  CHECK(gather_image_facts(image.root).os_id.empty());

  fs::remove(image.root / "etc/os-release");
  {
    AtomicFileWriter big(image.root / "etc/os-release");
    big.write(std::string(Rootfs::kSmallFileLimit + 1, 'x'));
    big.commit();
  }
  CHECK_FALSE(rootfs.read_small_file("/etc/os-release"));
  CHECK(rootfs.read_small_file("/etc/os-release", Rootfs::kSmallFileLimit + 1));
  CHECK_FALSE(rootfs.read_small_file("/etc"));
  CHECK_FALSE(rootfs.read_small_file("/"));
}

TEST_CASE("link loops and overlong chains end without a result", "[runtime][rootfs]") {
  HostileImage image;
  image.link("loop-b", "loop-a");
  image.link("loop-a", "loop-b");
  image.link("self/x", "self");
  Rootfs rootfs(image.root);
  CHECK_FALSE(rootfs.resolve("/loop-a"));
  CHECK_FALSE(rootfs.resolve("/self"));
  // A chain one link longer than the limit fails; one at the limit resolves.
  for (int i = 0; i <= Rootfs::kMaxLinks; ++i)
    image.link(i == 0 ? "usr/lib/os-release" : "l" + std::to_string(i - 1), "l" + std::to_string(i));
  CHECK(rootfs.resolve("/l" + std::to_string(Rootfs::kMaxLinks - 1)));
  CHECK_FALSE(rootfs.resolve("/l" + std::to_string(Rootfs::kMaxLinks)));
  // A file in the middle of a path is not a directory.
  CHECK_FALSE(rootfs.resolve("/usr/lib/os-release/x"));
  CHECK(rootfs.resolve("/usr/../usr/./lib/os-release")->path == "/usr/lib/os-release");
  CHECK(rootfs.resolve("/..")->path == "/");
  CHECK(rootfs.resolve("/usr/..")->directory);
}

TEST_CASE("module directories are listed inside the image only", "[runtime][rootfs]") {
  HostileImage image;
  make_directories(image.root / "lib/modules/6.1.0-18-amd64");
  fs::create_symlink("/", image.root / "lib/modules/escape");  // a link is not a kernel's directory
  Rootfs rootfs(image.root);
  CHECK(rootfs.list_directories("/lib/modules") == std::vector<std::string>{"6.1.0-18-amd64"});
  fs::remove_all(image.root / "lib");
  image.link("/a/../../../../usr", "lib");  // /lib -> /usr (inside), not the host's
  image.link("/", "a");
  make_directories(image.root / "usr/modules/6.5");
  CHECK(rootfs.list_directories("/lib/modules") == std::vector<std::string>{"6.5"});
  CHECK(rootfs.list_directories("/nowhere").empty());
}

TEST_CASE("the runtime's mount points may be plain directories or absent, never links or files", "[runtime][rootfs]") {
  HostileImage image;
  Rootfs rootfs(image.root);
  CHECK(gather_image_facts(image.root).unsafe_mount_points.empty());  // absent: runc makes them
  make_directories(image.root / "opt/runcvm");
  make_directories(image.root / ".runcvm");
  CHECK(rootfs.plain_directories("/opt/runcvm"));
  CHECK(gather_image_facts(image.root).unsafe_mount_points.empty());
  // /.runcvm -> ../../kvm would make runc mount the state elsewhere, and stays the VM's to change.
  fs::remove_all(image.root / ".runcvm");
  image.link("../../kvm", ".runcvm");
  CHECK_FALSE(rootfs.plain_directories("/.runcvm"));
  CHECK_FALSE(rootfs.plain_directories("/.runcvm/bin"));
  // A link above the mount point counts too, and so does anything but a directory.
  fs::remove_all(image.root / "opt");
  image.link("/srv", "opt");
  CHECK_FALSE(rootfs.plain_directories("/opt/runcvm"));
  fs::remove(image.root / "opt");
  make_directories(image.root / "opt");
  write_file_atomic(image.root / "opt/runcvm", "x");
  CHECK_FALSE(rootfs.plain_directories("/opt/runcvm"));
  CHECK(gather_image_facts(image.root).unsafe_mount_points == std::vector<std::string>{"/.runcvm", "/opt/runcvm"});
  fs::remove(image.root / "opt/runcvm");
  REQUIRE(::mkfifo((image.root / "opt/runcvm").c_str(), 0644) == 0);
  CHECK_FALSE(rootfs.plain_directories("/opt/runcvm"));
}

}  // namespace
}  // namespace runcvm::runtime
