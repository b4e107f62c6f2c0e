// Image references as users write them — "127.0.0.1:5000/runcvm/bundle:1.0", "…@sha256:…" — and
// the challenge a registry answers 401 with (WWW-Authenticate), both parsed as pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace runcvm::registry {

struct Reference {
  std::string registry;    // host[:port]
  std::string repository;  // path below the registry
  std::string tag;         // "" when pinned by digest
  std::string digest;      // sha256:<hex>, or ""
  std::string tag_or_digest() const { return digest.empty() ? tag : digest; }
};

// A registry is required (there is no default one here). Throws Error naming what is wrong.
Reference parse_reference(std::string_view text);

// Whether a registry (host[:port]) is this machine's loopback, the only place plain HTTP is
// spoken: exactly "localhost", an IPv4 address in 127.0.0.0/8, or [::1] — not a name that merely
// begins like one ("127.example.com", "localhost.evil").
bool is_loopback_registry(std::string_view registry);

struct Challenge {
  std::string scheme;                         // "bearer" or "basic" (lower case)
  std::map<std::string, std::string> params;  // realm, service, scope, …
};
Challenge parse_challenge(std::string_view header);

}  // namespace runcvm::registry
