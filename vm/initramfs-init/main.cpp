// PID 1 of the runcvm initramfs: load the modules the kernel needs to reach a virtiofs root (in
// the order the builder computed), mount the root by its tag, free the initramfs, switch root,
// then go on as the VM's init (vm/vm-init/pid1.hpp) when that is the init named on the kernel
// command line, or exec the one named. Static: the initramfs has no libraries.
//
// It carries all of runcvm-vm-init (2.5 MB rather than 0.8 MB): exec'ing it from the root cost
// every restored VM about 100 ms of TCG, and a template saves this process with the C library's
// and C++ runtime's start-up already behind it. A cold boot is no slower for the larger
// initramfs (docs/PERFORMANCE.md, "Start").
//
// Kernel command line: the keys of handoff/kernel_artifact.hpp.
#include <dirent.h>
#include <fcntl.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "channel/frame.hpp"
#include "channel/session.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/kernel_artifact.hpp"
#include "handoff/state_directory.hpp"
#include "vm/vm-init/pid1.hpp"

namespace {

struct Settings {
  std::string root_tag = runcvm::handoff::kernel_artifact::kRootTag;
  std::string init = "/sbin/init";
  bool debug = false;
  bool template_vm = false;  // kCmdlineTemplate
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

std::string read_small_file(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno_text("opening", path));
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  close(fd);
  return text;
}

// Calls f for each piece of `text` separated by any of `separators`, skipping empty pieces.
template <class F>
void for_each_word(const std::string& text, const char* separators, F f) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of(separators, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) f(text.substr(start, end - start));
    start = end + 1;
  }
}

Settings read_settings() {
  Settings settings;
  for_each_word(read_small_file("/proc/cmdline"), " \t\n", [&](const std::string& word) {
    namespace artifact = runcvm::handoff::kernel_artifact;
    if (word.starts_with(artifact::kCmdlineRootTag))
      settings.root_tag = word.substr(artifact::kCmdlineRootTag.size());
    else if (word.starts_with(artifact::kCmdlineInit))
      settings.init = word.substr(artifact::kCmdlineInit.size());
    else if (word == artifact::kCmdlineDebug)
      settings.debug = true;
    else if (word == artifact::kCmdlineTemplate)
      settings.template_vm = true;
  });
  return settings;
}

void mount_or_fail(const char* source, const char* target, const char* type, unsigned long flags) {
  if (mount(source, target, type, flags, nullptr) != 0)
    fail(errno_text(std::string("mounting ") + type + " on", target));
}

void load_modules(const Settings& settings) {
  for_each_word(read_small_file("/modules/load-order"), "\n", [&](const std::string& name) {
    std::string path = "/modules/" + name;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(errno_text("opening module", path));
    // Modules of an image's kernel arrive as the image ships them (.ko.xz, .ko.zst, .ko.gz): the
    // kernel decompresses them itself (MODULE_INIT_COMPRESSED_FILE, Linux 5.17, with
    // CONFIG_MODULE_DECOMPRESS), so this init carries no decompressor.
    constexpr int kCompressedFile = 4;
    bool compressed = name.ends_with(".xz") || name.ends_with(".zst") || name.ends_with(".gz");
    long rc = syscall(SYS_finit_module, fd, "", compressed ? kCompressedFile : 0);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EEXIST) {
      errno = err;
      fail(errno_text("loading module", path) +
           (compressed && err == EOPNOTSUPP ? " (the kernel cannot decompress it: no CONFIG_MODULE_DECOMPRESS)" : ""));
    }
    log_step(settings, "loaded " + name);
  });
}

