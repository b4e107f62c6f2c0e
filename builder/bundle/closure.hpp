// The shared-library closure of programs, resolved as the dynamic loader would on this machine:
// each DT_NEEDED name is looked up in the requiring object's DT_RUNPATH ($ORIGIN expanded), then
// in the default directories. The bundle ships the result beside its own loader, so QEMU and
// virtiofsd never touch the libraries of the image they run in.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/file.hpp"

namespace runcvm::builder {

struct LibraryClosure {
  std::map<std::string, fs::path> libraries;  // name as needed -> the file found (symlinks resolved)
  fs::path interpreter;                       // the programs' loader (they must agree)
};

inline const std::vector<fs::path> kDefaultLibraryDirs = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"};

// Throws Error naming the object and the library when one cannot be found.
LibraryClosure library_closure(const std::vector<fs::path>& programs,
                               const std::vector<fs::path>& default_dirs = kDefaultLibraryDirs);

}  // namespace runcvm::builder
