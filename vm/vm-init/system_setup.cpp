#include "vm/vm-init/system_setup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <thread>

#include "channel/frame.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"
#include "common/text.hpp"
#include "handoff/bundle_layout.hpp"
#include "handoff/machine.hpp"
#include "handoff/vm_mounts.hpp"
#include "vm/vm-init/mount_options.hpp"

namespace runcvm::vm_init {
namespace {

void mount_fs(const char* source, const char* target, const char* type, unsigned long flags, const std::string& data) {
  ::mkdir(target, 0755);
  if (::mount(source, target, type, flags, data.empty() ? nullptr : data.c_str()) != 0 && errno != EBUSY)
    throw system_error(std::string("mounting ") + type + " on", target, errno);
}

bool mounted(const char* target) {
  struct stat here {
  }, parent{};
  std::string up = std::string(target) + "/..";
  return ::stat(target, &here) == 0 && ::stat(up.c_str(), &parent) == 0 && here.st_dev != parent.st_dev;
}

// The new mount API (Linux 5.2): glibc 2.36 declares it, older headers do not; the numbers are
// the same on every architecture since then.
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
constexpr unsigned kOpenTreeClone = 1;                // OPEN_TREE_CLONE
constexpr unsigned kMoveMountEmptyPath = 0x00000004;  // MOVE_MOUNT_F_EMPTY_PATH

}  // namespace

CoveredMounts::CoveredMounts(const handoff::Launch& launch) {
  // In the VM the image's root is "/": its symlinks resolve as runc resolved them in the rootfs.
  std::vector<std::string> covered = handoff::covered_mounts(launch, [](const std::string& path) {
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(path, ec);
    return ec ? path : resolved.string();
  });
  // Cloned from the VM's own tree before anything of the VM is mounted over them (kernels before
  // 6.5 clone nothing out of a detached tree, so not from a clone of the root).
  for (const auto& destination : covered) {
    UniqueFd clone(
        static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, destination.c_str(), kOpenTreeClone | O_CLOEXEC)));
    if (!clone)
      throw system_error("keeping the container's mount visible below the VM's own (open_tree, Linux 5.2): cloning",
                         destination, errno);
    clones_.emplace_back(destination, std::move(clone));
  }
}

