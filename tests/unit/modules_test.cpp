#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstdint>

#include "builder/kernels/modinfo.hpp"
#include "builder/kernels/module_graph.hpp"
#include "builder/kernels/module_tree.hpp"
#include "common/bytes.hpp"
#include "common/error.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm::kernels;
using Catch::Matchers::ContainsSubstring;

namespace {

ModuleInfo module(std::string name, std::vector<std::string> depends) {
  ModuleInfo m;
  m.name = name;
  m.path = "kernel/" + name + ".ko";
  m.depends = std::move(depends);
  return m;
}

std::vector<std::string> names(const std::vector<const ModuleInfo*>& modules) {
  std::vector<std::string> out;
  for (const auto* m : modules) out.push_back(m->name);
  return out;
}

// Looks a key up in a kmod trie index the way libkmod does, to check what the writer produced.
std::vector<std::string> kmod_lookup(const std::string& index, std::string_view key) {
  auto be32 = [&](std::size_t at) {
    REQUIRE(at + 4 <= index.size());
    return runcvm::big_endian<std::uint32_t>(std::string_view(index).substr(at));
  };
  REQUIRE(be32(0) == 0xB007F457);
  REQUIRE(be32(4) == 0x00020001);
  std::uint32_t node = be32(8);
  std::size_t i = 0;
  for (;;) {
    std::size_t at = node & 0x0fffffff;
    if (node & 0x80000000) {
      std::string prefix(index.c_str() + at);
      at += prefix.size() + 1;
      if (key.substr(i, prefix.size()) != prefix) return {};
      i += prefix.size();
    }
    unsigned char first = 0, last = 0;
    std::size_t children = at;
    if (node & 0x20000000) {
      first = static_cast<unsigned char>(index[at]);
      last = static_cast<unsigned char>(index[at + 1]);
      children = at + 2;
      at = children + 4u * (last - first + 1u);
    }
    if (i == key.size()) {
      std::vector<std::string> values;
      if (!(node & 0x40000000)) return values;
      std::uint32_t count = be32(at);
      at += 4;
      for (std::uint32_t v = 0; v < count; ++v) {
        at += 4;  // priority
        values.emplace_back(index.c_str() + at);
        at += values.back().size() + 1;
      }
      return values;
    }
    auto c = static_cast<unsigned char>(key[i++]);
    if (!(node & 0x20000000) || c < first || c > last) return {};
    node = be32(children + 4u * (c - first));
    if (node == 0) return {};
  }
}

}  // namespace

TEST_CASE("modinfo fields are read from the ELF .modinfo section", "[modules]") {
  std::string elf = runcvm::test::make_module_elf({"license=GPL", "depends=virtio,virtio_ring,fuse",
                                                   "alias=virtio:d0000001Av*", "name=virtiofs", "softdep=pre: crc32c"});
  ModuleInfo info = module_info_from_elf(elf, "kernel/fs/fuse/virtiofs.ko");
  CHECK(info.name == "virtiofs");
  CHECK(info.depends == std::vector<std::string>{"virtio", "virtio_ring", "fuse"});
  CHECK(info.aliases == std::vector<std::string>{"virtio:d0000001Av*"});
  CHECK(info.softdeps == std::vector<std::string>{"pre: crc32c"});
  CHECK(module_info_from_elf(runcvm::test::make_module_elf({"depends="}), "a/x-y.ko.xz").depends.empty());
  CHECK(module_info_from_elf(runcvm::test::make_module_elf({}), "a/x-y.ko.xz").name == "x_y");
}

TEST_CASE("malformed modules are errors, never out-of-bounds reads", "[modules]") {
  std::string elf = runcvm::test::make_module_elf({"depends=a"});
  CHECK_THROWS_WITH(parse_modinfo("not an elf", "m.ko"), ContainsSubstring("m.ko: not an ELF file"));
  CHECK_THROWS_WITH(parse_modinfo(elf.substr(0, 100), "m.ko"), ContainsSubstring("m.ko:"));
  std::string bad = elf;
  bad[bad.size() - 64 + 0x18 + 5] = '\x7f';  // .shstrtab offset far past the end
  CHECK_THROWS_WITH(parse_modinfo(bad, "m.ko"), ContainsSubstring("lies outside the file"));
  bad = elf;
  bad[0x28] = '\xff';
  bad[0x2f] = '\x7f';  // section header table beyond the file
  CHECK_THROWS_AS(parse_modinfo(bad, "m.ko"), runcvm::Error);
  // A table whose offset wraps around to the file's start is outside the file, not the header.
  bad = elf;
  runcvm::test::put<std::uint64_t>(bad, 0x28, 0xffffffffffffffc0ull);
  CHECK_THROWS_WITH(parse_modinfo(bad, "m.ko"), ContainsSubstring("section header table lies outside the file"));
  // No section table (or a count kept in extended numbering) is refused, not read as no fields.
  bad = elf;
  runcvm::test::put<std::uint16_t>(bad, 0x3c, 0);
  CHECK_THROWS_WITH(parse_modinfo(bad, "m.ko"), ContainsSubstring("m.ko: no section table"));
  // Every truncation either parses or fails cleanly.
  for (std::size_t n = 0; n < elf.size(); ++n) {
    try {
      parse_modinfo(elf.substr(0, n), "m.ko");
    } catch (const runcvm::Error&) {
    }
  }
}