double seconds_now() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// The virtio device may still be probing right after its driver loads; give it a moment. A
// template VM has no root device yet: each copy restored from it gets one, whenever that is.
void mount_root(const Settings& settings) {
  double deadline = seconds_now() + 10;
  while (mount(settings.root_tag.c_str(), "/newroot", "virtiofs", 0, nullptr) != 0) {
    if (!settings.template_vm && seconds_now() > deadline)
      fail(errno_text("mounting virtiofs tag", settings.root_tag) + " (is the vhost-user-fs device attached?)");
    timespec pause{0, 20 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  log_step(settings, "mounted virtiofs " + settings.root_tag);
}

// The /dev node of the virtio-serial port named `name`, once its driver has made it ("" after 10 s).
std::string find_port(const char* name) {
  double deadline = seconds_now() + 10;
  do {
    if (DIR* dir = opendir("/sys/class/virtio-ports")) {
      std::string found;
      while (dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string base = std::string("/sys/class/virtio-ports/") + entry->d_name;
        int fd = open((base + "/name").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char text[64] = {};
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        std::string port_name(text, n > 0 ? static_cast<size_t>(n) : 0);
        if (!port_name.empty() && port_name.back() == '\n') port_name.pop_back();
        if (port_name == name) found = std::string("/dev/") + entry->d_name;
      }
      closedir(dir);
      struct stat st {};
      if (!found.empty() && stat(found.c_str(), &st) == 0) return found;
    }
    timespec pause{0, 10 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  } while (seconds_now() < deadline);
  return "";
}

// A template VM tells the host it is ready to be saved: everything before this is the same in
// every copy of it, nothing after it has run yet. The ports stay open for the VM's init.
void say_parked(const Settings& settings, runcvm::vm_init::InitramfsHandover& handover) {
  mount_or_fail("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  std::string port = find_port(runcvm::channel::kPortName);
  if (port.empty()) fail(std::string("the channel port ") + runcvm::channel::kPortName + " did not appear");
  std::string exec_port = find_port(runcvm::channel::kExecPortName);
  if (exec_port.empty()) fail(std::string("the exec port ") + runcvm::channel::kExecPortName + " did not appear");
  handover.channel_port = open(port.c_str(), O_RDWR | O_CLOEXEC);
  if (handover.channel_port < 0) fail(errno_text("opening", port));
  handover.exec_port = open(exec_port.c_str(), O_RDWR | O_CLOEXEC);
  if (handover.exec_port < 0) fail(errno_text("opening", exec_port));
  const auto& message = runcvm::handoff::kernel_artifact::kTemplateParked;
  if (write(handover.channel_port, message.data(), message.size()) != static_cast<ssize_t>(message.size()))
    fail(errno_text("writing to", port));
  umount2("/sys", MNT_DETACH);
  log_step(settings, "parked");
}

// The host's random bytes, added to the kernel's pool and credited, and a reseed forced, before
// anything after it draws on it: every program exec'd from here on gets its stack canary and
// AT_RANDOM from the reseeded pool (this process, restored from a template, keeps the template's:
// SECURITY.md, section 10). A root without them (an older runtime) leaves the pool as it is.
void reseed_from_host(const Settings& settings) {
  std::string path = std::string("/newroot") + runcvm::handoff::kSeedPath;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return;
  // RNDADDENTROPY takes a rand_pool_info header followed by the bytes.
  constexpr size_t kBytes = runcvm::handoff::kSeedBytes;
  alignas(rand_pool_info) unsigned char request[sizeof(rand_pool_info) + kBytes] = {};
  ssize_t n = read(fd, request + sizeof(rand_pool_info), kBytes);
  close(fd);
  if (n != static_cast<ssize_t>(kBytes)) fail("reading the host's seed \"" + path + "\": too short");
  rand_pool_info header{};
  header.entropy_count = static_cast<int>(kBytes * 8);
  header.buf_size = static_cast<int>(kBytes);
  std::memcpy(request, &header, sizeof header);
  int pool = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (pool < 0) fail(errno_text("opening", "/dev/urandom"));
  if (ioctl(pool, RNDADDENTROPY, request) != 0) fail(errno_text("adding the host's seed to", "/dev/urandom"));
  if (ioctl(pool, RNDRESEEDCRNG) != 0) fail(errno_text("reseeding", "/dev/urandom"));
  close(pool);
  log_step(settings, "reseeded from the host");
}

// The initramfs stays in memory after switching root unless its files are removed (this program's
// own pages stay while it runs).
void free_initramfs() {
  if (DIR* dir = opendir("/modules")) {
    while (dirent* entry = readdir(dir))
      if (entry->d_name[0] != '.') unlinkat(dirfd(dir), entry->d_name, 0);
    closedir(dir);
  }
  rmdir("/modules");
  unlink("/init");
}

void switch_root(const Settings& settings) {
  struct stat st {};
  if (stat("/newroot/dev", &st) == 0 && S_ISDIR(st.st_mode)) {
    if (mount("/dev", "/newroot/dev", nullptr, MS_MOVE, nullptr) != 0) umount2("/dev", MNT_DETACH);
  } else {
    umount2("/dev", MNT_DETACH);
  }
  umount2("/proc", MNT_DETACH);
  if (chdir("/newroot") != 0) fail(errno_text("entering", "/newroot"));
  if (mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) fail(errno_text("moving root to", "/"));
  if (chroot(".") != 0 || chdir("/") != 0) fail(errno_text("changing root to", settings.root_tag));
}

// The VM's init goes by its own name (`ps`, /proc/1/cmdline and comm), as when a kernel without
// an initramfs starts it from the root, not as this archive's /init. Cosmetic: a kernel that
// refuses leaves /init.
void take_name_of(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  // The kernel reads a command line only from anonymous memory (not this binary's data).
  if (path.size() >= 4096) return;
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return;
  auto* cmdline = static_cast<char*>(page);
  std::memcpy(cmdline, path.c_str(), path.size() + 1);
  // The new range is below the stack's argv: its start first, so that start < end holds throughout.
  prctl(PR_SET_MM, PR_SET_MM_ARG_START, reinterpret_cast<unsigned long>(cmdline), 0, 0);
  prctl(PR_SET_MM, PR_SET_MM_ARG_END, reinterpret_cast<unsigned long>(cmdline + path.size() + 1), 0, 0);
}

}  // namespace

int main() {
  // When the kernel's own boot ended, for RUNCVM_TIMINGS.
  timespec started{};
  clock_gettime(CLOCK_BOOTTIME, &started);
  mount_or_fail("devtmpfs", "/dev", "devtmpfs", MS_NOSUID);
  mount_or_fail("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  Settings settings = read_settings();
  load_modules(settings);
  // Before a template is saved: its copies have nothing of it to free.
  free_initramfs();
  runcvm::vm_init::InitramfsHandover handover;
  handover.started = static_cast<double>(started.tv_sec) + static_cast<double>(started.tv_nsec) / 1e9;
  if (settings.template_vm) say_parked(settings, handover);
  mount_root(settings);
  reseed_from_host(settings);
  switch_root(settings);
  if (settings.init == runcvm::handoff::BundleLayout{}.vm_init()) {
    log_step(settings, "going on as " + settings.init);
    take_name_of(settings.init);
    runcvm::vm_init::run_as_pid1(handover);
  }
  log_step(settings, "exec " + settings.init);
  char* argv[] = {settings.init.data(), nullptr};
  execv(settings.init.c_str(), argv);
  fail(errno_text("executing init", settings.init));
}
