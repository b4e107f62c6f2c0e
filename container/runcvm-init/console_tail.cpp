#include "container/runcvm-init/console_tail.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"

namespace runcvm::container_init {
namespace {

constexpr std::size_t kKept = 16 * 1024;
constexpr std::size_t kLineLimit = 200;

// "[    3.141592] …": the kernel's own log line, with its timestamp.
bool is_kernel_message(std::string_view line) {
  if (line.empty() || line.front() != '[') return false;
  std::size_t close = line.find(']');
  return close != std::string_view::npos && close > 1 &&
         line.substr(1, close - 1).find_first_not_of(" 0123456789.") == std::string_view::npos;
}

}  // namespace

std::string console_summary(std::string_view console, std::size_t count) {
  std::vector<std::string> lines;
  std::string text_lines(console);
  std::replace(text_lines.begin(), text_lines.end(), '\r', '\n');  // a carriage return ends a line on a terminal too
  for (const std::string& raw : split_nonempty(text_lines, '\n')) {
    std::string line = printable_line(raw, kLineLimit);
    if (!line.empty() && !is_kernel_message(line)) lines.push_back(std::move(line));
  }
  std::string out;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : " / ") + lines[i];
  return out;
}

ConsoleTail::ConsoleTail() : kept_(std::make_shared<Kept>()) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw system_error("creating", "a pipe for the VM's console", errno);
  kept_->read = UniqueFd(fds[0]);
  write_ = UniqueFd(fds[1]);
  std::thread([kept = kept_] {
    char buffer[4096];
    for (;;) {
      ssize_t n = ::read(kept->read.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // every writer (QEMU) is gone
      std::lock_guard lock(kept->mutex);
      kept->text.append(buffer, static_cast<std::size_t>(n));
      if (kept->text.size() > kKept) kept->text.erase(0, kept->text.size() - kKept);
    }
  }).detach();
}

ConsoleTail::~ConsoleTail() = default;

std::string ConsoleTail::summary() const {
  std::lock_guard lock(kept_->mutex);
  return console_summary(kept_->text, 3);
}

}  // namespace runcvm::container_init