void CoveredMounts::attach() {
  for (auto& [destination, fd] : clones_) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw system_error("reading the container's mount", destination, errno);
    make_directories(fs::path(destination).parent_path());
    if (S_ISDIR(st.st_mode)) {
      ::mkdir(destination.c_str(), 0755);
    } else {
      UniqueFd target(::open(destination.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
      if (!target) throw system_error("making the mount point of", destination, errno);
    }
    if (::syscall(SYS_move_mount, fd.get(), "", AT_FDCWD, destination.c_str(), kMoveMountEmptyPath) != 0)
      throw system_error("attaching the container's mount again at", destination, errno);
  }
  clones_.clear();
}

void mount_system_filesystems() {
  mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  if (!mounted("/dev")) mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mount_fs("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  // /dev/ptmx must be the new devpts instance's, as in a container.
  ::unlink("/dev/ptmx");
  ::symlink("pts/ptmx", "/dev/ptmx");
  mount_fs("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_fs("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  for (auto [link, target] : {std::pair{"/dev/fd", "/proc/self/fd"},
                              {"/dev/stdin", "/proc/self/fd/0"},
                              {"/dev/stdout", "/proc/self/fd/1"},
                              {"/dev/stderr", "/proc/self/fd/2"}})
    ::symlink(target, link);
}

namespace {

// The cgroup filesystems RUNCVM_CGROUPFS asks for: "2" the unified hierarchy at /sys/fs/cgroup,
// "1" one v1 hierarchy per controller, "hybrid" (what systemd calls it) v1 controllers plus the
// unified hierarchy at /sys/fs/cgroup/unified, "none" nothing.
void mount_cgroups(const std::string& mode) {
  if (mode == "none") return;
  if (mode == "2") {
    mount_fs("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
    return;
  }
  mount_fs("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
  // "#subsys_name hierarchy num_cgroups enabled"
  for (const auto& line : split_nonempty(read_file("/proc/cgroups"), '\n')) {
    if (line[0] == '#') continue;
    std::string name = line.substr(0, line.find('\t'));
    if (line.size() < 2 || line.back() != '1') continue;  // disabled controller
    mount_fs("cgroup", ("/sys/fs/cgroup/" + name).c_str(), "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, name);
  }
  if (mode == "hybrid") mount_fs("cgroup2", "/sys/fs/cgroup/unified", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
}

// The block device whose virtio serial is `serial` (/dev/vdb, …); it may take a moment to appear.
std::string block_device_with_serial(const std::string& serial) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    if (DIR* dir = ::opendir("/sys/block")) {
      while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string found;
        try {
          found = read_value_file(std::string("/sys/block/") + entry->d_name + "/serial");
        } catch (const Error&) {
          continue;
        }
        if (found == serial) {
          std::string device = std::string("/dev/") + entry->d_name;
          ::closedir(dir);
          return device;
        }
      }
      ::closedir(dir);
    }
    if (std::chrono::steady_clock::now() > deadline) throw Error("no block device with serial " + quote(serial));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// RUNCVM_DISKS: each disk on its mount point, over what the image has there (it was copied onto
// the disk when the disk was created). Mounted directly rather than through the image's
// /etc/fstab, which is the container's file and stays as the image made it.
void mount_disks(const std::vector<handoff::Disk>& disks) {
  for (std::size_t i = 0; i < disks.size(); ++i) {
    const auto& d = disks[i];
    std::string device = block_device_with_serial(handoff::disk_serial(i));
    make_directories(d.destination);
    if (::mount(device.c_str(), d.destination.c_str(), d.filesystem.c_str(), 0, nullptr) != 0) {
      int error = errno;
      struct stat st {};
      std::string why = ::stat(device.c_str(), &st) != 0 ? " (no device node " + device + ")"
                        : read_file("/proc/filesystems").find("\t" + d.filesystem + "\n") == std::string::npos
                            ? " (the kernel has no " + d.filesystem + " filesystem)"
                            : "";
      throw system_error("mounting RUNCVM_DISKS disk " + quote(d.source) + " (" + device + ") on", d.destination + why,
                         error);
    }
  }
}

}  // namespace

namespace {

// --sysctl k=v in the VM's kernel, as runc writes it: /proc/sys/<k with dots as slashes>. The keys
// come from the operator's command line (Docker validated them); one that would leave /proc/sys is
// refused all the same.
void apply_sysctls(const std::map<std::string, std::string>& sysctls) {
  for (const auto& [key, value] : sysctls) {
    std::string relative = key;
    std::replace(relative.begin(), relative.end(), '.', '/');
    if (relative.empty() || relative.front() == '/' || relative.find("//") != std::string::npos ||
        relative.find("..") != std::string::npos)
      throw Error("--sysctl " + quote(key) + ": not a sysctl name");
    std::string path = "/proc/sys/" + relative;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw system_error("--sysctl " + key + ": opening", path, errno);
    if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
      throw system_error("--sysctl " + key + "=" + value + ": writing", path, errno);
  }
}

}  // namespace

void apply_launch_settings(const handoff::Launch& launch) {
  // The kernel's requests for modules go to runcvm's helper, not to the image's /sbin/modprobe
  // (which may not exist): see vm/modprobe/main.cpp.
  std::string helper = handoff::BundleLayout{}.path(handoff::kBundleModprobe);
  UniqueFd modprobe(::open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC));
  if (modprobe && ::write(modprobe.get(), helper.data(), helper.size()) != static_cast<ssize_t>(helper.size()))
    throw system_error("setting the kernel's module helper in", "/proc/sys/kernel/modprobe", errno);
  apply_sysctls(launch.sysctls);
  mount_cgroups(launch.cgroupfs);
  std::string shm = "mode=1777,size=" + std::to_string(launch.shm_bytes);
  if (::mount("shm", "/dev/shm", "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, shm.c_str()) != 0)
    throw system_error("sizing /dev/shm to --shm-size", std::to_string(launch.shm_bytes), errno);
  if (!launch.hostname.empty() && ::sethostname(launch.hostname.data(), launch.hostname.size()) != 0)
    throw system_error("setting hostname", launch.hostname, errno);
  for (const auto& tmpfs : launch.tmpfs) {
    MountOptions options = split_mount_options(tmpfs.options);
    make_directories(tmpfs.destination);
    if (::mount("tmpfs", tmpfs.destination.c_str(), "tmpfs", options.flags,
                options.data.empty() ? nullptr : options.data.c_str()) != 0)
      throw system_error("mounting tmpfs on", tmpfs.destination, errno);
  }
  mount_disks(launch.disks);
}

namespace {

// A cgroup control file takes one write of its value.
void write_control(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    throw system_error("--pids-limit: writing " + quote(value) + " to", path, errno);
}

}  // namespace

std::string make_workload_cgroup(const handoff::Launch& launch) {
  if (!launch.pids_limit || launch.cgroupfs == "none") return "";
  std::string base = launch.cgroupfs == "2" ? "/sys/fs/cgroup" : "/sys/fs/cgroup/pids";
  if (launch.cgroupfs == "2") write_control(base + "/cgroup.subtree_control", "+pids");
  std::string dir = base + "/workload";
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw system_error("creating the workload's cgroup", dir, errno);
  write_control(dir + "/pids.max", std::to_string(*launch.pids_limit));
  return dir;
}

int open_virtio_port(const std::string& name) {
  // The port appears once virtio_console has probed it; allow a moment after boot.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    if (DIR* dir = ::opendir("/sys/class/virtio-ports")) {
      while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string base = std::string("/sys/class/virtio-ports/") + entry->d_name;
        std::string port_name;
        try {
          port_name = read_value_file(base + "/name");
        } catch (const Error&) {
          continue;
        }
        if (port_name != name) continue;
        std::string device = std::string("/dev/") + entry->d_name;
        ::closedir(dir);
        int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) throw system_error("opening", device, errno);
        return fd;
      }
      ::closedir(dir);
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("virtio-serial port " + quote(name) + " not found").with_hint("is virtio_console loaded?");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void power_off(int channel_port) {
  ::sync();
  // The host stops QEMU on this frame: the guest kernel's own shutdown (every device's, under TCG
  // about 100 ms) protects nothing that sync did not already write.
  if (channel_port >= 0) {
    std::string frame = channel::encode(channel::FrameType::synced);
    (void)!::write(channel_port, frame.data(), frame.size());
  }
  ::reboot(RB_POWER_OFF);
  for (;;) ::pause();
}

}  // namespace runcvm::vm_init
