#include "registry/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "registry/layout_index.hpp"
#include "registry/layout_writer.hpp"
#include "registry/manifest.hpp"
#include "registry/url_policy.hpp"

namespace runcvm::registry {
namespace {

using Json = nlohmann::json;

// Answers other than a blob's bytes (manifests, tokens, errors) are small: a registry that sends
// more is cut off rather than held in memory. Registries cap manifests at 4 MiB too.
constexpr std::size_t kMaxResponseBody = 4 << 20;

// Where a blob's bytes go as they arrive: a file under a temporary name and a running digest,
// cut off past the size the manifest declares. Each exchange starts it afresh.
struct BlobSink {
  fs::path destination;
  std::uint64_t limit = 0;
  std::unique_ptr<AtomicFileWriter> file;
  std::unique_ptr<Hasher> hasher;
  std::uint64_t received = 0;
  bool over_limit = false;
  std::string write_error;

  void restart() {
    file.reset();
    file = std::make_unique<AtomicFileWriter>(destination);
    hasher = std::make_unique<Hasher>("sha256");
    received = 0;
    over_limit = false;
    write_error.clear();
  }
};

struct Response {
  long status = 0;                             // of the last status line: a redirect's, then its target's
  std::map<std::string, std::string> headers;  // lower-case names, of that last response
  std::string body;
  BlobSink* sink = nullptr;  // a 200's body goes here instead of `body`
  bool body_too_large = false;
};

struct Body {  // what a request sends: nothing, a string, or a range of a file
  const std::string* text = nullptr;
  std::FILE* file = nullptr;
  std::uint64_t offset = 0, length = 0, sent = 0;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  std::string line(data, size * count);
  auto* response = static_cast<Response*>(user);
  if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue, or a proxy's): its own headers
    response->headers.clear();
    auto space = line.find(' ');
    response->status = space == std::string::npos ? 0 : std::strtol(line.c_str() + space + 1, nullptr, 10);
    return size * count;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    response->headers[name] = value;
  }
  return size * count;
}

// Returning less than it was given makes libcurl stop with CURLE_WRITE_ERROR; the flags say why.
std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  std::size_t n = size * count;
  if (response->sink && response->status == 200) {
    BlobSink& sink = *response->sink;
    if (sink.received + n > sink.limit) {
      sink.over_limit = true;
      return 0;
    }
    try {
      sink.file->write(std::string_view(data, n));
    } catch (const std::exception& e) {  // an exception must not cross libcurl's C frames
      sink.write_error = e.what();
      return 0;
    }
    sink.hasher->update(std::string_view(data, n));
    sink.received += n;
    return n;
  }
  if (response->body.size() + n > kMaxResponseBody) {
    response->body_too_large = true;
    return 0;
  }
  response->body.append(data, n);
  return n;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  std::size_t want = std::min<std::uint64_t>(size * count, body->length - body->sent);
  if (want == 0) return 0;
  if (body->text) {
    std::copy_n(body->text->data() + body->sent, want, buffer);
  } else {
    if (std::fseek(body->file, static_cast<long>(body->offset + body->sent), SEEK_SET) != 0) return CURL_READFUNC_ABORT;
    want = std::fread(buffer, 1, want, body->file);
    if (want == 0) return CURL_READFUNC_ABORT;
  }
  body->sent += want;
  return want;
}

bool retryable(long status) { return status == 0 || status == 429 || status >= 500; }

}  // namespace

struct Client::Impl {
  Reference ref;
  ClientOptions options;
  std::string base;           // http(s)://registry/v2/<repository>
  std::string authorization;  // the Authorization header once a challenge was answered

  Impl(Reference r, ClientOptions o) : ref(std::move(r)), options(std::move(o)) {
    base = std::string(is_loopback_registry(ref.registry) ? "http://" : "https://") + ref.registry + "/v2/" +
           ref.repository;
  }

