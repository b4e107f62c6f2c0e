#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "builder/kernels/kernel_config.hpp"
#include "common/error.hpp"
#include "common/file.hpp"

using namespace runcvm::kernels;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("a config fragment parses into settings; comments and blank lines are skipped", "[kernel-config]") {
  auto fragment = parse_config_fragment(
      "# why these\n\nCONFIG_VIRTIO_FS=y\n# CONFIG_DRM is not set\nCONFIG_LOCALVERSION=\"-runcvm\"\r\nCONFIG_HZ=100\n",
      "f");
  REQUIRE(fragment.size() == 4);
  CHECK(fragment[0] == ConfigSetting{"CONFIG_VIRTIO_FS", "y"});
  CHECK(fragment[1] == ConfigSetting{"CONFIG_DRM", std::nullopt});
  CHECK(fragment[2] == ConfigSetting{"CONFIG_LOCALVERSION", "\"-runcvm\""});
  CHECK(fragment[3] == ConfigSetting{"CONFIG_HZ", "100"});
}

TEST_CASE("a malformed fragment line is an error naming the line and what is expected", "[kernel-config]") {
  auto error_of = [](std::string_view text) {
    try {
      parse_config_fragment(text, "runcvm-minimal.config");
    } catch (const runcvm::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of("CONFIG_A=y\nVIRTIO_FS=y\n"),
             ContainsSubstring("runcvm-minimal.config: line 2 \"VIRTIO_FS=y\": expected CONFIG_<NAME>=<value>"));
  CHECK_THAT(error_of("CONFIG_A=\n"), ContainsSubstring("line 1 \"CONFIG_A=\": empty value"));
  CHECK_THAT(error_of("CONFIG_A=y\n# CONFIG_A is not set\n"),
             ContainsSubstring("line 2: CONFIG_A is set more than once"));
  CHECK_THAT(error_of("CONFIG_A y\n"), ContainsSubstring("line 1"));
}

TEST_CASE("a fragment replaces the base config's settings of the options it names, and adds the rest",
          "[kernel-config]") {
  std::string base = "#\n# Automatically generated\n#\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_D=y\n";
  auto fragment = parse_config_fragment("CONFIG_B=y\n# CONFIG_C is not set\nCONFIG_E=\"x\"\n", "f");
  std::string merged = apply_config_fragment(base, fragment);
  CHECK(merged ==
        "#\n# Automatically generated\n#\nCONFIG_A=y\nCONFIG_D=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_E=\"x\"\n");
  CHECK(unmet_config_settings(merged, fragment).empty());
}

TEST_CASE("settings Kconfig dropped are listed with what it made of them", "[kernel-config]") {
  auto fragment = parse_config_fragment("CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=m\n", "f");
  // olddefconfig's verdict: A kept, B dropped (absent = not set), C forced on, D built in.
  std::string final_config = "CONFIG_A=y\nCONFIG_C=y\nCONFIG_D=y\n";
  CHECK(unmet_config_settings(final_config, fragment) == std::vector<std::string>{"CONFIG_B=y (got: is not set)",
                                                                                  "# CONFIG_C is not set (got: y)",
                                                                                  "CONFIG_D=m (got: y)"});
}

TEST_CASE("the runcvm-minimal recipe's fragment parses", "[kernel-config]") {
  auto path = std::string(RUNCVM_SOURCE_RECIPES_DIR) + "/runcvm-minimal.config";
  auto fragment = parse_config_fragment(runcvm::read_file(path), path);
  auto names_setting = [&](const std::string& name, const std::optional<std::string>& value) {
    for (const auto& s : fragment)
      if (s.name == name) return s.value == value;
    return false;
  };
  // What the VM needs to reach its root without an initramfs module.
  CHECK(names_setting("CONFIG_VIRTIO_FS", "y"));
  CHECK(names_setting("CONFIG_VIRTIO_PCI", "y"));
  CHECK(names_setting("CONFIG_VIRTIO_MMIO", "y"));
  CHECK(names_setting("CONFIG_PVH", "y"));
}

TEST_CASE("a kernel boots without an initramfs only with everything to reach the root built in", "[kernel-config]") {
  std::string built_in =
      "CONFIG_FUSE_FS=y\nCONFIG_VIRTIO_FS=y\nCONFIG_VIRTIO_CONSOLE=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_MMIO=y\n"
      "CONFIG_DEVTMPFS_MOUNT=y\n";
  CHECK(mounts_virtiofs_root_itself(built_in));
  // Debian's packaged kernel: virtiofs is a module the initramfs loads.
  std::string as_module = built_in;
  as_module.replace(as_module.find("CONFIG_VIRTIO_FS=y"), 18, "CONFIG_VIRTIO_FS=m");
  CHECK_FALSE(mounts_virtiofs_root_itself(as_module));
  // No MMIO transport: a microvm's root would not be found.
  std::string no_mmio = built_in;
  no_mmio.replace(no_mmio.find("CONFIG_VIRTIO_MMIO=y"), 20, "# CONFIG_VIRTIO_MMIO is not set");
  CHECK_FALSE(mounts_virtiofs_root_itself(no_mmio));
  // Without devtmpfs on /dev, runcvm-vm-init would start without its devices.
  CHECK_FALSE(mounts_virtiofs_root_itself(built_in.substr(0, built_in.find("CONFIG_DEVTMPFS_MOUNT"))));
  CHECK_FALSE(mounts_virtiofs_root_itself(""));
}
