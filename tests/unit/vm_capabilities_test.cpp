// The workload's capabilities in the VM (vm_capabilities.hpp): every one by default, the spec's
// exactly once the operator narrowed Docker's default set or asked for RUNCVM_CAPS=spec.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>

#include "runtime/vm_capabilities.hpp"

using namespace runcvm;
using runtime::VmCapabilities;

namespace {

std::vector<std::string> with(std::vector<std::string> set, const std::vector<std::string>& more) {
  set.insert(set.end(), more.begin(), more.end());
  return set;
}

std::vector<std::string> without(std::vector<std::string> set, const std::string& capability) {
  set.erase(std::remove(set.begin(), set.end(), capability), set.end());
  return set;
}

handoff::Capabilities root_sets(const std::vector<std::string>& set) { return {set, set, set, {}, {}}; }

}  // namespace

TEST_CASE("by default the VM's root holds every capability; --cap-add changes nothing of that",
          "[runtime][capabilities]") {
  const auto& defaults = runtime::engine_default_capabilities();
  auto every = runtime::every_capability();
  REQUIRE(every.size() == 41);
  REQUIRE(every.back() == "CAP_CHECKPOINT_RESTORE");
  for (const auto& set : {defaults, with(defaults, {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"})}) {
    auto vm = runtime::vm_capabilities(root_sets(set), VmCapabilities::automatic);
    REQUIRE(vm);
    CHECK(vm->bounding == every);
    CHECK(vm->effective == every);
    CHECK(vm->permitted == every);
    CHECK(vm->inheritable.empty());
    CHECK(vm->ambient.empty());
  }
}

TEST_CASE("a non-root user gets the full bounding set and, as under runc, no effective capability",
          "[runtime][capabilities]") {
  handoff::Capabilities user{runtime::engine_default_capabilities(), {}, {}, {}, {}};
  auto vm = runtime::vm_capabilities(user, VmCapabilities::automatic);
  REQUIRE(vm);
  CHECK(vm->bounding == runtime::every_capability());
  CHECK(vm->effective.empty());
  CHECK(vm->permitted.empty());
}

TEST_CASE("a narrowed set, or RUNCVM_CAPS=spec, is the spec's exactly", "[runtime][capabilities]") {
  const auto& defaults = runtime::engine_default_capabilities();
  std::vector<handoff::Capabilities> narrowed = {
      root_sets(without(defaults, "CAP_NET_RAW")),                         // --cap-drop NET_RAW
      root_sets({}),                                                       // --cap-drop ALL
      root_sets({"CAP_NET_BIND_SERVICE"}),                                 // --cap-drop ALL --cap-add …
      root_sets(with(without(defaults, "CAP_MKNOD"), {"CAP_SYS_ADMIN"})),  // a drop and an add
  };
  for (const auto& sets : narrowed) {
    auto vm = runtime::vm_capabilities(sets, VmCapabilities::automatic);
    REQUIRE(vm);
    CHECK(*vm == sets);
  }
  CHECK(*runtime::vm_capabilities(root_sets(defaults), VmCapabilities::spec) == root_sets(defaults));
  CHECK_FALSE(runtime::vm_capabilities(std::nullopt, VmCapabilities::automatic));
}