  std::string url(const std::string& path_or_url) const {
    if (path_or_url.starts_with("http://") || path_or_url.starts_with("https://")) return path_or_url;
    // Upload locations may come back as paths from the registry's root.
    if (path_or_url.starts_with("/v2/")) return base.substr(0, base.find("/v2/")) + path_or_url;
    return base + "/" + path_or_url;
  }

  // One HTTP exchange, no retries. status 0: the connection failed (error in body).
  // Errors of the transfer itself come back as status 0; a URL the policy refuses (url_policy.hpp)
  // throws. The Authorization header goes only to the registry's own origin.
  Response exchange(const std::string& method, const std::string& target, std::vector<std::string> headers, Body* body,
                    BlobSink* sink = nullptr, bool send_authorization = true) {
    std::string address = url(target);
    require_allowed_url(address);
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    Response response;
    response.sink = sink;
    if (sink) sink->restart();
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl.get(), CURLOPT_URL, address.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response);
    if (method == "HEAD")
      curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
    else if (method != "GET")
      curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    if (body) {
      curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(curl.get(), CURLOPT_READDATA, body);
      curl_easy_setopt(curl.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body->length));
      headers.push_back("Expect:");
    } else if (method == "PUT" || method == "POST" || method == "PATCH") {
      curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, 0L);
      curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, "");
    }
    if (!authorization.empty() && send_authorization && origin_of(address) == origin_of(base))
      headers.push_back("Authorization: " + authorization);
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, list);
    CURLcode code = curl_easy_perform(curl.get());
    curl_slist_free_all(list);
    if (response.body_too_large)
      throw Error(method + " " + address + ": the answer is larger than " + std::to_string(kMaxResponseBody >> 20) +
                  " MiB");
    if (sink && sink->over_limit)
      throw Error("the registry sent more than the " + std::to_string(sink->limit) +
                  " bytes the manifest declares; nothing was written");
    if (sink && !sink->write_error.empty()) throw Error(sink->write_error);
    if (code != CURLE_OK) {
      response.status = 0;
      response.body = error[0] ? error : curl_easy_strerror(code);
      return response;
    }
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  }

  // Answers a 401's challenge: Basic with the credentials, or a Bearer token from the realm.
  void authenticate(const Response& denied, const std::string& what) {
    auto it = denied.headers.find("www-authenticate");
    if (it == denied.headers.end()) throw Error(what + ": 401 without a challenge from " + ref.registry);
    Challenge challenge = parse_challenge(it->second);
    std::string basic = options.credentials
                            ? "Basic " + base64_encode(options.credentials->user + ":" + options.credentials->password)
                            : "";
    if (challenge.scheme == "basic") {
      if (!options.credentials) throw Error(what + ": " + ref.registry + " requires credentials (401)");
      if (authorization == basic) throw Error(what + ": " + ref.registry + " refused the credentials (401)");
      authorization = basic;
      return;
    }
    if (challenge.scheme != "bearer" || !challenge.params.count("realm"))
      throw Error(what + ": unsupported authentication challenge " + quote(it->second));
    std::string token_url = challenge.params["realm"];
    char separator = token_url.find('?') == std::string::npos ? '?' : '&';
    for (const char* key : {"service", "scope"})
      if (challenge.params.count(key)) {
        std::unique_ptr<char, decltype(&curl_free)> escaped(curl_easy_escape(nullptr, challenge.params[key].c_str(), 0),
                                                            curl_free);
        token_url += separator + std::string(key) + "=" + escaped.get();
        separator = '&';
      }
    // The credentials go to the token service the registry names only on the registry's own host
    // (or one the user trusts), and only over https; the registry's earlier token is not sent
    // there. Without credentials the token is asked for anonymously, wherever the realm is.
    std::vector<std::string> token_headers;
    if (!basic.empty()) {
      in_context(what, [&] {
        require_credentials_allowed_to_realm(challenge.params["realm"], ref.registry, options.trusted_token_hosts);
      });
      token_headers.push_back("Authorization: " + basic);
    }
    Response token = exchange("GET", token_url, token_headers, nullptr, nullptr, /*send_authorization=*/false);
    if (token.status != 200)
      throw Error(what + ": the token service " + quote(challenge.params["realm"]) + " answered " +
                  std::to_string(token.status));
    Json reply = Json::parse(token.body, nullptr, false);
    std::string value = reply.is_object() ? reply.value("token", reply.value("access_token", "")) : "";
    if (value.empty()) throw Error(what + ": the token service sent no token");
    if (authorization == "Bearer " + value) throw Error(what + ": " + ref.registry + " refused the token (401)");
    authorization = "Bearer " + value;
  }

  // GET and HEAD follow redirects (Docker Hub and GHCR answer a blob with 307 to a CDN) by hand,
  // so that every hop passes the URL policy and the Authorization stays with the registry.
  Response exchange_following(const std::string& method, const std::string& target,
                              const std::vector<std::string>& headers, Body* body, BlobSink* sink) {
    constexpr int kMaxRedirects = 5;
    std::string current = url(target);
    for (int hops = 0;; ++hops) {
      Response r = exchange(method, current, headers, body, sink);
      bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
      if (!redirect || (method != "GET" && method != "HEAD")) return r;
      if (hops == kMaxRedirects)
        throw Error(method + " " + url(target) + ": more than " + std::to_string(kMaxRedirects) + " redirects");
      if (r.headers["location"].empty())
        throw Error(method + " " + current + ": redirect (" + std::to_string(r.status) + ") without a Location");
      current = resolve_location(current, r.headers["location"]);
    }
  }

  // An exchange with authentication and retries with back-off; `rewind` resets a body for a retry.
  Response request(const std::string& method, const std::string& target, const std::vector<std::string>& headers,
                   Body* body, const std::string& what, BlobSink* sink = nullptr) {
    auto delay = options.first_delay;
    for (int attempt = 1;; ++attempt) {
      if (body) body->sent = 0;
      Response r = in_context(what, [&] { return exchange_following(method, target, headers, body, sink); });
      if (r.status == 401) {
        authenticate(r, what);
        if (body) body->sent = 0;
        r = in_context(what, [&] { return exchange_following(method, target, headers, body, sink); });
        if (r.status == 401) throw Error(what + ": " + ref.registry + " refused access (401)");
      }
      if (!retryable(r.status) || attempt >= options.attempts) {
        if (r.status == 0) throw Error(what + ": cannot reach " + ref.registry + ": " + r.body);
        return r;
      }
      std::this_thread::sleep_for(delay);
      delay *= 2;
    }
  }

  static void expect(const Response& r, std::initializer_list<long> statuses, const std::string& what) {
    if (std::find(statuses.begin(), statuses.end(), r.status) != statuses.end()) return;
    std::string detail = r.body.substr(0, 200);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    throw Error(what + ": HTTP " + std::to_string(r.status) + (detail.empty() ? "" : " " + detail));
  }
};

