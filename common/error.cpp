#include "common/error.hpp"

#include <cstring>

#include "common/text.hpp"

namespace runcvm {

Error::Error(std::string message) : message_(std::move(message)) { render(); }

Error& Error::with_hint(std::string hint) {
  hint_ = std::move(hint);
  render();
  return *this;
}

Error& Error::with_errno(int err) {
  errno_ = err;
  return *this;
}

Error& Error::retryable(bool value) {
  retryable_ = value;
  render();
  return *this;
}

Error& Error::add_context(std::string context) {
  context_.push_back(std::move(context));
  render();
  return *this;
}

void Error::render() {
  rendered_.clear();
  for (auto it = context_.rbegin(); it != context_.rend(); ++it) {
    rendered_ += *it;
    rendered_ += ": ";
  }
  rendered_ += message_;
  if (!hint_.empty()) rendered_ += " (hint: " + hint_ + ")";
  if (retryable_) rendered_ += " (temporary: a retry may help)";
}

Error system_error(std::string_view action, std::string_view subject, int err) {
  Error e(std::string(action) + " " + quote(subject) + ": " + std::strerror(err));
  e.with_errno(err);
  if (err == ENOSPC) e.with_hint("free space on that filesystem or choose another --out/--cache");
  return e;
}

std::string quote(std::string_view value) { return "\"" + escape_unprintable(value, "\"\\") + "\""; }

std::string format_error_line(std::string_view program, const std::exception& e) {
  std::string message = e.what();
  // A message of several lines (a tool's stderr) reads as one; whatever else a value brought in
  // unquoted is escaped here, the last step before the operator's terminal.
  for (char& c : message)
    if (c == '\n') c = ' ';
  return std::string(program) + ": error: " + escape_unprintable(message);
}

}  // namespace runcvm
