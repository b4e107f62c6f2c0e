#include "registry/reference.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/error.hpp"

namespace runcvm::registry {
namespace {

bool valid_repository(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '/' ||
           c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

bool is_loopback_registry(std::string_view registry) {
  if (registry.starts_with("[")) {  // [v6]:port
    auto close = registry.find(']');
    return close != std::string_view::npos && registry.substr(1, close - 1) == "::1" &&
           (close + 1 == registry.size() || registry[close + 1] == ':');
  }
  std::string_view host = registry.substr(0, registry.find(':'));
  if (host == "localhost") return true;
  // An IPv4 address: exactly four decimal octets, the first 127.
  std::vector<std::string_view> octets;
  for (size_t start = 0;;) {
    size_t dot = host.find('.', start);
    octets.push_back(host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (octets.size() != 4 || octets[0] != "127") return false;
  return std::all_of(octets.begin(), octets.end(), [](std::string_view o) {
    return !o.empty() && o.size() <= 3 && o.find_first_not_of("0123456789") == std::string_view::npos &&
           std::stoi(std::string(o)) <= 255;
  });
}

Reference parse_reference(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error("image reference " + quote(text) + ": " + why + " (expected HOST[:PORT]/NAME[:TAG|@sha256:DIGEST])");
  };
  Reference r;
  auto slash = text.find('/');
  if (slash == std::string_view::npos) throw bad("no registry");
  r.registry = std::string(text.substr(0, slash));
  std::string_view rest = text.substr(slash + 1);
  if (r.registry.empty() || (r.registry.find('.') == std::string::npos && r.registry.find(':') == std::string::npos &&
                             r.registry != "localhost"))
    throw bad("no registry");
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    r.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (r.digest.size() != 71 || !r.digest.starts_with("sha256:") ||
        r.digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
      throw bad("the digest is not sha256:<64 hex digits>");
  }
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find('/', colon) == std::string_view::npos) {
    r.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (r.tag.empty() || r.tag.size() > 128 ||
        r.tag.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            std::string::npos)
      throw bad("bad tag " + quote(r.tag));
  }
  if (!valid_repository(rest)) throw bad("bad repository name " + quote(rest));
  r.repository = std::string(rest);
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

Challenge parse_challenge(std::string_view header) {
  Challenge c;
  auto space = header.find(' ');
  std::string scheme(header.substr(0, space));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  c.scheme = scheme;
  if (space == std::string_view::npos) return c;
  std::string_view rest = header.substr(space + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    auto equals = rest.find('=');
    if (equals == std::string_view::npos) break;
    std::string key(rest.substr(0, equals));
    rest.remove_prefix(equals + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      auto end = rest.find('"');
      value = std::string(rest.substr(0, end));
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    } else {
      auto end = rest.find(',');
      value = std::string(rest.substr(0, end));
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    }
    c.params[key] = value;
  }
  return c;
}

}  // namespace runcvm::registry
