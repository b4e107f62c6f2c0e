// The VM kernel's requests for modules (runcvm-modprobe): resolved from the text indexes of the
// bundle kernel's tree, by name, by alias pattern, or to nothing the kernel has.
#include <catch2/catch_test_macros.hpp>

#include <string>

#include "vm/vm-init/kernel_modules.hpp"

using runcvm::vm_init::ModuleIndexes;
using runcvm::vm_init::resolve_module_request;
using namespace std::string_literals;

namespace {

ModuleIndexes indexes() {
  ModuleIndexes out;
  out.dep =
      "kernel/drivers/net/vxlan/vxlan.ko: kernel/net/ipv4/udp_tunnel.ko kernel/net/ipv6/ip6_udp_tunnel.ko\n"
      "kernel/net/ipv4/udp_tunnel.ko:\n"
      "kernel/net/ipv6/ip6_udp_tunnel.ko:\n"
      "kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko\n"
      "kernel/net/netfilter/nf_conntrack.ko:\n"
      "kernel/fs/overlayfs/overlay.ko.xz:\n"
      "kernel/drivers/net/dummy.ko:\n";
  out.alias =
      "# Aliases extracted from modules themselves.\n"
      "alias rtnl-link-vxlan vxlan\n"
      "alias net-pf-16-proto-16-family-IPVS ip_vs\n"
      "alias fs-overlay overlay\n"
      "alias rtnl-link-dummy dummy\n"
      "alias pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_net\n"
      "alias nft-chain-1-nat nft_chain_nat\n";
  out.builtin = "kernel/net/bridge/bridge.ko\nkernel/fs/fuse/virtiofs.ko\nkernel/net/netfilter/nft_chain_nat.ko\n";
  out.builtin_modinfo = "bridge.alias=rtnl-link-bridge\0virtiofs.alias=fs-virtiofs\0virtiofs.license=GPL\0"s;
  return out;
}

}  // namespace

TEST_CASE("a module asked for by an alias loads with its dependencies first", "[modprobe]") {
  auto request = resolve_module_request(indexes(), "rtnl-link-vxlan");
  CHECK_FALSE(request.builtin);
  CHECK(request.files == std::vector<std::string>{"kernel/net/ipv6/ip6_udp_tunnel.ko", "kernel/net/ipv4/udp_tunnel.ko",
                                                  "kernel/drivers/net/vxlan/vxlan.ko"});
  CHECK(resolve_module_request(indexes(), "net-pf-16-proto-16-family-IPVS").files.back() ==
        "kernel/net/netfilter/ipvs/ip_vs.ko");
  CHECK(resolve_module_request(indexes(), "fs-overlay").files ==
        std::vector<std::string>{"kernel/fs/overlayfs/overlay.ko.xz"});
}

TEST_CASE("a module asked for by name, with '-' and '_' alike", "[modprobe]") {
  CHECK(resolve_module_request(indexes(), "dummy").files == std::vector<std::string>{"kernel/drivers/net/dummy.ko"});
  CHECK(resolve_module_request(indexes(), "ip-vs").files.size() == 2);
  CHECK(resolve_module_request(indexes(), "ip_vs").files.size() == 2);
}

TEST_CASE("a built-in module, by name or by an alias of the module or of its built-in modinfo", "[modprobe]") {
  for (const char* name : {"bridge", "virtiofs", "fs-virtiofs", "rtnl-link-bridge", "nft-chain-1-nat"}) {
    INFO(name);
    auto request = resolve_module_request(indexes(), name);
    CHECK(request.builtin);
    CHECK(request.files.empty());
    CHECK(request.found());
  }
}

TEST_CASE("alias patterns match as kmod's do, and only whole", "[modprobe]") {
  CHECK(resolve_module_request(indexes(), "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00").found() == false);
  // virtio_net has no modules.dep entry here: its alias matches, but there is nothing to load.
  ModuleIndexes with_virtio = indexes();
  with_virtio.dep += "kernel/drivers/net/virtio_net.ko:\n";
  CHECK(resolve_module_request(with_virtio, "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00").files ==
        std::vector<std::string>{"kernel/drivers/net/virtio_net.ko"});
  CHECK_FALSE(resolve_module_request(indexes(), "rtnl-link-vxla").found());
  CHECK_FALSE(resolve_module_request(indexes(), "rtnl-link-vxlan2").found());
}

TEST_CASE("what the kernel does not have resolves to nothing, and so do empty or hostile indexes", "[modprobe]") {
  CHECK_FALSE(resolve_module_request(indexes(), "rtnl-link-wireguard").found());
  CHECK_FALSE(resolve_module_request(ModuleIndexes{}, "vxlan").found());
  ModuleIndexes odd;
  odd.alias = "alias\nalias only-two\nalias a b c d\nnot-an-alias x y\nalias [ broken\n";
  odd.dep = ":\n: x\nnocolon\n";
  odd.builtin_modinfo = "\0\0.alias=\0x.alias="s;
  CHECK_FALSE(resolve_module_request(odd, "x").found());
  CHECK_FALSE(resolve_module_request(odd, "only-two").found());
}
