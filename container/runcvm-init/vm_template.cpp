#include "container/runcvm-init/vm_template.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <string_view>
#include <thread>

#include "common/error.hpp"
#include "common/file.hpp"
#include "common/reap.hpp"
#include "common/unix_socket.hpp"
#include "container/runcvm-init/guest_ready.hpp"
#include "container/runcvm-init/helper_root.hpp"
#include "container/runcvm-init/notice.hpp"
#include "container/runcvm-init/vm_devices.hpp"
#include "handoff/kernel_artifact.hpp"

namespace runcvm::container_init {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kManifestName = "manifest.json";
constexpr const char* kStateName = "state";
constexpr const char* kRamName = "ram";
constexpr std::size_t kPage = 4096;
constexpr const char* kLockName = ".lock";
// How long a start waits for another container's runcvm-init building the same template.
constexpr auto kLockLimit = 120s;
// How long QEMU may take to save a parked template, or to load one.
constexpr auto kSaveLimit = 60s;
// A template whose build failed is not tried again for this long (a full /run, a kernel that does
// not park): the VMs meanwhile boot, instead of each paying for a failing build first.
constexpr auto kFailedBuildPause = std::chrono::minutes(10);

std::string template_path(const std::string& name) { return std::string(handoff::kTemplateDirectory) + "/" + name; }

// A name beside `name` no other container's runcvm-init picks: they are all PID 1, and one killed
// while it built may have left its staging directory behind.
std::string unique_sibling(const std::string& name, const char* purpose) {
  unsigned long long random = 0;
  if (::getrandom(&random, sizeof random, 0) != static_cast<ssize_t>(sizeof random))
    throw system_error("reading random bytes for", template_path(name), errno);
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "%016llx", random);
  return template_path("." + name + "." + purpose + "-" + suffix);
}

// The firmware QEMU loads (SeaBIOS, its option ROMs): every file of the bundle's firmware directory.
std::string firmware_identity(const std::string& directory) {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(directory.c_str())) {
    while (dirent* entry = ::readdir(dir))
      if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
    ::closedir(dir);
  }
  if (names.empty()) throw Error("no firmware in " + quote(directory));
  std::sort(names.begin(), names.end());
  std::string identity;
  for (const auto& name : names) identity += name + "=" + file_identity(directory + "/" + name).value_or("?") + ";";
  return identity;
}

// Under KVM the guest sees the host's CPU: its model and features.
std::string host_cpu_identity() {
  std::string cpuinfo = read_file("/proc/cpuinfo");
  std::string identity;
  for (const char* key : {"model name", "flags"}) {
    std::size_t at = cpuinfo.find(std::string("\n") + key);
    if (at == std::string::npos) continue;
    std::size_t end = cpuinfo.find('\n', at + 1);
    identity += cpuinfo.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1) + ";";
  }
  return identity;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::vector<std::string> build_command(const TemplateBuilder& builder, int ram_fd) {
  BootFiles files = builder.files;
  files.ram_fd = ram_fd;
  return qemu_command(builder.launch, builder.bundle, builder.kvm, files, {}, VmStart::build_template);
}

std::uint64_t ram_bytes(const handoff::Launch& launch) { return launch.memory_mib << 20; }

// A memfd of the guest's RAM size, for QEMU to map (BootFiles::ram_fd).
UniqueFd guest_ram(const handoff::Launch& launch) {
  UniqueFd ram(::memfd_create("runcvm-guest-ram", MFD_CLOEXEC));
  if (!ram || ::ftruncate(ram.get(), static_cast<off_t>(ram_bytes(launch))) != 0)
    throw system_error("creating", "the guest's RAM", errno);
  return ram;
}

bool all_zero(const unsigned char* page) {
  static const unsigned char zeros[kPage] = {};
  return std::memcmp(page, zeros, kPage) == 0;
}

