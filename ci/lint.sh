#!/usr/bin/env bash
# The format and the lint, failing on any finding: clang-format (.clang-format) over every C++
# file, and clang-tidy (.clang-tidy: a short list of bug-finding checks) over the code that faces
# hostile input or runs with privilege — container/, vm/, runtime/, handoff/, net/, channel/, and
# the parsers of images, registries and ELF files in disk/, registry/ and common/elf* — about two
# minutes on two cores. --all lints every file (builder/ and the rest add about five minutes):
# `ci/test.sh --heavy` runs that.
# usage: ci/lint.sh BUILD_DIR [--all] (configured: its compile_commands.json is read)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
scope=${2:-}
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror
echo "clang-format: $(git ls-files '*.cpp' '*.hpp' | wc -l) files as .clang-format has them"
if [[ $scope == --all ]]; then
  files=$(git ls-files '*.cpp')
else
  files=$(git ls-files 'container/*.cpp' 'vm/*.cpp' 'runtime/*.cpp' 'handoff/*.cpp' 'net/*.cpp' 'channel/*.cpp' \
    'disk/*.cpp' 'registry/*.cpp' 'common/elf*.cpp')
fi
if ! run-clang-tidy -quiet -p "$build_dir" -j "$(nproc)" $files >"$build_dir/clang-tidy.log" 2>&1; then
  grep -E "(warning|error):" "$build_dir/clang-tidy.log" | sort -u | head -40 >&2
  echo "ci/lint.sh: clang-tidy found the above (whole log: $build_dir/clang-tidy.log)" >&2
  exit 1
fi
echo "clang-tidy: $(wc -w <<<"$files") files, no finding"
