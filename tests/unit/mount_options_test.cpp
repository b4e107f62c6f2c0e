#include <sys/mount.h>

#include <catch2/catch_test_macros.hpp>

#include "vm/vm-init/mount_options.hpp"

using runcvm::vm_init::split_mount_options;

TEST_CASE("Docker's --tmpfs options: flags and a size", "[mount-options]") {
  auto split = split_mount_options({"nosuid", "nodev", "noexec", "size=65536k", "rprivate", "tmpcopyup"});
  CHECK(split.flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC));
  CHECK(split.data == "size=65536k");
}

TEST_CASE("containerd's /run: atime modes are flags, not tmpfs data", "[mount-options]") {
  // tmpfs refuses "strictatime" as data with EINVAL: what `ctr run` failed on.
  auto split = split_mount_options({"nosuid", "strictatime", "mode=755", "size=65536k"});
  CHECK(split.flags == (MS_NOSUID | MS_STRICTATIME));
  CHECK(split.data == "mode=755,size=65536k");
  CHECK(split_mount_options({"relatime", "nodiratime", "noatime"}).flags == (MS_RELATIME | MS_NODIRATIME | MS_NOATIME));
}

TEST_CASE("later options undo earlier ones, as mount(8) reads them", "[mount-options]") {
  CHECK(split_mount_options({"ro", "rw"}).flags == 0);
  CHECK(split_mount_options({"rw", "ro"}).flags == MS_RDONLY);
  CHECK(split_mount_options({"nosuid", "suid", "nodev", "dev", "noexec", "exec"}).flags == 0);
  CHECK(split_mount_options({"defaults", "sync", "async"}).flags == 0);
}

TEST_CASE("what is neither a flag nor ignored goes to the filesystem whole, in order", "[mount-options]") {
  auto split = split_mount_options({"uid=1000", "gid=1000", "mode=1777", "nr_inodes=0"});
  CHECK(split.flags == 0);
  CHECK(split.data == "uid=1000,gid=1000,mode=1777,nr_inodes=0");
  CHECK(split_mount_options({"shared", "rslave", "bind", "rbind", "unbindable"}).data.empty());
}
