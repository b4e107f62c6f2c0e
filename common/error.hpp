// One error type for every runcvm program: a message, the context it was raised in (outermost
// first when printed), an optional hint and whether retrying may help. Printed once, at main.
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace runcvm {

class Error : public std::exception {
 public:
  explicit Error(std::string message);

  Error& with_hint(std::string hint);
  Error& with_errno(int err);
  Error& retryable(bool value = true);
  // Adds an outer layer, e.g. "fetching Packages index"; the newest layer is printed first.
  Error& add_context(std::string context);

  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }
  int error_number() const { return errno_; }
  bool is_retryable() const { return retryable_; }
  const char* what() const noexcept override { return rendered_.c_str(); }

 private:
  void render();

  std::string message_;
  std::string hint_;
  std::vector<std::string> context_;  // innermost first
  int errno_ = 0;
  bool retryable_ = false;
  std::string rendered_;
};

// "opening "x": No space left on device", keeping errno for callers that branch on it.
Error system_error(std::string_view action, std::string_view subject, int err);

// Quotes a value for an error message so empty strings and spaces stay visible; the value's
// control bytes and invalid UTF-8 are escaped (escape_unprintable, common/text.hpp), `"` and `\`
// get a backslash, so an image's or a server's text cannot act on the operator's terminal.
std::string quote(std::string_view value);

// Runs f; an Error escaping it gains `context` as its outermost layer so far.
template <class F>
decltype(auto) in_context(std::string_view context, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (Error& e) {
    e.add_context(std::string(context));
    throw;
  }
}

// The single place a program turns an exception into its one-line report: newlines become spaces
// and every other control byte or invalid UTF-8 in the message is escaped (escape_unprintable).
std::string format_error_line(std::string_view program, const std::exception& e);

}  // namespace runcvm
