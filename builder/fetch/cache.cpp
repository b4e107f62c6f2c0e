#include "builder/fetch/cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace runcvm::fetch {
namespace {

void rename_into_place(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    int err = errno;
    ::unlink(from.c_str());
    throw system_error("storing in cache", to.string(), err);
  }
}

std::string url_key(const std::string& url) {
  std::string key;
  for (char c : url) key += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return key;
}

struct TemporaryFile {
  fs::path path;
  ~TemporaryFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

BlobCache::BlobCache(fs::path root, RetryPolicy retry, ProgressMeter* progress, std::chrono::seconds index_max_age,
                     std::uint64_t index_size_limit)
    : root_(std::move(root)),
      retry_(retry),
      progress_(progress),
      index_max_age_(index_max_age),
      index_size_limit_(index_size_limit) {
  for (const char* sub : {"blobs", "indexes", "tmp"}) make_directories(root_ / sub);
}

fs::path BlobCache::temporary_file() { return temporary_sibling(root_ / "tmp" / "download"); }

bool BlobCache::present(const fs::path& path, std::uint64_t size) {
  std::error_code ec;
  auto actual = fs::file_size(path, ec);
  return !ec && actual == size;
}

fs::path BlobCache::fetch_sha256(const std::string& url, const std::string& sha256, std::uint64_t size) {
  return fetch_verified(url, "sha256/" + sha256, size, {});
}

fs::path BlobCache::fetch_verified(const std::string& url, const std::string& key, std::uint64_t size,
                                   const std::function<void(const fs::path&)>& verify) {
  fs::path target = root_ / "blobs" / key;
  // Blobs are only ever renamed in after verification, so name + size is trusted, as a registry
  // trusts a blob named by its digest.
  if (present(target, size)) {
    ++stats_.files_from_cache;
    return target;
  }
  make_directories(target.parent_path());
  TemporaryFile temporary{temporary_file()};
  if (progress_) {
    progress_->add_expected(size);
    progress_->file_started();
  }
  DownloadResult result = download(url, temporary.path, retry_, progress_, std::nullopt, {size, "the index states"});
  if (progress_) progress_->file_finished();
  stats_.bytes_downloaded += result.size;
  ++stats_.files_downloaded;
  in_context("verifying " + url, [&] {
    if (result.size != size)
      throw Error("size mismatch: the index says " + std::to_string(size) + " bytes, the mirror sent " +
                  std::to_string(result.size))
          .with_hint("the mirror may be syncing; retry later or use another mirror");
    std::string_view prefix = "sha256/";
    if (key.starts_with(prefix) && result.sha256 != key.substr(prefix.size()))
      throw Error("sha256 mismatch: the index says " + key.substr(prefix.size()) + ", the file has " + result.sha256)
          .with_hint("the mirror may be syncing or the file was tampered with");
    if (verify) verify(temporary.path);
  });
  rename_into_place(temporary.path, target);
  temporary.path.clear();
  return target;
}

fs::path BlobCache::fetch_index(const std::string& url) {
  fs::path target = root_ / "indexes" / url_key(url);
  fs::path meta = target.string() + ".validators";
  std::optional<Validators> conditional;
  std::error_code ec;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto now_seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  if (fs::exists(target, ec) && fs::exists(meta, ec)) {
    try {
      auto json = nlohmann::json::parse(read_file(meta));
      conditional = Validators{json.value("etag", ""), json.value("last_modified", "")};
      long long age = now_seconds - json.value("fetched_at", 0LL);
      if (age >= 0 && age < index_max_age_.count()) {
        ++stats_.files_from_cache;
        return target;
      }
    } catch (const std::exception&) {
      conditional.reset();  // an unreadable record only costs a full download
    }
  }
  TemporaryFile temporary{temporary_file()};
  DownloadResult result = download(url, temporary.path, retry_, nullptr, conditional,
                                   {index_size_limit_, "runcvm-build accepts for an index"});
  nlohmann::json record = {{"etag", result.validators.etag},
                           {"last_modified", result.validators.last_modified},
                           {"fetched_at", now_seconds}};
  if (result.not_modified) {
    if (conditional)
      record = {
          {"etag", conditional->etag}, {"last_modified", conditional->last_modified}, {"fetched_at", now_seconds}};
    write_file_atomic(meta, record.dump());
    ++stats_.files_from_cache;
    return target;
  }
  stats_.bytes_downloaded += result.size;
  ++stats_.files_downloaded;
  rename_into_place(temporary.path, target);
  temporary.path.clear();
  write_file_atomic(meta, record.dump());
  return target;
}

fs::path private_cache_directory(const fs::path& parent, unsigned uid) {
  fs::path directory = parent / ("runcvm-cache-" + std::to_string(uid));
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST)
    throw system_error("creating", directory.string(), errno);
  struct stat status {};
  if (::lstat(directory.c_str(), &status) != 0) throw system_error("reading", directory.string(), errno);
  const char* problem = !S_ISDIR(status.st_mode)                 ? "is not a directory"
                        : status.st_uid != uid                   ? "belongs to another user"
                        : (status.st_mode & (S_IWGRP | S_IWOTH)) ? "is writable by other users"
                                                                 : nullptr;
  if (problem)
    throw Error("the download cache " + quote(directory.string()) + " " + problem +
                ": refusing a cache others could have planted files in")
        .with_hint("set HOME or XDG_CACHE_HOME, or pass --cache DIR");
  return directory;
}

}  // namespace runcvm::fetch
