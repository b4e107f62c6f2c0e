// The bundle's assembly: ELF dependencies and library closures, and replacing an earlier output.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>

#include "builder/bundle/closure.hpp"
#include "common/elf.hpp"
#include "common/elf_dependencies.hpp"
#include "common/error.hpp"
#include "common/file.hpp"
#include "support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("ELF dependencies: interpreter, needed libraries, runpath", "[bundle][elf]") {
  // This test program is dynamically linked against the C and C++ libraries.
  std::string self = read_file("/proc/self/exe");
  auto deps = read_elf_dependencies(self, "runcvm-unit-tests");
  CHECK(deps.is_dynamic);
  CHECK_FALSE(deps.is_static());
  // Static means neither an interpreter nor a library: a static-pie has a dynamic section, and
  // counts as static; a file naming a library without an interpreter does not.
  ElfDependencies static_pie;
  static_pie.is_dynamic = true;
  CHECK(static_pie.is_static());
  ElfDependencies no_loader;
  no_loader.needed = {"libc.so.6"};
  CHECK_FALSE(no_loader.is_static());
  CHECK(deps.interpreter == "/lib64/ld-linux-x86-64.so.2");
  CHECK(std::find(deps.needed.begin(), deps.needed.end(), "libc.so.6") != deps.needed.end());
  CHECK(std::find(deps.needed.begin(), deps.needed.end(), "libstdc++.so.6") != deps.needed.end());

  // Its closure holds libc and the loader, resolved to real files.
  auto closure = builder::library_closure({"/proc/self/exe"});
  CHECK(closure.interpreter == "/lib64/ld-linux-x86-64.so.2");
  REQUIRE(closure.libraries.count("libc.so.6") == 1);
  CHECK(fs::is_regular_file(closure.libraries["libc.so.6"]));
  CHECK_THROWS_WITH(builder::library_closure({"/proc/self/exe"}, {}),
                    ContainsSubstring("which is in none of the library directories"));

  // An interpreter that names nothing is still one: such a program is not static.
  std::string nameless = self;
  ElfFile self_file(self, "self");
  for (const auto& segment : self_file.segments())
    if (segment.p_type == PT_INTERP) nameless[segment.p_offset] = '\0';
  auto no_name = read_elf_dependencies(nameless, "nameless");
  CHECK(no_name.interpreter.empty());
  CHECK(no_name.has_interpreter);
  CHECK_FALSE(no_name.is_static());

  // Damaged input is an error, never a crash.
  CHECK_THROWS_WITH(read_elf_dependencies("not an elf", "x"), ContainsSubstring("x: not an ELF file"));
  CHECK_THROWS_WITH(read_elf_dependencies("\x7f"
                                          "ELF\x02\x01",
                                          "x"),
                    ContainsSubstring("x: truncated ELF file"));
  CHECK_THROWS_WITH(read_elf_dependencies(std::string(64, '\0'), "x"), ContainsSubstring("not an ELF file"));
  for (std::size_t cut : {std::size_t{100}, std::size_t{1000}})
    CHECK_THROWS_AS(read_elf_dependencies(std::string_view(self).substr(0, cut), "cut"), Error);
}

TEST_CASE("an output option replaces only an earlier output of its kind", "[registry][bundle]") {
  test::ScratchDirectory scratch;
  const fs::path& dir = scratch.path();
  CHECK_NOTHROW(check_output_replaceable(dir / "absent", "--out", OutputKind::directory, "VERSION"));
  fs::create_directory(dir / "empty");
  CHECK_NOTHROW(check_output_replaceable(dir / "empty", "--out", OutputKind::directory, "VERSION"));
  fs::create_directory(dir / "earlier");
  write_file_atomic(dir / "earlier" / "VERSION", "1\n");
  CHECK_NOTHROW(check_output_replaceable(dir / "earlier", "--out", OutputKind::directory, "VERSION"));
  fs::create_directory(dir / "home");
  write_file_atomic(dir / "home" / "notes.txt", "mine");
  CHECK_THROWS_WITH(
      check_output_replaceable(dir / "home", "--out", OutputKind::directory, "VERSION"),
      ContainsSubstring("exists and is not an earlier output (it has no VERSION); refusing to replace it"));
  CHECK_THROWS_WITH(check_output_replaceable(dir / "home", "pull", OutputKind::directory, "oci-layout"),
                    ContainsSubstring("pull \"" + (dir / "home").string() + "\""));
  CHECK_THROWS_WITH(
      check_output_replaceable(dir / "home" / "notes.txt", "--oci-layout", OutputKind::directory, "oci-layout"),
      ContainsSubstring("is not a directory"));
  CHECK_THROWS_WITH(check_output_replaceable(dir / "home", "--docker-archive", OutputKind::file),
                    ContainsSubstring("is not a regular file"));
  CHECK_NOTHROW(check_output_replaceable(dir / "home" / "notes.txt", "--docker-archive", OutputKind::file));
  CHECK(fs::exists(dir / "home" / "notes.txt"));
}