// Copies the pages of `from` (`size` bytes) that are not zero into `to` at their offsets, reading
// only what the filesystem holds (SEEK_DATA), and returns their CRC-32, each page after its
// offset: the same for a file and its sparse copy, wherever either keeps its holes.
std::uint32_t copy_pages(int from, int to, std::uint64_t size, const char* what) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  std::vector<unsigned char> buffer(1 << 20);
  auto failed = [what](const char* action) { return system_error(action, what, errno); };
  for (off_t data = 0; static_cast<std::uint64_t>(data) < size;) {
    data = ::lseek(from, data, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // no data after it
    if (data < 0) throw failed("finding the pages of");
    off_t hole = ::lseek(from, data, SEEK_HOLE);
    if (hole < 0) throw failed("finding the pages of");
    data -= data % static_cast<off_t>(kPage);
    hole = std::min<off_t>(hole, static_cast<off_t>(size));
    while (data < hole) {
      auto want = static_cast<std::size_t>(std::min<off_t>(hole - data, static_cast<off_t>(buffer.size())));
      ssize_t n = ::pread(from, buffer.data(), want, data);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw failed("reading");
      auto got = static_cast<std::size_t>(n) - static_cast<std::size_t>(n) % kPage;
      if (got == 0) throw failed("reading whole pages of");
      // Runs of pages that are not zero, each written at once.
      std::size_t run = 0, run_length = 0;
      auto flush = [&] {
        for (std::size_t done = 0; done < run_length;) {
          ssize_t w =
              ::pwrite(to, buffer.data() + run + done, run_length - done, data + static_cast<off_t>(run + done));
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) throw failed("copying");
          done += static_cast<std::size_t>(w);
        }
        run_length = 0;
      };
      for (std::size_t at = 0; at < got; at += kPage) {
        if (all_zero(buffer.data() + at)) {
          flush();
          continue;
        }
        std::uint64_t offset = static_cast<std::uint64_t>(data) + at;
        unsigned char offset_bytes[8];
        for (int i = 0; i < 8; ++i) offset_bytes[i] = static_cast<unsigned char>(offset >> (8 * i));
        crc = ::crc32(crc, offset_bytes, sizeof offset_bytes);
        crc = ::crc32(crc, buffer.data() + at, static_cast<uInt>(kPage));
        if (run_length == 0) run = at;
        run_length += kPage;
      }
      flush();
      data += static_cast<off_t>(got);
    }
  }
  return static_cast<std::uint32_t>(crc);
}

// A file or directory of the template directory, as runcvm-init left it: root's, not a link,
// writable by nobody else. Anything else is not trusted.
bool owned_as_ours(int fd, bool directory) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && (directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) && st.st_uid == ::geteuid() &&
         (st.st_mode & 022) == 0;
}

std::uint32_t crc32_of(int fd, std::uint64_t size) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  if (size == 0) return static_cast<std::uint32_t>(crc);
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (data == MAP_FAILED) throw system_error("mapping", "the template's state", errno);
  const auto* bytes = static_cast<const Bytef*>(data);
  for (std::uint64_t done = 0; done < size;) {
    auto piece = static_cast<uInt>(std::min<std::uint64_t>(size - done, 1u << 30));
    crc = ::crc32(crc, bytes + done, piece);
    done += piece;
  }
  ::munmap(data, size);
  return static_cast<std::uint32_t>(crc);
}

// One file of a template (its state or RAM), opened read-only when it is ours and of the size its
// manifest says; otherwise none, with `why` saying what is wrong.
UniqueFd checked_file(int directory, const char* name, const char* what, std::uint64_t bytes, std::string& why) {
  UniqueFd file(::openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!file || !owned_as_ours(file.get(), false) || ::fstat(file.get(), &st) != 0) {
    why = std::string("its ") + what + " is missing or not runcvm's";
    return UniqueFd();
  }
  if (static_cast<std::uint64_t>(st.st_size) != bytes) {
    why = std::string("its ") + what + " is " + std::to_string(st.st_size) + " bytes, not the " +
          std::to_string(bytes) + " its manifest says";
    return UniqueFd();
  }
  return file;
}

