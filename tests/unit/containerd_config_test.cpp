// runcvm-install --containerd: the runtime added to and taken from containerd's config.toml, on
// the shapes of file operators have (Debian's shipped file, none, containerd 2's version 3, their
// own runtimes), and the files it must refuse without changing them.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <toml++/toml.h>

#include "common/error.hpp"
#include "common/file.hpp"
#include "installer/containerd_config.hpp"

using namespace runcvm;
using namespace runcvm::install;
using Catch::Matchers::ContainsSubstring;

namespace {

constexpr const char* kRuntime = "/opt/runcvm/current/bin/runcvm-runtime";
constexpr const char* kFile = "/etc/containerd/config.toml";

// As Debian's containerd package ships it (the integration test starts containerd with it too).
const std::string& debian_config() {
  static const std::string text =
      read_file(fs::path(RUNCVM_SOURCE_DIR) / "tests/fixtures/containerd/debian-config.toml");
  return text;
}

toml::node_view<toml::node> runtimes(toml::table& config, const std::string& plugin = "io.containerd.grpc.v1.cri") {
  return config["plugins"][plugin]["containerd"]["runtimes"];
}

}  // namespace

TEST_CASE("containerd config: Debian's file gets runcvm and runc, and uninstall gives it back byte for byte",
          "[installer]") {
  std::string installed = with_containerd_runtime(debian_config(), kRuntime, kFile);
  CHECK(installed.starts_with(debian_config()));
  toml::table config = toml::parse(installed);
  CHECK(runtimes(config)["runcvm"]["runtime_type"].value_or(std::string()) == "io.containerd.runc.v2");
  CHECK(runtimes(config)["runcvm"]["options"]["BinaryName"].value_or(std::string()) == kRuntime);
  // Without the default runtime beside it, the CRI plugin would not load.
  CHECK(runtimes(config)["runc"]["runtime_type"].value_or(std::string()) == "io.containerd.runc.v2");
  CHECK(config["plugins"]["io.containerd.grpc.v1.cri"]["cni"]["bin_dir"].value_or(std::string()) == "/usr/lib/cni");

  CHECK(with_containerd_runtime(installed, kRuntime, kFile) == installed);
  CHECK(without_containerd_runtime(installed, kFile) == debian_config());
  CHECK(without_containerd_runtime(debian_config(), kFile) == debian_config());
}

TEST_CASE("containerd config: a new install path replaces the block, never adds a second", "[installer]") {
  std::string first = with_containerd_runtime(debian_config(), kRuntime, kFile);
  std::string second = with_containerd_runtime(first, "/srv/runcvm/current/bin/runcvm-runtime", kFile);
  toml::table config = toml::parse(second);
  CHECK(runtimes(config)["runcvm"]["options"]["BinaryName"].value_or(std::string()) ==
        "/srv/runcvm/current/bin/runcvm-runtime");
  CHECK(second.find(kContainerdBlockBegin) == second.rfind(kContainerdBlockBegin));
}

TEST_CASE("containerd config: no file, or comments only, starts a version 2 file", "[installer]") {
  std::string created = with_containerd_runtime("", kRuntime, kFile);
  toml::table config = toml::parse(created);
  CHECK(config["version"].value_or(int64_t{0}) == 2);
  CHECK(runtimes(config)["runcvm"]["options"]["BinaryName"].value_or(std::string()) == kRuntime);
  CHECK(without_containerd_runtime(created, kFile).empty());

  std::string commented = "# managed by hand\n";
  std::string added = with_containerd_runtime(commented, kRuntime, kFile);
  CHECK(toml::parse(added)["version"].value_or(int64_t{0}) == 2);
  CHECK(without_containerd_runtime(added, kFile) == commented);
}

TEST_CASE("containerd config: the operator's runtimes and default runtime stay theirs", "[installer]") {
  std::string with_crun = debian_config() + R"(
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
      BinaryName = "/usr/bin/crun"
)";
  toml::table config = toml::parse(with_containerd_runtime(with_crun, kRuntime, kFile));
  CHECK(runtimes(config).as_table()->size() == 2);  // crun and runcvm, no runc added
  CHECK(runtimes(config)["crun"]["options"]["BinaryName"].value_or(std::string()) == "/usr/bin/crun");

  // A default runtime named but not defined gets its table, as runc would.
  std::string named_only =
      "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"my runtime\"\n";
  toml::table named = toml::parse(with_containerd_runtime(named_only, kRuntime, kFile));
  CHECK(runtimes(named)["my runtime"]["runtime_type"].value_or(std::string()) == "io.containerd.runc.v2");
}

TEST_CASE("containerd config: containerd 2's version 3 file uses its CRI runtime plugin", "[installer]") {
  std::string v3 = "version = 3\n[plugins.'io.containerd.cri.v1.images']\n  snapshotter = 'overlayfs'\n";
  toml::table config = toml::parse(with_containerd_runtime(v3, kRuntime, kFile));
  CHECK(runtimes(config, "io.containerd.cri.v1.runtime")["runcvm"]["options"]["BinaryName"].value_or(std::string()) ==
        kRuntime);
  CHECK(!config["plugins"]["io.containerd.grpc.v1.cri"]);
}

TEST_CASE("containerd config: files it cannot change are refused, naming why", "[installer]") {
  // A version 1 file (no version key): its CRI table is plugins.cri, of another shape.
  CHECK_THROWS_WITH(with_containerd_runtime("[plugins.cri]\n  sandbox_image = \"pause\"\n", kRuntime, kFile),
                    ContainsSubstring("/etc/containerd/config.toml: a version 1 containerd config") &&
                        ContainsSubstring("nothing was changed"));
  CHECK_THROWS_WITH(with_containerd_runtime("version = 2\n[plugins\n", kRuntime, kFile),
                    ContainsSubstring("not valid TOML (line 2"));
  std::string own =
      debian_config() + "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runcvm]\n  runtime_type = \"x\"\n";
  CHECK_THROWS_WITH(with_containerd_runtime(own, kRuntime, kFile),
                    ContainsSubstring("defines the runtime \"runcvm\" itself"));
  // Runtimes given as an inline table cannot be extended by a table header.
  std::string inline_runtimes =
      "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
      "  runtimes = { runc = { runtime_type = \"io.containerd.runc.v2\" } }\n";
  CHECK_THROWS_WITH(with_containerd_runtime(inline_runtimes, kRuntime, kFile),
                    ContainsSubstring("does not give a valid config"));
  // Half a block (its end line deleted by hand) is not guessed at.
  std::string damaged = debian_config() + "\n" + std::string(kContainerdBlockBegin) + "\n";
  CHECK_THROWS_WITH(without_containerd_runtime(damaged, kFile), ContainsSubstring("block is damaged"));
  CHECK_THROWS_WITH(with_containerd_runtime(damaged, kRuntime, kFile), ContainsSubstring("block is damaged"));
}

TEST_CASE("containerd config: an install path with TOML's special characters reads back as given", "[installer]") {
  std::string odd = "/opt/run\"cvm\\x\n]/bin/runcvm-runtime";
  toml::table config = toml::parse(with_containerd_runtime(debian_config(), odd, kFile));
  CHECK(runtimes(config)["runcvm"]["options"]["BinaryName"].value_or(std::string()) == odd);
}
