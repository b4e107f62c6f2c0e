#!/usr/bin/env bash
# The format and the lint, failing on any finding: clang-format (.clang-format) over every C++
# file, and clang-tidy (.clang-tidy: a short list of bug-finding checks) over the code that faces
# hostile input or runs with privilege — container/, vm/, runtime/, handoff/, net/, channel/ — about
# a minute and a half on two cores; the rest of the tree would add five.
# usage: ci/lint.sh BUILD_DIR (configured: its compile_commands.json is read)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror
echo "clang-format: $(git ls-files '*.cpp' '*.hpp' | wc -l) files as .clang-format has them"
files=$(git ls-files 'container/*.cpp' 'vm/*.cpp' 'runtime/*.cpp' 'handoff/*.cpp' 'net/*.cpp' 'channel/*.cpp')
if ! run-clang-tidy -quiet -p "$build_dir" -j "$(nproc)" $files >"$build_dir/clang-tidy.log" 2>&1; then
  grep -E "(warning|error):" "$build_dir/clang-tidy.log" | sort -u | head -40 >&2
  echo "ci/lint.sh: clang-tidy found the above (whole log: $build_dir/clang-tidy.log)" >&2
  exit 1
fi
echo "clang-tidy: $(wc -w <<<"$files") files, no finding"
