// PID 1 of the runcvm initramfs: load the modules the kernel needs to reach a virtiofs root (in
// the order the builder computed), mount the root by its tag, free the initramfs, switch root
// and exec the init named on the kernel command line. Static: the initramfs has no libraries.
//
// Kernel command line:  runcvm.root=<virtiofs tag>  runcvm.init=<path>  [runcvm.debug]
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Settings {
  std::string root_tag = "runcvm-root";
  std::string init = "/sbin/init";
  bool debug = false;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "runcvm-initramfs: error: %s\n", message.c_str());
  std::fflush(stderr);
  sync();
  // Powering off (rather than exiting and panicking) lets QEMU exit promptly and the host see
  // this line as the last console output.
  reboot(RB_POWER_OFF);
  _exit(1);
}

std::string errno_text(const std::string& action, const std::string& subject) {
  return action + " \"" + subject + "\": " + std::strerror(errno);
}

void log_step(const Settings& settings, const std::string& message) {
  if (settings.debug) std::fprintf(stderr, "runcvm-initramfs: %s\n", message.c_str());
}

Settings read_settings() {
  std::ifstream file("/proc/cmdline");
  std::string word;
  Settings settings;
  while (file >> word) {
    if (word.rfind("runcvm.root=", 0) == 0) settings.root_tag = word.substr(12);
    else if (word.rfind("runcvm.init=", 0) == 0) settings.init = word.substr(12);
    else if (word == "runcvm.debug") settings.debug = true;
  }
  return settings;
}

void mount_or_fail(const char* source, const char* target, const char* type, unsigned long flags) {
  if (mount(source, target, type, flags, nullptr) != 0) fail(errno_text(std::string("mounting ") + type + " on", target));
}

void load_modules(const Settings& settings) {
  std::ifstream order("/modules/load-order");
  std::string name;
  while (std::getline(order, name)) {
    if (name.empty()) continue;
    std::string path = "/modules/" + name;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(errno_text("opening module", path));
    long rc = syscall(SYS_finit_module, fd, "", 0);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EEXIST) {
      errno = err;
      fail(errno_text("loading module", path));
    }
    log_step(settings, "loaded " + name);
  }
}

// The virtio device may still be probing right after its driver loads; give it a moment.
void mount_root(const Settings& settings) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (mount(settings.root_tag.c_str(), "/newroot", "virtiofs", 0, nullptr) != 0) {
    if (std::chrono::steady_clock::now() > deadline)
      fail(errno_text("mounting virtiofs tag", settings.root_tag) + " (is the vhost-user-fs device attached?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log_step(settings, "mounted virtiofs " + settings.root_tag);
}

// The initramfs stays in memory after switching root unless its files are removed.
void free_initramfs() {
  std::error_code ec;
  fs::remove_all("/modules", ec);
  fs::remove("/init", ec);
}

void switch_root(const Settings& settings) {
  struct stat st {};
  if (stat("/newroot/dev", &st) == 0 && S_ISDIR(st.st_mode)) {
    if (mount("/dev", "/newroot/dev", nullptr, MS_MOVE, nullptr) != 0) umount2("/dev", MNT_DETACH);
  } else {
    umount2("/dev", MNT_DETACH);
  }
  umount2("/proc", MNT_DETACH);
  free_initramfs();
  if (chdir("/newroot") != 0) fail(errno_text("entering", "/newroot"));
  if (mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) fail(errno_text("moving root to", "/"));
  if (chroot(".") != 0 || chdir("/") != 0) fail(errno_text("changing root to", settings.root_tag));
}

}  // namespace

int main() {
  mount_or_fail("devtmpfs", "/dev", "devtmpfs", MS_NOSUID);
  mount_or_fail("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  Settings settings = read_settings();
  load_modules(settings);
  mount_root(settings);
  switch_root(settings);
  log_step(settings, "exec " + settings.init);
  char* argv[] = {settings.init.data(), nullptr};
  execv(settings.init.c_str(), argv);
  fail(errno_text("executing init", settings.init));
}