// The template's state and RAM, when its directory, manifest, state and RAM are whole (their sizes,
// the state's CRC-32, the RAM's too when `check_crc`), ours and of `key`; otherwise nullopt, with
// `why` saying what is wrong.
std::optional<OpenedTemplate> checked_state(const std::string& name, const handoff::TemplateKey& key, std::string& why,
                                            bool check_crc) {
  UniqueFd directory(::open(template_path(name).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!directory) {
    why = errno == ENOENT ? "none was built yet" : "its directory cannot be opened";
    return std::nullopt;
  }
  if (!owned_as_ours(directory.get(), true)) {
    why = "its directory is not runcvm's";
    return std::nullopt;
  }
  UniqueFd manifest_fd(::openat(directory.get(), kManifestName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!manifest_fd || !owned_as_ours(manifest_fd.get(), false)) {
    why = "its manifest is missing or not runcvm's";
    return std::nullopt;
  }
  std::string text(handoff::kTemplateManifestMaxBytes + 1, '\0');
  ssize_t n = ::read(manifest_fd.get(), text.data(), text.size());
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  auto manifest = handoff::parse_template_manifest(text);
  if (!manifest) {
    why = "its manifest is damaged";
    return std::nullopt;
  }
  if (!(manifest->key == key)) {
    why = "it was built for another kernel, bundle or machine";
    return std::nullopt;
  }
  UniqueFd state = checked_file(directory.get(), kStateName, "state", manifest->state_bytes, why);
  if (!state) return std::nullopt;
  if (crc32_of(state.get(), manifest->state_bytes) != manifest->state_crc32) {  // a few hundred KiB
    why = "its state does not match its manifest's CRC-32 (damaged)";
    return std::nullopt;
  }
  UniqueFd ram = checked_file(directory.get(), kRamName, "RAM", manifest->ram_bytes, why);
  if (!ram) return std::nullopt;
  if (check_crc) {
    UniqueFd scratch(::memfd_create("runcvm-template-check", MFD_CLOEXEC));
    if (!scratch || ::ftruncate(scratch.get(), static_cast<off_t>(manifest->ram_bytes)) != 0 ||
        copy_pages(ram.get(), scratch.get(), manifest->ram_bytes, "the template's RAM") != manifest->ram_crc32) {
      why = "its RAM does not match its manifest's CRC-32 (damaged)";
      return std::nullopt;
    }
  }
  ::fcntl(state.get(), F_SETFL, ::fcntl(state.get(), F_GETFL) & ~O_NONBLOCK);
  return OpenedTemplate{std::move(state), std::move(ram), *manifest};
}

// Waits for the template's initramfs to say it is parked, on the channel.
void wait_until_parked(int channel, pid_t qemu, std::chrono::milliseconds limit) {
  const auto& parked = handoff::kernel_artifact::kTemplateParked;
  auto deadline = Clock::now() + limit;
  std::string seen;
  while (seen.find(parked) == std::string::npos) {
    if (Clock::now() > deadline)
      throw Error("the template's kernel did not reach its initramfs within " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) + " s");
    // Seen, not reaped: the caller's reaper waits for it, so its pid is not reused before.
    if (auto ended = peek_exit(qemu))
      throw Error("QEMU ended while the template booted (" +
                  (ended->si_code == CLD_EXITED ? "status " + std::to_string(ended->si_status)
                                                : describe_signal(ended->si_status)) +
                  ")");
    pollfd p{channel, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buffer[256];
    ssize_t n = ::read(channel, buffer, sizeof buffer);
    if (n <= 0) throw Error("the template's channel closed while it booted");
    seen.append(buffer, static_cast<std::size_t>(n));
    if (seen.size() > 4096) seen.erase(0, seen.size() - parked.size());  // bounded: only the message matters
  }
}

// The status `command` reports, polled until it is none of `going` (nor missing).
std::string wait_for_status(Qmp& qmp, const char* command, std::initializer_list<std::string_view> going,
                            std::chrono::milliseconds limit, const char* what) {
  auto deadline = Clock::now() + limit;
  for (;;) {
    nlohmann::json reply = qmp.execute(command);
    std::string status = reply.is_object() && reply.contains("status") && reply["status"].is_string()
                             ? reply["status"].get<std::string>()
                             : "";
    if (!status.empty() && std::find(going.begin(), going.end(), status) == going.end()) return status;
    if (Clock::now() > deadline)
      throw Error(std::string(what) + " took more than " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) + " s");
    std::this_thread::sleep_for(5ms);
  }
}

// The guest's RAM stays out of the stream, in the memfd both sides map (add_machine says why).
void set_template_capabilities(Qmp& qmp) {
  qmp.execute("migrate-set-capabilities",
              {{"capabilities", nlohmann::json::array({{{"capability", "x-ignore-shared"}, {"state", true}}})}});
}

// Boots the template, saves it into a staging directory and renames that into place.
void build_template(const std::string& name, const handoff::TemplateKey& key, const TemplateBuilder& builder) {
  StagingDirectory staging(unique_sibling(name, "building"));
  if (::chmod(staging.path().c_str(), 0700) != 0) throw system_error("making private", staging.path().string(), errno);
  std::string state_path = (staging.path() / kStateName).string();
  UniqueFd state(::open(state_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!state) throw system_error("creating", state_path, errno);

  UniqueFd ram = guest_ram(builder.launch);
  pid_t qemu = spawn_helper(build_command(builder, ram.get()), helper_environment(builder.bundle), {ram.get()},
                            /*quiet=*/true, HelperPrivileges{.drop_all = true, .ids = builder.qemu_ids});
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{qemu};
  UniqueFd channel = accept_from_qemu(builder.channel_listener, kChannelSocket, qemu);
  UniqueFd exec_port = accept_from_qemu(builder.exec_listener, kExecPortSocket, qemu);
  Qmp qmp(accept_from_qemu(builder.qmp_listener, kQmpSocket, qemu));
  wait_until_parked(channel.get(), qemu, builder.boot_limit);
  qmp.execute("stop");
  set_template_capabilities(qmp);
  qmp.execute("getfd", {{"fdname", "template-state"}}, state.get());
  qmp.execute("migrate", {{"uri", "fd:template-state"}});
  std::string saved =
      wait_for_status(qmp, "query-migrate", {"setup", "active", "device"}, kSaveLimit, "saving the template");
  if (saved != "completed") throw Error("QEMU could not save the template (migration " + quote(saved) + ")");

  struct stat st {};
  if (::fstat(state.get(), &st) != 0 || st.st_size == 0) throw Error("QEMU saved an empty template");
  std::string ram_path = (staging.path() / kRamName).string();
  UniqueFd ram_file(::open(ram_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!ram_file || ::ftruncate(ram_file.get(), static_cast<off_t>(ram_bytes(builder.launch))) != 0)
    throw system_error("creating", ram_path, errno);
  std::uint32_t ram_crc = copy_pages(ram.get(), ram_file.get(), ram_bytes(builder.launch), "the template's RAM");
  handoff::TemplateManifest manifest{.key = key,
                                     .state_bytes = static_cast<std::uint64_t>(st.st_size),
                                     .state_crc32 = crc32_of(state.get(), static_cast<std::uint64_t>(st.st_size)),
                                     .ram_bytes = ram_bytes(builder.launch),
                                     .ram_crc32 = ram_crc,
                                     .built_at = std::time(nullptr)};
  write_file_atomic(staging.path() / kManifestName, handoff::to_json_text(manifest), fs::perms(0600));
  // Replaces a damaged or foreign one: moved aside first, since rename(2) onto a directory needs it empty.
  std::string final_path = template_path(name);
  std::string aside = unique_sibling(name, "replaced");
  bool moved_aside = ::rename(final_path.c_str(), aside.c_str()) == 0;
  if (::rename(staging.path().c_str(), final_path.c_str()) != 0) throw system_error("placing", final_path, errno);
  staging.release();
  if (moved_aside) remove_tree_quietly(aside);
}

std::string failure_marker(const std::string& name) { return template_path("." + name + ".failed"); }

// Why building this template failed less than kFailedBuildPause ago, if it did.
std::optional<std::string> recent_failure(const std::string& name) {
  UniqueFd fd(::open(failure_marker(name).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || !owned_as_ours(fd.get(), false) || ::fstat(fd.get(), &st) != 0) return std::nullopt;
  auto age = std::chrono::seconds(std::time(nullptr) - st.st_mtim.tv_sec);
  if (age < 0s || age > kFailedBuildPause) return std::nullopt;
  std::string reason(512, '\0');
  ssize_t n = ::read(fd.get(), reason.data(), reason.size());
  reason.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return "building it failed " + std::to_string(age.count()) + " s ago (" + reason +
         "); it is tried again 10 minutes after that";
}

// What the template directory holds besides the template for `key`, and is not for this boot or
// this bundle's QEMU (an older bundle's), or is left from a build that was cut short: removed
// while the lock is held, so that a host keeps the templates of the bundle it runs.
void remove_stale_templates(const handoff::TemplateKey& key) {
  std::vector<std::string> stale;
  if (DIR* dir = ::opendir(handoff::kTemplateDirectory)) {
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name == "." || name == ".." || name == kLockName) continue;
      if (name.starts_with(".")) {
        if (!name.ends_with(".failed")) stale.push_back(name);  // a staging or replaced directory
        continue;
      }
      std::string text;
      try {
        text = read_file(template_path(name) + "/" + kManifestName);
      } catch (const Error&) {
      }
      auto manifest = handoff::parse_template_manifest(text);
      if (!manifest || manifest->key.boot_id != key.boot_id || manifest->key.qemu != key.qemu) stale.push_back(name);
    }
    ::closedir(dir);
  }
  for (const auto& name : stale) remove_tree_quietly(template_path(name));
}

// The template directory's lock, held until the descriptor closes; waits for a builder.
UniqueFd lock_templates() {
  std::string path = template_path(kLockName);
  UniqueFd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock) throw system_error("opening", path, errno);
  auto deadline = Clock::now() + kLockLimit;
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throw system_error("locking", path, errno);
    if (Clock::now() > deadline) throw Error("another container built the template for more than 120 s");
    std::this_thread::sleep_for(20ms);
  }
  return lock;
}

}  // namespace

