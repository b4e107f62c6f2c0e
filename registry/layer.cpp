#include "registry/layer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <string_view>
#include <thread>

#include "common/archive_error.hpp"
#include "common/bounded_queue.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"

namespace runcvm::registry {
namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_write_free)>;

void check(archive* a, int status, const std::string& what) {
  if (status < ARCHIVE_WARN) throw archive_error(a, what);
}

// Streaming gzip or zstd. zlib's gzip header (no name, time 0) and zstd's frames carry nothing
// that changes between runs, so the same input gives the same bytes.
class Compressor {
 public:
  explicit Compressor(Compression compression) : compression_(compression), zstd_(nullptr, ZSTD_freeCCtx) {
    if (compression == Compression::gzip) {
      if (deflateInit2(&zlib_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error("zlib: deflateInit2 failed");
    } else {
      zstd_.reset(ZSTD_createCCtx());
      if (!zstd_) throw Error("zstd: cannot create a compression context");
      ZSTD_CCtx_setParameter(zstd_.get(), ZSTD_c_compressionLevel, 3);
    }
  }
  ~Compressor() {
    if (compression_ == Compression::gzip) deflateEnd(&zlib_);
  }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Compresses `input` (and ends the stream when `last`); the result stays valid until the next call.
  // The output buffer only grows, so it is not zeroed again for every chunk.
  std::string_view write(std::string_view input, bool last) {
    std::size_t produced = 0;
    auto room = [&] {
      if (output_.size() - produced < (1 << 16)) output_.resize(std::max<std::size_t>(output_.size() * 2, 1 << 20));
    };
    if (compression_ == Compression::gzip) {
      zlib_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
      zlib_.avail_in = static_cast<uInt>(input.size());
      int status = Z_OK;
      do {
        room();
        zlib_.next_out = reinterpret_cast<Bytef*>(output_.data() + produced);
        zlib_.avail_out = static_cast<uInt>(output_.size() - produced);
        status = deflate(&zlib_, last ? Z_FINISH : Z_NO_FLUSH);
        if (status == Z_STREAM_ERROR) throw Error("zlib: deflate failed");
        produced = output_.size() - zlib_.avail_out;
      } while (last ? status != Z_STREAM_END : zlib_.avail_in > 0 || zlib_.avail_out == 0);
    } else {
      ZSTD_inBuffer in{input.data(), input.size(), 0};
      for (bool done = false; !done;) {
        room();
        ZSTD_outBuffer out{output_.data() + produced, output_.size() - produced, 0};
        std::size_t remaining = ZSTD_compressStream2(zstd_.get(), &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(remaining)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(remaining));
        produced += out.pos;
        done = last ? remaining == 0 : in.pos == in.size;
      }
    }
    return std::string_view(output_).substr(0, produced);
  }

 private:
  std::string output_;
  Compression compression_;
  z_stream zlib_{};
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> zstd_;
};

void write_all(std::ofstream& file, std::string_view data, const fs::path& path) {
  if (!file.write(data.data(), static_cast<std::streamsize>(data.size())))
    throw Error("writing " + path.string() + ": failed");
}

// Where libarchive's tar goes: in one pass it is hashed (the diff_id) and, if wanted, kept on disk; on a
// second thread, compressed, hashed (the digest) and written, so packing costs about as long as
// the slower of making the tar and compressing it, not their sum plus rereading both files.
class LayerStreams {
 public:
  // An empty `tar` keeps no tar file.
  LayerStreams(const fs::path& tar, const fs::path& blob, Compression compression)
      : tar_path_(tar), blob_path_(blob), blob_(blob, std::ios::binary | std::ios::trunc), compressor_(compression) {
    if (!tar.empty()) {
      tar_.open(tar, std::ios::binary | std::ios::trunc);
      if (!tar_) throw Error("creating " + tar.string() + ": cannot open");
    }
    if (!blob_) throw Error("creating " + blob.string() + ": cannot open");
    pending_.reserve(kChunk);
    worker_ = std::thread([this] { compress_all(); });
  }
  ~LayerStreams() {
    queue_.close();
    if (worker_.joinable()) worker_.join();
  }
  LayerStreams(const LayerStreams&) = delete;
  LayerStreams& operator=(const LayerStreams&) = delete;

  void write(std::string_view bytes) {
    tar_hash_.update(bytes);
    if (tar_.is_open()) write_all(tar_, bytes, tar_path_);
    pending_.append(bytes);
    if (pending_.size() >= kChunk) hand_off();
  }

  struct Digests {
    std::string tar_hex, blob_hex;
  };
  Digests finish() {
    if (!pending_.empty()) hand_off();
    queue_.close();
    worker_.join();
    if (failure_) std::rethrow_exception(failure_);
    if (tar_.is_open() && !tar_.flush()) throw Error("writing " + tar_path_.string() + ": failed");
    return {tar_hash_.finish_hex(), blob_hash_.finish_hex()};
  }

 private:
  static constexpr std::size_t kChunk = 1 << 20;

  void hand_off() {
    if (!queue_.push(std::move(pending_))) {
      worker_.join();
      std::rethrow_exception(failure_);
    }
    pending_ = std::string();
    pending_.reserve(kChunk);
  }

  void compress_all() {
    try {
      auto emit = [&](std::string_view input, bool last) {
        std::string_view output = compressor_.write(input, last);
        blob_hash_.update(output);
        write_all(blob_, output, blob_path_);
      };
      while (auto chunk = queue_.pop()) emit(*chunk, false);
      emit({}, true);
      if (!blob_.flush()) throw Error("writing " + blob_path_.string() + ": failed");
    } catch (...) {
      failure_ = std::current_exception();
      queue_.abandon();
    }
  }

  fs::path tar_path_, blob_path_;
  std::ofstream tar_, blob_;
  Hasher tar_hash_{"sha256"}, blob_hash_{"sha256"};
  Compressor compressor_;
  std::string pending_;
  BoundedQueue<std::string> queue_{4};
  std::exception_ptr failure_;
  std::thread worker_;
};

// libarchive's output callback. A C++ exception must not cross libarchive's C frames: its message
// becomes libarchive's error, which the caller's check turns back into one.
la_ssize_t tar_output(archive* a, void* streams, const void* buffer, size_t length) {
  try {
    static_cast<LayerStreams*>(streams)->write(std::string_view(static_cast<const char*>(buffer), length));
    return static_cast<la_ssize_t>(length);
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

void write_tar(const fs::path& tree, const std::string& prefix, std::time_t timestamp, LayerStreams& streams) {
  ArchivePtr writer(archive_write_new(), archive_write_free);
  archive* a = writer.get();
  check(a, archive_write_set_format_pax_restricted(a), "tar");
  // No padding after the end-of-archive blocks, as when libarchive writes a regular file.
  check(a, archive_write_set_bytes_in_last_block(a, 1), "tar");
  check(a, archive_write_open(a, &streams, nullptr, tar_output, nullptr), "tar");
  std::map<std::pair<dev_t, ino_t>, std::string> links;
  auto add = [&](const fs::path& relative, const std::string& name) {
    fs::path full = relative.empty() ? tree : tree / relative;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) throw system_error("reading", full.string(), errno);
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
    archive_entry* e = entry.get();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_mode(e, st.st_mode);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_mtime(e, timestamp, 0);
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links.emplace(std::pair{st.st_dev, st.st_ino}, name);
      if (!first) {
        archive_entry_set_hardlink(e, it->second.c_str());
        archive_entry_set_size(e, 0);
        check(a, archive_write_header(a, e), "tar entry " + name);
        return;
      }
    }
    if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(e, fs::read_symlink(full).c_str());
    if (S_ISREG(st.st_mode)) archive_entry_set_size(e, st.st_size);
    check(a, archive_write_header(a, e), "tar entry " + name);
    if (S_ISREG(st.st_mode)) append_file_data(a, full, name);
  };
  // The prefix's own directories first, then the tree.
  std::string so_far;
  for (const auto& part : fs::path(prefix)) {
    so_far += (so_far.empty() ? "" : "/") + part.string();
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(entry.get(), (so_far + "/").c_str());
    archive_entry_set_mode(entry.get(), S_IFDIR | 0755);
    archive_entry_set_mtime(entry.get(), timestamp, 0);
    check(a, archive_write_header(a, entry.get()), "tar entry " + so_far);
  }
  for (const auto& relative : sorted_tree(tree)) add(relative, prefix + "/" + relative.string());
  check(a, archive_write_close(a), "finishing the layer");
}

}  // namespace

void append_file_data(archive* a, const fs::path& file, const std::string& name) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("tar entry " + name + ": cannot read " + file.string());
  std::string buffer(1 << 20, '\0');
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
    if (archive_write_data(a, buffer.data(), static_cast<size_t>(in.gcount())) < 0)
      check(a, ARCHIVE_FATAL, "tar entry " + name);
}

Layer build_layer(const fs::path& tree, const std::string& prefix, Compression compression, std::time_t timestamp,
                  const fs::path& work, KeepTar keep_tar) {
  Layer layer;
  if (keep_tar == KeepTar::yes) layer.tar = work / "layer.tar";
  layer.blob = work / (compression == Compression::gzip ? "layer.tar.gz" : "layer.tar.zst");
  LayerStreams streams(layer.tar, layer.blob, compression);
  write_tar(tree, prefix, timestamp, streams);
  auto digests = streams.finish();
  layer.diff_id = "sha256:" + digests.tar_hex;
  layer.digest = "sha256:" + digests.blob_hex;
  layer.size = fs::file_size(layer.blob);
  layer.media_type =
      std::string("application/vnd.oci.image.layer.v1.tar+") + (compression == Compression::gzip ? "gzip" : "zstd");
  return layer;
}

}  // namespace runcvm::registry
