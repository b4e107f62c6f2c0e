#include "container/runcvm-init/kvm_verdicts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <ctime>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/file.hpp"

namespace runcvm::container_init {
namespace {

std::string verdict_path(const handoff::KvmVerdictKey& key) {
  return std::string(handoff::kKvmVerdictDirectory) + "/" + handoff::kvm_verdict_file_name(key);
}

}  // namespace

std::optional<handoff::KvmVerdictKey> kvm_verdict_key(const std::string& qemu_file, const std::string& kernel_file) {
  struct stat directory {
  }, device{};
  if (::lstat(handoff::kKvmVerdictDirectory, &directory) != 0 || !S_ISDIR(directory.st_mode)) return std::nullopt;
  if (::stat("/dev/kvm", &device) != 0 || !S_ISCHR(device.st_mode)) return std::nullopt;
  std::string boot_id;
  try {
    boot_id = read_value_file("/proc/sys/kernel/random/boot_id");
  } catch (const Error&) {
    return std::nullopt;
  }
  auto qemu = file_identity(qemu_file);
  auto kernel = file_identity(kernel_file);
  if (boot_id.empty() || !qemu || !kernel) return std::nullopt;
  return handoff::KvmVerdictKey{
      boot_id, std::to_string(major(device.st_rdev)) + ":" + std::to_string(minor(device.st_rdev)), *qemu, *kernel};
}

std::optional<handoff::KvmFailure> remembered_kvm_failure(const handoff::KvmVerdictKey& key) {
  std::string path = verdict_path(key);
  // Another container's runcvm-init wrote it: read it as data from anyone, bounded, not through a link.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::string text(handoff::kKvmVerdictMaxBytes + 1, '\0');
  ssize_t n = ::read(fd.get(), text.data(), text.size());
  if (n <= 0) return std::nullopt;
  text.resize(static_cast<std::size_t>(n));
  auto failure = handoff::parse_kvm_failure(text);
  if (!failure || !(failure->key == key)) return std::nullopt;
  return failure;
}

void remember_kvm_failure(const handoff::KvmVerdictKey& key, const std::string& reason) {
  try {
    write_file_atomic(verdict_path(key),
                      handoff::to_json_text({.key = key, .reason = reason, .recorded_at = std::time(nullptr)}),
                      std::filesystem::perms(0644));
  } catch (const Error&) {  // a read-only or full /run: the next container tries KVM again
  }
}

}  // namespace runcvm::container_init