handoff::TemplateKey template_key(const TemplateBuilder& builder) {
  struct stat directory {};
  if (::lstat(handoff::kTemplateDirectory, &directory) != 0 || !S_ISDIR(directory.st_mode))
    throw Error(std::string("no template directory at ") + handoff::kTemplateDirectory);
  auto identity = [](const std::string& path, const char* what) {
    auto found = file_identity(path);
    if (!found) throw Error(std::string("the bundle's ") + what + " " + quote(path) + " cannot be read");
    return *found;
  };
  return {.boot_id = read_value_file("/proc/sys/kernel/random/boot_id"),
          .qemu = identity(builder.bundle.qemu(), "QEMU"),
          .firmware = firmware_identity(builder.bundle.firmware()),
          .kernel = identity(builder.files.kernel, "kernel"),
          .initrd = identity(builder.files.initrd, "initramfs"),
          .command = joined(build_command(builder, 0)),  // its RAM's descriptor as 0: not part of the machine
          .host_cpu = builder.kvm ? host_cpu_identity() : ""};
}

OpenedTemplate open_template(const handoff::TemplateKey& key, const TemplateBuilder& builder, bool rebuild) {
  std::string name = handoff::template_directory_name(key);
  std::string why = "its state does not match its manifest's CRC-32 (damaged)";
  if (!rebuild)
    if (auto state = checked_state(name, key, why, false)) return std::move(*state);
  UniqueFd lock = lock_templates();
  // Built meanwhile? (A damaged one is checked whole: another start may have rebuilt it.)
  if (auto state = checked_state(name, key, why, rebuild)) return std::move(*state);
  if (auto failure = recent_failure(name)) throw Error("no template: " + *failure);
  if (why != "none was built yet") notice("the VM's template is rebuilt: " + why);
  remove_stale_templates(key);
  try {
    build_template(name, key, builder);
  } catch (const std::exception& e) {
    try {
      write_file_atomic(failure_marker(name), e.what(), fs::perms(0600));
    } catch (const Error&) {  // a full directory: the next start tries again
    }
    throw;
  }
  ::unlink(failure_marker(name).c_str());
  if (auto state = checked_state(name, key, why, false)) return std::move(*state);
  throw Error("the template just built cannot be used: " + why);
}

