#include "builder/fetch/http.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/digest.hpp"
#include "common/error.hpp"

namespace runcvm::fetch {
namespace {

struct Transfer {
  int fd = -1;
  int write_errno = 0;
  Hasher hasher{"sha256"};
  std::uint64_t size = 0;
  std::uint64_t max_size = 0;  // a server sending more is cut off
  bool too_large = false;
  ProgressMeter* progress = nullptr;
  Validators validators;
};

size_t on_body(char* data, size_t, size_t length, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->size + length > t->max_size) {
    t->too_large = true;
    return 0;  // CURLE_WRITE_ERROR: nothing past the limit reaches the disk
  }
  size_t left = length;
  const char* p = data;
  while (left > 0) {
    ssize_t n = ::write(t->fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      t->write_errno = errno;
      return 0;  // makes curl abort with CURLE_WRITE_ERROR
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  t->hasher.update(std::string_view(data, length));
  t->size += length;
  if (t->progress) t->progress->add_done(length);
  return length;
}

std::string header_value(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || strncasecmp(line.data(), name.data(), name.size()) != 0 || line[name.size()] != ':')
    return {};
  std::string_view v = line.substr(name.size() + 1);
  while (!v.empty() && (v.front() == ' ')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  return std::string(v);
}

size_t on_header(char* data, size_t, size_t length, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, length);
  if (auto v = header_value(line, "ETag"); !v.empty()) t->validators.etag = v;
  if (auto v = header_value(line, "Last-Modified"); !v.empty()) t->validators.last_modified = v;
  return length;
}

bool transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

// One attempt; throws Error (retryable or not) on failure.
DownloadResult attempt(const std::string& url, const fs::path& destination, ProgressMeter* progress,
                       const std::optional<Validators>& conditional, SizeLimit limit) {
  Transfer t;
  t.progress = progress;
  t.max_size = limit.bytes;
  t.fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (t.fd < 0) throw system_error("creating", destination.string(), errno);
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  if (conditional) {
    if (!conditional->etag.empty())
      headers = curl_slist_append(headers, ("If-None-Match: " + conditional->etag).c_str());
    if (!conditional->last_modified.empty())
      headers = curl_slist_append(headers, ("If-Modified-Since: " + conditional->last_modified).c_str());
  }
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");  // a mirror may not redirect to local files
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 20L);
  // A stalled transfer (under 1 KB/s for 30 s) is abandoned and retried.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "runcvm-build/0.1");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  if (headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  // A Content-Length over the limit is refused before the body starts.
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limit.bytes));
  CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  int close_rc = ::close(t.fd);
  int close_errno = errno;

  if (t.write_errno) throw system_error("writing", destination.string(), t.write_errno);
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED)
    throw Error("the server sent more than the " + std::to_string(limit.bytes) + " bytes " + std::string(limit.source))
        .with_hint("the mirror may be syncing or the file was tampered with");
  if (code != CURLE_OK) {
    Error e(std::string(error_buffer[0] ? error_buffer : curl_easy_strerror(code)));
    throw e.retryable(transient(code));
  }
  if (close_rc != 0) throw system_error("closing", destination.string(), close_errno);
  DownloadResult result;
  if (status == 304 && conditional) {
    result.not_modified = true;
    return result;
  }
  // file:// mirrors (a local copy of an archive) have no status; curl already reported failures.
  if (status == 0 && url.starts_with("file://")) status = 200;
  if (status < 200 || status >= 300) {
    Error e("HTTP status " + std::to_string(status));
    if (status == 404) e.with_hint("the mirror does not have this file; is the suite or package name right?");
    throw e.retryable(status >= 500 || status == 429 || status == 408);
  }
  result.sha256 = t.hasher.finish_hex();
  result.size = t.size;
  result.validators = t.validators;
  return result;
}

}  // namespace

void global_init() { curl_global_init(CURL_GLOBAL_DEFAULT); }

DownloadResult download(const std::string& url, const fs::path& destination, const RetryPolicy& retry,
                        ProgressMeter* progress, const std::optional<Validators>& conditional, SizeLimit limit) {
  return in_context("fetching " + url, [&] {
    auto delay = retry.first_delay;
    for (int i = 1;; ++i) {
      try {
        return attempt(url, destination, progress, conditional, limit);
      } catch (Error& e) {
        if (!e.is_retryable() || i >= retry.attempts) {
          if (i > 1) e.add_context("after " + std::to_string(i) + " attempts");
          throw;
        }
      }
      std::this_thread::sleep_for(delay);
      delay *= 2;
    }
  });
}

}  // namespace runcvm::fetch
