// What runcvm-init keeps of the container's root once the VM runs: files and sockets held by
// descriptor (a rename or a planted link at the old path changes nothing), and its capability drop,
// which must not run beside another thread (capset(2) changes the calling thread alone).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include "common/error.hpp"
#include "common/file.hpp"
#include "common/unix_socket.hpp"
#include "container/runcvm-init/held_files.hpp"
#include "container/runcvm-init/helper_ids.hpp"
#include "container/runcvm-init/helper_root.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("a held file is read again through its descriptor, whatever is at its path now", "[guest][held]") {
  test::ScratchDirectory scratch;
  fs::path etc = scratch.path() / "etc";
  make_directories(etc);
  write_file_atomic(etc / "resolv.conf", "nameserver 192.0.2.1\n");
  UniqueFd held = container_init::hold_regular_file((etc / "resolv.conf").string());
  REQUIRE(held);
  // Docker rewrites its file in place; the guest renames the directory and plants its own.
  {
    std::ofstream in_place(etc / "resolv.conf", std::ios::trunc);
    in_place << "nameserver 127.0.0.11\n";
  }
  fs::rename(etc, scratch.path() / "etc.old");
  make_directories(etc);
  write_file_atomic(etc / "resolv.conf", "nameserver 203.0.113.66\n");
  CHECK(container_init::read_held_file(held.get(), "resolv.conf", 4096) == "nameserver 127.0.0.11\n");
  CHECK(container_init::read_held_file(held.get(), "resolv.conf", 4096) == "nameserver 127.0.0.11\n");
  CHECK_THROWS_WITH(container_init::read_held_file(held.get(), "resolv.conf", 8),
                    "\"resolv.conf\" is larger than 8 bytes");
  // A FIFO or a link is not held (and opening the FIFO does not block).
  REQUIRE(::mkfifo((scratch.path() / "fifo").c_str(), 0644) == 0);
  CHECK_FALSE(container_init::hold_regular_file((scratch.path() / "fifo").string()));
  fs::create_symlink(etc / "resolv.conf", scratch.path() / "link");
  CHECK_FALSE(container_init::hold_regular_file((scratch.path() / "link").string()));
  CHECK_FALSE(container_init::hold_regular_file((scratch.path() / "absent").string()));
}

TEST_CASE("a held socket is reached through its inode, not its path", "[guest][held]") {
  test::ScratchDirectory scratch;
  fs::path run = scratch.path() / "run";
  make_directories(run);
  std::string path = (run / "docker.sock").string();
  UniqueFd listener = listen_unix(path.c_str(), 4);
  UniqueFd held = container_init::hold_socket(path);
  fs::rename(run, scratch.path() / "run.old");
  make_directories(run);
  REQUIRE(::mkfifo(path.c_str(), 0644) == 0);
  UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address = unix_address(container_init::held_path(held.get()));
  CHECK(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  CHECK_THROWS_WITH(container_init::hold_socket(path), ContainsSubstring("is not a unix socket"));
}

TEST_CASE("runcvm-init refuses to drop a capability while another thread would keep it", "[guest][held]") {
  std::atomic<bool> stop = false;
  std::thread other([&] {
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  CHECK(container_init::thread_count() >= 2);
  CHECK_THROWS_WITH(container_init::drop_sys_admin(), ContainsSubstring("would keep it"));
  stop = true;
  other.join();
}

TEST_CASE("QEMU, under a uid of its own, reads the image's root-only kernel through a sealed copy", "[guest][held]") {
  test::ScratchDirectory scratch;
  fs::path kernel = scratch.path() / "vmlinuz";
  write_file_atomic(kernel, std::string(3 << 20, 'k') + "end", fs::perms(0600));  // as Ubuntu ships it
  UniqueFd file(::open(kernel.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(file);
  UniqueFd copy = container_init::copy_to_sealed_memory(file.get(), "the image's kernel", 8 << 20);
  REQUIRE(copy);
  std::string through_copy = "/proc/self/fd/" + std::to_string(copy.get());
  std::string through_file = "/proc/self/fd/" + std::to_string(file.get());
  // In a child with QEMU's ids and no capability: the file itself is refused (the test could
  // fail), its copy reads whole and cannot be written.
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setresgid(container_init::kQemuGid, container_init::kQemuGid, container_init::kQemuGid) != 0 ||
        ::setresuid(container_init::kQemuUid, container_init::kQemuUid, container_init::kQemuUid) != 0)
      ::_exit(10);
    if (::open(through_file.c_str(), O_RDONLY) >= 0 || errno != EACCES) ::_exit(11);
    int fd = ::open(through_copy.c_str(), O_RDONLY);
    if (fd < 0) ::_exit(12);
    std::string content(4 << 20, '\0');
    ssize_t n = ::pread(fd, content.data(), content.size(), 0);
    if (n != (3 << 20) + 3 || content.compare(static_cast<std::size_t>(n) - 3, 3, "end") != 0) ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(::pwrite(copy.get(), "x", 1, 0) == -1);
  CHECK(errno == EPERM);
  CHECK(::ftruncate(copy.get(), 8 << 20) == -1);  // no growing
  CHECK(::ftruncate(copy.get(), 0) == 0);         // emptied once the guest runs
  CHECK_THROWS_WITH(container_init::copy_to_sealed_memory(file.get(), "the image's kernel", 1 << 20),
                    ContainsSubstring("the image's kernel grew past 1 MiB"));
}

TEST_CASE("QEMU's ids: mapped or not, and the group /dev/kvm asks for", "[guest][held]") {
  CHECK(container_init::id_mapped("         0          0 4294967295\n", container_init::kQemuUid));
  // userns-remap and rootless Podman: 0 and the 65536 ids after it.
  CHECK(container_init::id_mapped("0 100000 65536\n", container_init::kQemuUid));
  CHECK_FALSE(container_init::id_mapped("0 1000 1\n", container_init::kQemuUid));
  CHECK(container_init::id_mapped("0 1000 1\n1 100000 65536\n", container_init::kQemuUid));
  CHECK_FALSE(container_init::id_mapped("0 100000 65510\n", container_init::kQemuUid));
  CHECK_FALSE(container_init::id_mapped("garbage\n", container_init::kQemuUid));
  CHECK(container_init::groups_for_kvm(std::nullopt).empty());
  CHECK(container_init::groups_for_kvm(std::pair<mode_t, gid_t>{S_IFCHR | 0666, 0}).empty());
  CHECK(container_init::groups_for_kvm(std::pair<mode_t, gid_t>{S_IFCHR | 0660, 108}) == std::vector<gid_t>{108});
  // Never root's group, nor a group the device does not open to.
  CHECK(container_init::groups_for_kvm(std::pair<mode_t, gid_t>{S_IFCHR | 0660, 0}).empty());
  CHECK(container_init::groups_for_kvm(std::pair<mode_t, gid_t>{S_IFCHR | 0600, 108}).empty());
  container_init::HelperIds qemu{container_init::kQemuUid, container_init::kQemuGid, {108}};
  CHECK(container_init::may_read_and_write(S_IFCHR | 0666, 0, 0, qemu));
  CHECK(container_init::may_read_and_write(S_IFCHR | 0660, 0, 108, qemu));
  CHECK_FALSE(container_init::may_read_and_write(S_IFCHR | 0660, 0, 0, qemu));
  CHECK_FALSE(container_init::may_read_and_write(S_IFCHR | 0606, 0, 108, qemu));  // its group's bits decide
  CHECK(container_init::may_read_and_write(S_IFCHR | 0600, container_init::kQemuUid, 0, qemu));
}