Client::Client(Reference reference, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(reference), std::move(options))) {}
Client::~Client() = default;

bool Client::blob_exists(const std::string& digest) {
  Response r = impl_->request("HEAD", "blobs/" + digest, {}, nullptr, "checking blob " + digest);
  if (r.status == 404) return false;
  Impl::expect(r, {200}, "checking blob " + digest);
  return true;
}

void Client::push_blob(const fs::path& file, const std::string& digest, const std::string& mount_from) {
  Impl& m = *impl_;
  std::string what = "pushing blob " + digest;
  if (blob_exists(digest)) return;
  std::string start = "blobs/uploads/";
  if (!mount_from.empty()) start += "?mount=" + digest + "&from=" + mount_from;
  Response r = m.request("POST", start, {}, nullptr, what);
  if (r.status == 201) {  // mounted from the other repository: nothing to upload
    std::fprintf(stderr, "mounted %s from %s\n", digest.c_str(), mount_from.c_str());
    return;
  }
  Impl::expect(r, {202}, what);
  std::string location = r.headers["location"];
  if (location.empty()) throw Error(what + ": the registry gave no upload location");
  std::uint64_t size = fs::file_size(file);
  std::unique_ptr<std::FILE, decltype(&std::fclose)> in(std::fopen(file.c_str(), "rb"), std::fclose);
  if (!in) throw system_error("reading", file.string(), errno);
  auto with_digest = [&](const std::string& at) {
    return at + (at.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest;
  };
  if (m.options.chunk_size == 0) {
    Body body{nullptr, in.get(), 0, size, 0};
    r = m.request("PUT", with_digest(location), {"Content-Type: application/octet-stream"}, &body, what);
    Impl::expect(r, {201}, what);
    return;
  }
  // Chunks: each PATCH carries its range; a failed one is resumed from where the registry says
  // the upload stands (GET on the upload's location answers with its Range).
  std::uint64_t offset = 0;
  int resumes = 0;
  while (offset < size) {
    std::uint64_t length = std::min<std::uint64_t>(m.options.chunk_size, size - offset);
    Body body{nullptr, in.get(), offset, length, 0};
    std::string range = "Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    Response chunk = m.exchange("PATCH", location, {"Content-Type: application/octet-stream", range}, &body);
    if (chunk.status == 202) {
      location = chunk.headers.count("location") ? chunk.headers["location"] : location;
      offset += length;
      continue;
    }
    if (++resumes > m.options.attempts) Impl::expect(chunk, {202}, what + " (chunk at " + std::to_string(offset) + ")");
    std::this_thread::sleep_for(m.options.first_delay * resumes);
    Response status = m.exchange("GET", location, {}, nullptr);
    if (status.status == 404) {
      // The registry dropped the upload with the broken chunk: start it again from the beginning.
      Response again = m.request("POST", "blobs/uploads/", {}, nullptr, what);
      Impl::expect(again, {202}, what);
      location = again.headers["location"];
      offset = 0;
      continue;
    }
    if (status.status != 204) Impl::expect(status, {204}, what + ": asking where the upload stands");
    location = status.headers.count("location") ? status.headers["location"] : location;
    std::string recorded = status.headers["range"];  // "0-<last byte>"
    auto dash = recorded.find('-');
    offset = dash == std::string::npos ? 0 : std::stoull(recorded.substr(dash + 1)) + 1;
  }
  r = m.request("PUT", with_digest(location), {}, nullptr, what);
  Impl::expect(r, {201}, what);
}

std::string Client::push_manifest(const std::string& manifest, const std::string& media_type, const std::string& tag) {
  Impl& m = *impl_;
  std::string what = "pushing the manifest of " + m.ref.repository + ":" + tag;
  Body body{&manifest, nullptr, 0, manifest.size(), 0};
  Response r = m.request("PUT", "manifests/" + tag, {"Content-Type: " + media_type}, &body, what);
  Impl::expect(r, {201}, what);
  std::string ours = "sha256:" + sha256_hex(manifest);
  if (r.headers.count("docker-content-digest") && r.headers["docker-content-digest"] != ours)
    throw Error(what + ": the registry recorded digest " + r.headers["docker-content-digest"] + ", we sent " + ours);
  return ours;
}

std::string Client::pull_manifest(std::string& media_type, std::string& digest) {
  Impl& m = *impl_;
  std::string what =
      "pulling the manifest of " + m.ref.repository + (m.ref.digest.empty() ? ":" + m.ref.tag : "@" + m.ref.digest);
  Response r = m.request(
      "GET", "manifests/" + m.ref.tag_or_digest(),
      {"Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"},
      nullptr, what);
  Impl::expect(r, {200}, what);
  media_type = r.headers["content-type"];
  digest = "sha256:" + sha256_hex(r.body);
  if (!m.ref.digest.empty() && digest != m.ref.digest) throw Error(what + ": received content with digest " + digest);
  return r.body;
}

void Client::pull_blob(const std::string& digest, const fs::path& destination, std::uint64_t declared_size) {
  Impl& m = *impl_;
  std::string what = "pulling blob " + digest;
  BlobSink sink;
  sink.destination = destination;
  sink.limit = declared_size;
  Response r = m.request("GET", "blobs/" + digest, {}, nullptr, what, &sink);
  Impl::expect(r, {200}, what);
  if (sink.received != declared_size)
    throw Error(what + ": received " + std::to_string(sink.received) + " bytes, the manifest declares " +
                std::to_string(declared_size) + "; nothing was written");
  std::string got = "sha256:" + sink.hasher->finish_hex();
  if (got != digest) throw Error(what + ": received content with digest " + got + "; nothing was written");
  sink.file->commit();
}

std::string blob_file_name(std::string_view digest, std::string_view where) {
  bool valid = digest.size() == 71 && digest.starts_with("sha256:") &&
               digest.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
  if (!valid)
    throw Error(std::string(where) + ": digest " + quote(digest) + " is not sha256:<64 lower-case hex digits>");
  return std::string(digest.substr(7));
}

std::string push_oci_layout(const fs::path& layout, const std::optional<std::string>& tag, const Reference& reference,
                            const ClientOptions& options) {
  fs::path index_file = layout / "index.json";
  std::error_code ec;
  if (!fs::is_regular_file(layout / "oci-layout", ec) || !fs::is_regular_file(index_file, ec))
    throw Error(quote(layout.string()) + " is not an OCI image layout (it has no oci-layout or index.json)");
  Descriptor chosen =
      select_manifest(parse_index(read_file(index_file), index_file.string()), tag, quote(layout.string()));
  auto blob = [&](const std::string& digest) {
    return layout / "blobs" / "sha256" / blob_file_name(digest, layout.string());
  };
  std::string manifest_text = read_file(blob(chosen.digest));
  if ("sha256:" + sha256_hex(manifest_text) != chosen.digest)
    throw Error(blob(chosen.digest).string() + ": the manifest's content does not match its digest");
  ImageManifest manifest = parse_image_manifest(manifest_text, blob(chosen.digest).string());
  Client client(reference, options);
  for (const auto& layer : manifest.layers) client.push_blob(blob(layer.digest), layer.digest, options.mount_from);
  client.push_blob(blob(manifest.config.digest), manifest.config.digest, options.mount_from);
  std::string media_type = !manifest.media_type.empty() ? manifest.media_type
                           : !chosen.media_type.empty() ? chosen.media_type
                                                        : "application/vnd.oci.image.manifest.v1+json";
  return client.push_manifest(manifest_text, media_type, reference.tag.empty() ? chosen.digest : reference.tag);
}

std::string pull_to_oci_layout(const Reference& reference, const fs::path& layout, std::string_view tag,
                               const ClientOptions& options) {
  LayoutWriter writer(layout, "pull");
  Client client(reference, options);
  std::string media_type, digest;
  std::string manifest_text = client.pull_manifest(media_type, digest);
  ImageManifest manifest = parse_image_manifest(manifest_text, "the manifest of " + reference.repository);
  // Each descriptor's size bounds what is downloaded for it; its digest was checked as a file name.
  // A blob the layout holds (another tag's layer) is not fetched again.
  std::vector<Descriptor> blobs = manifest.layers;
  blobs.insert(blobs.begin(), manifest.config);
  for (const auto& blob : blobs)
    if (!writer.has_blob(blob)) client.pull_blob(blob.digest, writer.staged_blob(blob.digest), blob.size);
  write_file_atomic(writer.staged_blob(digest), manifest_text);
  // The descriptor's type is the manifest's own (image-spec descriptor.md), else what the registry said.
  if (!manifest.media_type.empty()) media_type = manifest.media_type;
  media_type = media_type.substr(0, media_type.find(';'));
  if (media_type.empty()) media_type = "application/vnd.oci.image.manifest.v1+json";
  writer.commit({media_type, digest, manifest_text.size()}, tag);
  return digest;
}

}  // namespace runcvm::registry