RamCopy::RamCopy(const OpenedTemplate& opened, const handoff::Launch& launch) {
  if (ram_bytes(launch) != opened.manifest.ram_bytes)
    throw Error("the template's RAM is " + std::to_string(opened.manifest.ram_bytes) + " bytes, the VM's " +
                std::to_string(ram_bytes(launch)));
  UniqueFd from(::fcntl(opened.ram.get(), F_DUPFD_CLOEXEC, 0));
  if (!from) throw system_error("duplicating", "the template's RAM descriptor", errno);
  ram_ = guest_ram(launch);
  thread_ =
      std::thread([this, from = std::move(from), bytes = opened.manifest.ram_bytes, crc = opened.manifest.ram_crc32] {
        try {
          if (copy_pages(from.get(), ram_.get(), bytes, "the template's RAM") != crc)
            throw DamagedTemplate("its RAM does not match its manifest's CRC-32 (damaged)");
        } catch (...) {
          failure_ = std::current_exception();
        }
      });
}

RamCopy::~RamCopy() {
  if (thread_.joinable()) thread_.join();
}

void RamCopy::finish() {
  if (thread_.joinable()) thread_.join();
  if (failure_) std::rethrow_exception(failure_);
}

StatePump::StatePump(OpenedTemplate opened) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) throw system_error("creating", "a pipe for the template's state", errno);
  qemu_end_ = UniqueFd(ends[0]);
  thread_ = std::thread([this, write_end = UniqueFd(ends[1]), opened = std::move(opened)] {
    // A reader gone is EPIPE here, not a SIGPIPE that ends the process (a write's SIGPIPE goes to
    // the writing thread; blocked, it stays pending there).
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    uLong crc = ::crc32(0L, Z_NULL, 0);
    std::uint64_t total = 0;
    std::vector<Bytef> buffer(1 << 20);
    for (;;) {
      ssize_t n = ::read(opened.state.get(), buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure_ = std::string("reading the template's state: ") + std::strerror(errno);
        return;
      }
      if (n == 0) break;
      crc = ::crc32(crc, buffer.data(), static_cast<uInt>(n));
      total += static_cast<std::uint64_t>(n);
      for (ssize_t done = 0; done < n;) {
        ssize_t written = ::write(write_end.get(), buffer.data() + done, static_cast<std::size_t>(n - done));
        if (written < 0 && errno == EINTR) continue;
        if (written < 0) {  // QEMU stopped reading (it failed, or was ended)
          failure_ = std::string("QEMU stopped reading the template's state: ") + std::strerror(errno);
          return;
        }
        done += written;
      }
    }
    if (total != opened.manifest.state_bytes)
      failure_ = "its state was " + std::to_string(total) + " bytes, not the " +
                 std::to_string(opened.manifest.state_bytes) + " its manifest says";
    damaged_ = total != opened.manifest.state_bytes || static_cast<std::uint32_t>(crc) != opened.manifest.state_crc32;
    if (!damaged_) return;
    if (failure_.empty()) failure_ = "its state does not match its manifest's CRC-32 (damaged)";
  });
}

