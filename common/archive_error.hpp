// libarchive reports a failure as a message kept on its handle (sometimes none); every reader and
// writer of archives turns it into an Error the same way, with what it was doing in front.
#pragma once

#include <archive.h>

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace runcvm {

inline Error archive_error(archive* a, std::string_view what) {
  const char* message = archive_error_string(a);
  return Error(std::string(what) + ": " + (message ? message : "libarchive gave no reason"));
}

}  // namespace runcvm
