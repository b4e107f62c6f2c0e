// Where the registry client may send a request, and what it may send there: URLs are parsed with
// libcurl's URL API (the parser that will connect), never by string prefix.
//   - plain HTTP only to loopback (is_loopback_registry); everything else is https;
//   - the registry's Authorization (a Bearer token, or Basic credentials) only to the registry's
//     own origin: a redirect to a CDN, or an upload location on another host, gets none;
//   - Basic credentials to a token service only over https (or loopback).
#pragma once

#include <optional>
#include <string>

namespace runcvm::registry {

struct Origin {
  std::string scheme;  // lower case
  std::string host;    // lower case; IPv6 in brackets
  std::string port;    // explicit or the scheme's default
  bool operator==(const Origin&) const = default;
};

// nullopt for anything libcurl does not parse as an absolute http(s) URL.
std::optional<Origin> origin_of(const std::string& url);
// `location` (absolute or relative, as a Location header has it) resolved against `base`; throws
// Error naming the location when it does not parse.
std::string resolve_location(const std::string& base, const std::string& location);
// https anywhere, http only to loopback. Throws Error naming the URL otherwise.
void require_allowed_url(const std::string& url);

}  // namespace runcvm::registry