StatePump::~StatePump() {
  qemu_end_.reset();  // a pump still writing gets EPIPE
  if (thread_.joinable()) thread_.join();
}

void StatePump::finish() {
  if (thread_.joinable()) thread_.join();
  if (damaged_) throw DamagedTemplate(failure_);
  if (!failure_.empty()) throw Error(failure_);
}

void discard_template(const handoff::TemplateKey& key) {
  try {
    UniqueFd lock = lock_templates();
    remove_tree_quietly(template_path(handoff::template_directory_name(key)));
  } catch (const Error&) {  // the next container finds it again, and QEMU refuses it again
  }
}

void attach_and_resume(Qmp& qmp, StatePump& pump, int incoming_fd, const handoff::Launch& launch,
                       const std::vector<Nic>& nics, std::chrono::milliseconds load_limit) {
  set_template_capabilities(qmp);
  qmp.execute("migrate-incoming", {{"uri", "fd:" + std::to_string(incoming_fd)}});
  std::string loaded = wait_for_status(qmp, "query-status", {"inmigrate"}, load_limit, "loading the template");
  pump.finish();
  if (loaded != "paused") throw Error("QEMU's state after loading the template is " + quote(loaded));
  TemplateSlots slots = template_slots();
  qmp.execute("chardev-add", root_chardev());
  qmp.execute("device_add", root_device(launch, slots.root));
  for (std::size_t i = 0; i < nics.size(); ++i) {
    std::string tap = "boottap" + std::to_string(i), backend = "net" + std::to_string(i);
    qmp.execute("getfd", {{"fdname", tap}}, nics[i].tap_fd);
    qmp.execute("netdev_add", {{"type", "tap"}, {"id", backend}, {"fd", tap}});
    qmp.execute("device_add", {{"driver", "virtio-net-pci"},
                               {"id", boot_card_id(i)},
                               {"netdev", backend},
                               {"mac", nics[i].mac},
                               {"host_mtu", nics[i].mtu},
                               {"romfile", ""},
                               {"bus", slots.nics.at(i)}});
  }
  for (std::size_t i = 0; i < launch.disks.size(); ++i)
    qmp.execute("device_add", disk_device(launch, i, slots.disks.at(i)));
  // Resumed only once everything is plugged: the guest's waits for its cards and disks start
  // with all of them there, and a QEMU that fails before this point has run no guest code.
  qmp.execute("cont");
}

}  // namespace runcvm::container_init