TEST_CASE("module names follow the kernel's rules", "[modules]") {
  CHECK(module_name_from_path("kernel/drivers/char/hw_random/virtio-rng.ko.xz") == "virtio_rng");
  CHECK(uncompressed_module_name("kernel/fs/fuse/fuse.ko.zst") == "fuse.ko");
  CHECK(is_module_file("a/b.ko.gz"));
  CHECK_FALSE(is_module_file("a/modules.dep"));
}

TEST_CASE("load order puts every dependency first, once", "[modules]") {
  ModuleGraph graph(
      {module("virtiofs", {"fuse", "virtio", "virtio_ring"}), module("fuse", {}), module("virtio", {"virtio_ring"}),
       module("virtio_ring", {}), module("virtio_pci", {"virtio", "virtio_ring", "virtio_pci_modern_dev"}),
       module("virtio_pci_modern_dev", {}), module("ext4", {"crc16", "jbd2"}), module("jbd2", {})},
      {"crc16", "crc32c_generic"}, {});
  auto order = names(graph.load_order({"virtio_pci", "virtiofs", "ext4", "crc32c-generic"}));
  CHECK(order == std::vector<std::string>{"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci", "fuse",
                                          "virtiofs", "jbd2", "ext4"});
}

TEST_CASE("unknown, missing and cyclic modules are named", "[modules]") {
  ModuleGraph graph({module("a", {"b"}), module("b", {"c"}), module("c", {"a"}), module("d", {"gone"})}, {}, {});
  CHECK_THROWS_WITH(graph.load_order({"a"}), ContainsSubstring("module dependency cycle: a -> b -> c -> a"));
  CHECK_THROWS_WITH(graph.load_order({"d"}), ContainsSubstring("\"d\" depends on \"gone\""));
  CHECK_THROWS_WITH(graph.load_order({"zzz"}), ContainsSubstring("\"zzz\" is neither in the module tree"));
  CHECK_THROWS_WITH(ModuleGraph({module("a", {}), module("a", {})}, {}, {}), ContainsSubstring("two modules"));
}

TEST_CASE("modules.dep lists dependencies so that loading last-to-first works", "[modules]") {
  ModuleGraph graph({module("virtiofs", {"fuse", "virtio"}), module("fuse", {}), module("virtio", {"virtio_ring"}),
                     module("virtio_ring", {}), module("broken", {"absent"})},
                    {}, {"kernel/virtio_ring.ko", "kernel/virtio.ko"});
  std::vector<std::string> warnings;
  std::string dep = graph.render_modules_dep(&warnings);
  // modules.order first, then by path.
  CHECK(dep ==
        "kernel/virtio_ring.ko:\n"
        "kernel/virtio.ko: kernel/virtio_ring.ko\n"
        "kernel/broken.ko:\n"
        "kernel/fuse.ko:\n"
        "kernel/virtiofs.ko: kernel/virtio.ko kernel/virtio_ring.ko kernel/fuse.ko\n");
  CHECK(warnings == std::vector<std::string>{"broken needs absent"});

  std::string bin = graph.render_modules_dep_bin();
  CHECK(kmod_lookup(bin, "virtiofs") ==
        std::vector<std::string>{"kernel/virtiofs.ko: kernel/virtio.ko kernel/virtio_ring.ko kernel/fuse.ko"});
  CHECK(kmod_lookup(bin, "virtio") == std::vector<std::string>{"kernel/virtio.ko: kernel/virtio_ring.ko"});
  CHECK(kmod_lookup(bin, "virtio_ring") == std::vector<std::string>{"kernel/virtio_ring.ko:"});
  CHECK(kmod_lookup(bin, "virt").empty());
  CHECK(kmod_lookup(bin, "nothing").empty());
  CHECK(bin == graph.render_modules_dep_bin());  // deterministic
}

TEST_CASE("a module tree on disk is scanned and indexed", "[modules]") {
  runcvm::test::ScratchDirectory scratch;
  auto root = scratch.path() / "6.1.0-test";
  runcvm::make_directories(root / "kernel/fs/fuse");
  runcvm::write_file_atomic(root / "kernel/fs/fuse/fuse.ko", runcvm::test::make_module_elf({"depends="}));
  runcvm::write_file_atomic(root / "kernel/fs/fuse/virtiofs.ko.gz",
                            runcvm::test::gzip(runcvm::test::make_module_elf({"depends=fuse"})));
  runcvm::write_file_atomic(root / "modules.builtin", "kernel/lib/crc16.ko\n");
  ModuleGraph graph = scan_module_tree(root);
  CHECK(names(graph.load_order({"virtiofs", "crc16"})) == std::vector<std::string>{"fuse", "virtiofs"});
  CHECK(read_module(root / "kernel/fs/fuse/virtiofs.ko.gz").substr(0, 4) ==
        "\x7f"
        "ELF");
  CHECK(write_module_indexes(graph, root).empty());
  CHECK(runcvm::read_file(root / "modules.dep") ==
        "kernel/fs/fuse/fuse.ko:\nkernel/fs/fuse/virtiofs.ko.gz: kernel/fs/fuse/fuse.ko\n");
  for (const char* name : {"modules.dep.bin", "modules.alias.bin", "modules.builtin.bin", "modules.softdep"})
    CHECK(runcvm::fs::exists(root / name));
  CHECK(kmod_lookup(runcvm::read_file(root / "modules.builtin.bin"), "crc16").size() == 1);
}
