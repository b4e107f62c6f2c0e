// Where the registry client sends the user's credentials: a fake registry on loopback answers
// 401 with a Bearer challenge whose realm is on its own host (127.0.0.1) or on another
// ("localhost", also loopback, so that a request sent there would arrive and be seen).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "registry/client.hpp"
#include "registry/url_policy.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

namespace {

// One request per connection: GET /token hands out a token (and records the Authorization it
// came with); anything else is 401 with the challenge until that token is presented, then 404.
class FakeRegistry {
 public:
  explicit FakeRegistry(std::string realm_host) : realm_host_(std::move(realm_host)) {
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (::bind(listener_.get(), generic, length) != 0 || ::listen(listener_.get(), 16) != 0 ||
        ::getsockname(listener_.get(), generic, &length) != 0)
      throw system_error("listening on", "127.0.0.1", errno);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRegistry() {
    stop_ = true;
    thread_.join();
  }

  std::string registry() const { return "127.0.0.1:" + std::to_string(port_); }
  // The Authorization header of each token request ("" when it had none).
  std::vector<std::string> token_requests() {
    std::lock_guard lock(mutex_);
    return token_requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd ready{listener_.get(), POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) continue;
      UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (connection.get() >= 0) answer(connection.get());
    }
  }

  void answer(int fd) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    std::string authorization = header(request, "Authorization");
    std::string response;
    if (request.find(" /token") != std::string::npos) {
      std::lock_guard lock(mutex_);
      token_requests_.push_back(authorization);
      response =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"token\":\"t0k3n!\"}\n";
    } else if (authorization != "Bearer t0k3n!") {
      std::string realm = "http://" + realm_host_ + ":" + std::to_string(port_) + "/token";
      response = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"" + realm +
                 "\",service=\"fake\",scope=\"repository:x:pull\"\r\nContent-Length: 0\r\n\r\n";
    } else {
      response = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }
    [[maybe_unused]] auto n = ::write(fd, response.data(), response.size());
  }

  static std::string header(const std::string& request, const std::string& name) {
    auto at = request.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    at += name.size() + 4;
    return request.substr(at, request.find("\r\n", at) - at);
  }

  std::string realm_host_;
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> token_requests_;
  std::thread thread_;
};

registry::ClientOptions options_with(std::optional<registry::Credentials> credentials) {
  registry::ClientOptions options;
  options.credentials = std::move(credentials);
  options.attempts = 1;
  return options;
}

const std::string kDigest = "sha256:" + std::string(64, 'a');
const registry::Credentials kAlice{"alice", "secret"};

}  // namespace

TEST_CASE("credentials go to a token service on the registry's own host", "[registry][auth]") {
  FakeRegistry fake("127.0.0.1");
  registry::Client client(registry::parse_reference(fake.registry() + "/x:1"), options_with(kAlice));
  CHECK_FALSE(client.blob_exists(kDigest));
  CHECK(fake.token_requests() == std::vector<std::string>{"Basic YWxpY2U6c2VjcmV0"});  // alice:secret
}

TEST_CASE("credentials never go to a token service on another host", "[registry][auth]") {
  FakeRegistry fake("localhost");
  registry::Client client(registry::parse_reference(fake.registry() + "/x:1"), options_with(kAlice));
  try {
    client.blob_exists(kDigest);
    FAIL("expected the credentials to be kept");
  } catch (const Error& e) {
    std::string line = format_error_line("runcvm-build", e);
    CHECK_THAT(line, ContainsSubstring("refusing to send the credentials for " + fake.registry() +
                                       " to the token service \"http://localhost:"));
    CHECK_THAT(line, ContainsSubstring("RUNCVM_REGISTRY_TOKEN_HOSTS"));
  }
  CHECK(fake.token_requests().empty());  // nothing at all reached it

  // Without credentials there is nothing to keep: the token is asked for anonymously.
  registry::Client anonymous(registry::parse_reference(fake.registry() + "/x:1"), options_with(std::nullopt));
  CHECK_FALSE(anonymous.blob_exists(kDigest));
  CHECK(fake.token_requests() == std::vector<std::string>{""});
}

TEST_CASE("a token host the user names may receive the credentials", "[registry][auth]") {
  FakeRegistry fake("localhost");
  auto options = options_with(kAlice);
  options.trusted_token_hosts = {"LocalHost"};
  registry::Client client(registry::parse_reference(fake.registry() + "/x:1"), options);
  CHECK_FALSE(client.blob_exists(kDigest));
  CHECK(fake.token_requests() == std::vector<std::string>{"Basic YWxpY2U6c2VjcmV0"});
}

TEST_CASE("the token-service rule: same host at any port, Docker Hub's auth host, named hosts", "[registry][auth]") {
  using registry::require_credentials_allowed_to_realm;
  CHECK_NOTHROW(require_credentials_allowed_to_realm("https://ghcr.io/token", "ghcr.io", {}));
  CHECK_NOTHROW(
      require_credentials_allowed_to_realm("https://Registry.Example.org:8443/auth", "registry.example.org", {}));
  CHECK_NOTHROW(require_credentials_allowed_to_realm("https://auth.docker.io/token", "registry-1.docker.io", {}));
  CHECK_NOTHROW(
      require_credentials_allowed_to_realm("https://gitlab.com/jwt/auth", "registry.gitlab.com", {"gitlab.com"}));
  CHECK_THROWS_WITH(require_credentials_allowed_to_realm("https://gitlab.com/jwt/auth", "registry.gitlab.com", {}),
                    ContainsSubstring("refusing to send the credentials for registry.gitlab.com to the token service "
                                      "\"https://gitlab.com/jwt/auth\" on another host"));
  for (const char* elsewhere : {"https://auth.docker.io.evil.net/token", "https://evil.net/ghcr.io/token",
                                "https://ghcr.io@evil.net/token", "https://ghcr.io.evil.net/token"}) {
    INFO(elsewhere);
    CHECK_THROWS_AS(require_credentials_allowed_to_realm(elsewhere, "ghcr.io", {}), Error);
  }
  CHECK_THROWS_AS(require_credentials_allowed_to_realm("https://auth.docker.io/token", "ghcr.io", {}), Error);
  CHECK_THROWS_WITH(require_credentials_allowed_to_realm("not a url", "ghcr.io", {}),
                    ContainsSubstring("is not an http(s) URL"));
}
