#include "registry/url_policy.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/error.hpp"
#include "registry/reference.hpp"

namespace runcvm::registry {
namespace {

using UrlHandle = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

std::string lower_case(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::optional<std::string> part(CURLU* url, CURLUPart which, unsigned flags = 0) {
  char* text = nullptr;
  if (curl_url_get(url, which, &text, flags) != CURLUE_OK || !text) return std::nullopt;
  std::string value(text);
  curl_free(text);
  return lower_case(value);
}

// Registries whose token service is known to live on another host of the same operator.
bool known_token_host(std::string_view registry_host, std::string_view realm_host) {
  constexpr std::string_view kDockerHub[] = {"registry-1.docker.io", "index.docker.io", "docker.io"};
  return realm_host == "auth.docker.io" &&
         std::find(std::begin(kDockerHub), std::end(kDockerHub), registry_host) != std::end(kDockerHub);
}

}  // namespace

std::optional<Origin> origin_of(const std::string& url) {
  UrlHandle handle(curl_url(), curl_url_cleanup);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
  auto scheme = part(handle.get(), CURLUPART_SCHEME);
  auto host = part(handle.get(), CURLUPART_HOST);
  auto port = part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || !host || !port || (*scheme != "http" && *scheme != "https")) return std::nullopt;
  return Origin{*scheme, *host, *port};
}

std::string resolve_location(const std::string& base, const std::string& location) {
  UrlHandle handle(curl_url(), curl_url_cleanup);
  // With a URL already set, libcurl resolves a relative one against it, as a browser would.
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
      curl_url_set(handle.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK)
    throw Error("redirect to " + quote(location) + ": not a URL");
  char* text = nullptr;
  if (curl_url_get(handle.get(), CURLUPART_URL, &text, 0) != CURLUE_OK || !text)
    throw Error("redirect to " + quote(location) + ": not a URL");
  std::string resolved(text);
  curl_free(text);
  return resolved;
}

void require_allowed_url(const std::string& url) {
  auto origin = origin_of(url);
  if (!origin) throw Error(quote(url) + " is not an http(s) URL");
  if (origin->scheme == "https") return;
  std::string host = origin->host == "[::1]" || origin->host == "::1" ? "[::1]" : origin->host;
  if (!is_loopback_registry(host))
    throw Error("refusing plain HTTP to " + quote(url) +
                ": only loopback (localhost, 127.0.0.0/8, [::1]) is reached without https");
}

void require_credentials_allowed_to_realm(const std::string& realm, std::string_view registry,
                                          const std::vector<std::string>& trusted_token_hosts) {
  auto realm_origin = origin_of(realm);
  if (!realm_origin)
    throw Error("the token service " + quote(realm) + " named by " + std::string(registry) + " is not an http(s) URL");
  // The registry's host as libcurl parses it from the URL the client builds for it.
  auto registry_origin = origin_of("https://" + std::string(registry) + "/");
  std::string registry_host = registry_origin ? registry_origin->host : "";
  const std::string& host = realm_origin->host;
  bool trusted = host == registry_host || known_token_host(registry_host, host) ||
                 std::any_of(trusted_token_hosts.begin(), trusted_token_hosts.end(),
                             [&](const std::string& named) { return lower_case(named) == host; });
  if (!trusted)
    throw Error("refusing to send the credentials for " + std::string(registry) + " to the token service " +
                quote(realm) + " on another host")
        .with_hint("if " + quote(host) + " is " + std::string(registry) +
                   "'s own token service, name it in RUNCVM_REGISTRY_TOKEN_HOSTS");
}

}  // namespace runcvm::registry
