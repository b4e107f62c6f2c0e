// The host runtime's rootfs resolver, its check of the runtime's mount points, the os-release
// parser and runcvm-init's mountinfo reader against any path and any text. The
// tree below is made once: links to the host's root, loops, relative climbs, a FIFO. Whatever the
// path, a result must lie inside the tree, and reading must never block or return a host file.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "container/runcvm-init/container_root.hpp"
#include "runtime/facts.hpp"
#include "runtime/rootfs.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace {

namespace fs = std::filesystem;

struct Fixture {
  fs::path root;
  std::set<std::pair<dev_t, ino_t>> inside;
  Fixture() {
    char name[] = "/tmp/runcvm-rootfs-fuzz.XXXXXX";
    root = ::mkdtemp(name);
    fs::create_directories(root / "etc");
    fs::create_directories(root / "usr/lib/modules/6.1");
    std::FILE* f = std::fopen((root / "usr/lib/os-release").c_str(), "w");
    std::fputs("ID=debian\n", f);
    std::fclose(f);
    ::mkfifo((root / "etc/fifo").c_str(), 0644);
    fs::create_symlink("/", root / "a");
    fs::create_symlink("../../../../..", root / "etc/up");
    fs::create_symlink("/a/etc/passwd", root / "etc/os-release");
    fs::create_symlink("loop", root / "loop");
    fs::create_symlink("fifo", root / "etc/pipe");
    fs::create_symlink("/usr/lib", root / "lib");
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      struct stat st {};
      if (::lstat(entry.path().c_str(), &st) == 0) inside.insert({st.st_dev, st.st_ino});
    }
    struct stat st {};
    ::lstat(root.c_str(), &st);
    inside.insert({st.st_dev, st.st_ino});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fixture;
  static runcvm::runtime::Rootfs rootfs(fixture.root);
  return runcvm::fuzz::run(data, size, [](std::string_view input) {
    runcvm::runtime::ImageFacts facts;
    runcvm::runtime::parse_os_release(input, facts);
    std::string path(input.substr(0, input.find('\0')));
    if (auto resolved = rootfs.resolve(path)) {
      struct stat st {};
      // The in-root path it reports names the same object when taken under the fixture's root.
      if (::lstat((fixture.root / fs::path(resolved->path).relative_path()).c_str(), &st) != 0 ||
          !fixture.inside.count({st.st_dev, st.st_ino}))
        std::abort();
    }
    if (auto text = rootfs.read_small_file(path)) {
      if (*text != "ID=debian\n") std::abort();  // the only regular file in the tree
    }
    rootfs.list_directories(path);
    // A path it calls plain has no link and nothing but directories along it, in the fixture.
    if (rootfs.plain_directories(path) && path.find("..") == std::string::npos) {
      fs::path walked = fixture.root;
      for (const auto& step : fs::path(path).relative_path()) {
        if (step.empty() || step == ".") continue;
        walked /= step;
        struct stat st {};
        if (::lstat(walked.c_str(), &st) != 0) break;  // absent from here on: runc would make it
        if (!S_ISDIR(st.st_mode)) std::abort();
      }
    }
    // runcvm-init's reading of mountinfo: any text, never a crash, only ids the text holds.
    for (std::uint64_t id : runcvm::container_init::runtime_mount_ids(input))
      if (input.find(std::to_string(id)) == std::string_view::npos) std::abort();
  });
}
