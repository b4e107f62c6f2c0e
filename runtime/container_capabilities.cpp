#include "runtime/container_capabilities.hpp"

#include <algorithm>

namespace runcvm::runtime {

using Json = nlohmann::json;

const std::vector<std::string>& container_capabilities() {
  static const std::vector<std::string> capabilities = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE",  "CAP_NET_ADMIN",        "CAP_SYS_ADMIN"};
  return capabilities;
}

void set_container_capabilities(Json& process) {
  Json list(container_capabilities());
  Json& caps = process["capabilities"];
  caps = Json::object();
  for (const char* set : {"bounding", "effective", "permitted"}) caps[set] = list;
}

void drop_exec_client_privileges(Json& process) {
  Json& caps = process["capabilities"];
  caps = Json::object();
  for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) caps[set] = Json::array();
  process["noNewPrivileges"] = true;
}

}  // namespace runcvm::runtime
