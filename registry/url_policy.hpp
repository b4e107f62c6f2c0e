// Where the registry client may send a request, and what it may send there: URLs are parsed with
// libcurl's URL API (the parser that will connect), never by string prefix.
//   - plain HTTP only to loopback (is_loopback_registry); everything else is https;
//   - the registry's Authorization (a Bearer token, or Basic credentials) only to the registry's
//     own origin: a redirect to a CDN, or an upload location on another host, gets none;
//   - Basic credentials to a token service only over https (or loopback), and only on the
//     registry's own host or one the user named (require_credentials_allowed_to_realm).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Whether the user's credentials for `registry` (host[:port]) may go to `realm`, the token service
// a Bearer challenge names. The challenge is the answer of whatever sent the 401 (the registry, or
// a CDN its redirect led to), so the realm's host must be the registry's own (any port), Docker
// Hub's auth.docker.io for Docker Hub's registry, or a host in `trusted_token_hosts` (the user's
// RUNCVM_REGISTRY_TOKEN_HOSTS). Throws Error naming the realm and the registry otherwise.
void require_credentials_allowed_to_realm(const std::string& realm, std::string_view registry,
                                          const std::vector<std::string>& trusted_token_hosts);

}  // namespace runcvm::registry
