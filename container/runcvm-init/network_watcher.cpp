#include "container/runcvm-init/network_watcher.hpp"
#include "container/runcvm-init/vm_devices.hpp"

#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "channel/session.hpp"
#include "common/error.hpp"
#include "common/file.hpp"
#include "container/runcvm-init/dns_forwarder.hpp"
#include "container/runcvm-init/held_files.hpp"
#include "container/runcvm-init/network_wiring.hpp"
#include "container/runcvm-init/notice.hpp"
#include "container/runcvm-init/qmp.hpp"

namespace runcvm::container_init {
namespace {

using Json = nlohmann::json;

// A hot-plugged card the guest has not released by then stays; its slot is not used again.
constexpr auto kUnplugLimit = std::chrono::seconds(20);
// Docker sets a new interface up in steps (move, rename, address, up, routes): act once its
// notifications have been quiet this long.
constexpr auto kSettle = std::chrono::milliseconds(300);

bool contains(const std::vector<int>& list, int value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string describe(const handoff::Interface& interface) {
  std::string text = interface.name;
  for (const auto& a : interface.addresses) text += " " + a;
  return text;
}

class Watcher {
 public:
  explicit Watcher(NetworkWatcherSettings settings) : settings_(std::move(settings)), wired_(settings_.wired) {
    for (const auto& w : wired_) next_position_ = std::max(next_position_, w.position + 1);
    free_slots_ = hotplug_slots(settings_.qemu.machine, settings_.qemu.hotplug_slots);
    if (settings_.host_side_address && !wired_.empty()) host_side_position_ = wired_.front().position;
  }

  [[noreturn]] void run(UniqueFd events) {
    if (settings_.monitor) {
      qmp_ = std::move(settings_.monitor);
    } else if (settings_.qmp) {
      try {
        qmp_.emplace(std::move(settings_.qmp));
      } catch (const Error& e) {
        notice(std::string("networks connected while the VM runs will not reach it: ") + e.what());
      }
    }
    bool retry = false;
    for (;;) {
      pollfd p{events.get(), POLLIN, 0};
      // Woken by a notification only: every wake re-reads the whole state, and a notification
      // lost to a full socket buffer wakes it too (ENOBUFS), so nothing is missed while the
      // container's network stays as it is, and an idle container's runcvm-init does not wake.
      // A re-read that failed is tried again a few seconds later.
      if (::poll(&p, 1, retry ? 5000 : -1) > 0) {
        drain(events.get());
        for (pollfd again{events.get(), POLLIN, 0}; ::poll(&again, 1, static_cast<int>(kSettle.count())) > 0;)
          drain(events.get());
      }
      try {
        reconcile();
        retry = false;
      } catch (const std::exception& e) {
        notice(std::string("following the container's network: ") + e.what());
        retry = true;
      }
    }
  }

 private:
  static void drain(int fd) {
    char buffer[16384];
    while (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0 || errno == ENOBUFS) {
    }
  }

  void reconcile() {
    net::Netlink netlink;
    auto links = netlink.links();
    NetworkChanges changes =
        network_changes(wired_, ignored_, links, netlink.addresses(AF_UNSPEC), netlink.routes(AF_UNSPEC));
    // Forget ignored links that are gone, so that their numbers may come back as new links.
    std::erase_if(ignored_, [&](int index) {
      return std::none_of(links.begin(), links.end(), [&](const net::Link& l) { return l.index == index; });
    });
    for (const auto& gone : changes.removed) {
      try {
        remove(netlink, gone);
      } catch (const std::exception& e) {
        notice("docker network disconnect of " + gone.name + ": " + e.what());
      }
    }
    for (const auto& interface : changes.added.interfaces) {
      try {
        add(netlink, interface, changes.added.routes, links);
      } catch (const std::exception& e) {
        notice("docker network connect of " + describe(interface) + ": " + e.what());
      }
    }
  }

  void add(net::Netlink& netlink, const handoff::Interface& interface, const std::vector<handoff::NetworkRoute>& routes,
           const std::vector<net::Link>& links) {
    int index = 0;
    for (const auto& link : links)
      if (link.name == interface.name) index = link.index;
    // Not looked at again until it is wired whole (for good when the VM cannot take it): a
    // half-done one is not tried again.
    ignored_.push_back(index);
    bool q35 = settings_.qemu.machine == "q35";
    if (!qmp_ || (q35 && free_slots_.empty())) {
      notice("docker network connect: " + describe(interface) + " came to the container, but the VM cannot take it " +
             refusal_reason() + ": restart the container to give it to the VM");
      // Left up with Docker's addresses, it would put runcvm-init's namespace on that network.
      take_down(netlink, index, interface);
      return;
    }
    std::size_t position = next_position_++;
    WiredInterface wired{interface.name, index, position, true, "", interface.addresses, interface.mac};
    Nic nic = wire_interface(netlink, interface, position);
    UniqueFd tap(nic.tap_fd);
    qmp_->execute("getfd", {{"fdname", hotplug_tap_name(position)}}, tap.get());
    tap.reset();  // QEMU has its own copy now
    qmp_->execute("netdev_add",
                  {{"type", "tap"}, {"id", hotplug_backend_id(position)}, {"fd", hotplug_tap_name(position)}});
    Json card = {
        {"driver", "virtio-net-pci"}, {"id", hotplug_card_id(position)}, {"netdev", hotplug_backend_id(position)},
        {"mac", interface.mac},       {"host_mtu", interface.mtu},       {"romfile", ""}};
    if (!free_slots_.empty()) {
      wired.slot = free_slots_.front();
      card["bus"] = wired.slot;
    }
    qmp_->execute("device_add", card);
    if (!wired.slot.empty()) free_slots_.erase(free_slots_.begin());

    handoff::Network change;
    change.interfaces.push_back(interface);
    for (const auto& route : routes)
      if (route.device == interface.name) change.routes.push_back(route);
    wired_.push_back(wired);
    for (const auto& address : wired.addresses) settings_.peers->allow(address);
    std::erase(ignored_, index);
    follow_embedded_dns(netlink, change);
    settings_.send_to_guest(channel::encode_session(channel::FrameType::network_add, channel::kControlSession,
                                                    handoff::to_json_text(change)));
  }

  void take_down(net::Netlink& netlink, int index, const handoff::Interface& interface) {
    for (const auto& cidr : interface.addresses)
      netlink.request(net::remove_address(net::parse_cidr(cidr, index), netlink.next_sequence()),
                      "taking " + cidr + " off " + interface.name);
    netlink.request(net::set_link({.index = index, .up = false}, netlink.next_sequence()),
                    "taking " + interface.name + " down");
  }

  std::string refusal_reason() const {
    if (!qmp_ && settings_.qemu.machine == "microvm")
      return "while it runs (RUNCVM_QEMU_MACHINE=microvm has no PCI hot-plug)";
    if (!qmp_) return "while it runs (QEMU's monitor did not answer: see the notice before)";
    if (settings_.qemu.hotplug_slots == 0) return "while it runs (RUNCVM_QEMU_HOTPLUG_SLOTS=0)";
    return "now (all " + std::to_string(settings_.qemu.hotplug_slots) +
           " hot-plug slots are taken; RUNCVM_QEMU_HOTPLUG_SLOTS sets how many)";
  }

  // A container that was on Docker's default bridge only and joins a user-defined network is
  // given Docker's embedded DNS (its resolv.conf now names 127.0.0.11): the VM gets the
  // forwarder, as it does when it starts so.
  void follow_embedded_dns(net::Netlink& netlink, handoff::Network& change) {
    if (settings_.dns_forwarder || wired_.empty() || !settings_.resolv_conf) return;
    std::string resolv_conf;
    try {
      resolv_conf = read_held_file(settings_.resolv_conf.get(), kResolvConfPath, kResolvConfLimit);
    } catch (const Error& e) {
      notice(std::string("the network change's DNS is not followed: ") + e.what());
      return;
    }
    if (!uses_embedded_dns(resolv_conf)) return;
    const WiredInterface& first = wired_.front();
    if (!host_side_position_) {
      change.host_side_mac = give_host_side_address(netlink, first.position, first.mac, first.addresses);
      host_side_position_ = first.position;
      change.routes.insert(change.routes.begin(), handoff::NetworkRoute{handoff::kHostSideAddress, 32, "", first.name});
    }
    start_dns_forwarder({.listen_address = handoff::kHostSideAddress, .peers = settings_.peers});
    settings_.dns_forwarder = true;
    change.resolv_conf = resolv_conf_for_vm(resolv_conf, handoff::kHostSideAddress, settings_.dns_upstreams);
  }

  void remove(net::Netlink& netlink, const WiredInterface& gone) {
    std::erase_if(wired_, [&](const WiredInterface& w) { return w.position == gone.position; });
    for (const auto& address : gone.addresses) settings_.peers->forget(address);
    if (gone.hotplugged) {
      // The guest releases the card (ACPI or PCIe hot-plug); only then may its backend go.
      qmp_->execute("device_del", {{"id", hotplug_card_id(gone.position)}});
      if (qmp_->wait_for_device_deleted(hotplug_card_id(gone.position), kUnplugLimit)) {
        qmp_->execute("netdev_del", {{"id", hotplug_backend_id(gone.position)}});
        if (!gone.slot.empty()) free_slots_.push_back(gone.slot);
      } else {
        notice("docker network disconnect: the VM did not release the card of " + gone.name + " within " +
               std::to_string(kUnplugLimit.count()) + " s; its hot-plug slot stays taken");
      }
    } else {
      if (qmp_) qmp_->execute("set_link", {{"name", boot_card_id(gone.position)}, {"up", false}});
      settings_.send_to_guest(
          channel::encode_session(channel::FrameType::network_remove, channel::kControlSession, gone.name));
    }
    unwire_interface(netlink, gone.position);
    // runcvm-init's address (DNS, relays) went with that bridge: it moves to another interface's.
    if (host_side_position_ == gone.position) {
      host_side_position_.reset();
      if (wired_.empty()) return;
      const WiredInterface& next = wired_.front();
      handoff::Network change;
      change.host_side_mac = give_host_side_address(netlink, next.position, next.mac, next.addresses);
      host_side_position_ = next.position;
      change.routes.push_back({handoff::kHostSideAddress, 32, "", next.name});
      settings_.send_to_guest(channel::encode_session(channel::FrameType::network_add, channel::kControlSession,
                                                      handoff::to_json_text(change)));
    }
  }

  NetworkWatcherSettings settings_;
  std::optional<Qmp> qmp_;
  std::vector<WiredInterface> wired_;
  std::vector<int> ignored_;
  std::vector<std::string> free_slots_;
  std::size_t next_position_ = 0;
  std::optional<std::size_t> host_side_position_;  // the bridge holding runcvm-init's address
};

}  // namespace

NetworkChanges network_changes(const std::vector<WiredInterface>& wired, const std::vector<int>& ignored,
                               const std::vector<net::Link>& links, const std::vector<net::Address>& addresses,
                               const std::vector<net::Route>& routes) {
  NetworkChanges changes;
  std::vector<int> present;
  std::vector<net::Link> candidates;
  for (const auto& link : links) {
    present.push_back(link.index);
    bool ours = link.kind == "bridge" || link.kind == "tun" || link.name.starts_with("runcvm-");
    bool known = contains(ignored, link.index) ||
                 std::any_of(wired.begin(), wired.end(), [&](const auto& w) { return w.index == link.index; });
    if (link.type != ARPHRD_ETHER || link.name == "lo" || ours || known || !(link.flags & IFF_UP)) continue;
    // Docker gives the address last but one (then up, then routes): without one it is not done.
    bool addressed = std::any_of(addresses.begin(), addresses.end(), [&](const net::Address& a) {
      return a.index == link.index && (a.family == AF_INET || (a.family == AF_INET6 && a.scope == RT_SCOPE_UNIVERSE));
    });
    if (addressed) candidates.push_back(link);
  }
  changes.added = plan_network(candidates, addresses, routes, "").network;
  for (const auto& w : wired)
    if (!contains(present, w.index)) changes.removed.push_back(w);
  return changes;
}

void start_network_watcher(NetworkWatcherSettings settings) {
  // Subscribed before the thread starts: nothing that happens from here on is missed.
  UniqueFd events(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (!events || ::bind(events.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
    throw system_error("subscribing to", "the container's network changes", errno);
  auto watcher = std::make_shared<Watcher>(std::move(settings));
  std::thread([watcher, events = std::move(events)]() mutable { watcher->run(std::move(events)); }).detach();
}

}  // namespace runcvm::container_init
