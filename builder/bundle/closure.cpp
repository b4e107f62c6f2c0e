#include "builder/bundle/closure.hpp"

#include <deque>
#include <set>

#include "common/elf_dependencies.hpp"
#include "common/error.hpp"

namespace runcvm::builder {

LibraryClosure library_closure(const std::vector<fs::path>& programs, const std::vector<fs::path>& default_dirs) {
  LibraryClosure closure;
  std::deque<fs::path> pending(programs.begin(), programs.end());
  std::set<fs::path> seen;
  while (!pending.empty()) {
    fs::path object = pending.front();
    pending.pop_front();
    if (!seen.insert(fs::weakly_canonical(object)).second) continue;
    ElfDependencies deps = read_elf_dependencies(read_file(object), object.string());
    if (!deps.interpreter.empty()) {
      if (!closure.interpreter.empty() && closure.interpreter != fs::path(deps.interpreter))
        throw Error(object.string() + ": loader " + quote(deps.interpreter) + " differs from " +
                    quote(closure.interpreter.string()));
      closure.interpreter = deps.interpreter;
    }
    std::vector<fs::path> dirs;
    for (const auto& dir : deps.runpath) {
      std::string expanded = dir;
      for (const char* origin : {"$ORIGIN", "${ORIGIN}"})
        if (auto at = expanded.find(origin); at != std::string::npos)
          expanded.replace(at, std::string(origin).size(), object.parent_path().string());
      dirs.emplace_back(expanded);
    }
    dirs.insert(dirs.end(), default_dirs.begin(), default_dirs.end());
    for (const auto& name : deps.needed) {
      if (closure.libraries.count(name)) continue;
      fs::path found;
      for (const auto& dir : dirs)
        if (std::error_code ec; fs::is_regular_file(dir / name, ec)) {
          found = fs::canonical(dir / name);
          break;
        }
      if (found.empty())
        throw Error(object.string() + ": needs " + quote(name) + ", which is in none of the library directories");
      closure.libraries.emplace(name, found);
      pending.push_back(found);
    }
  }
  return closure;
}

}  // namespace runcvm::builder
