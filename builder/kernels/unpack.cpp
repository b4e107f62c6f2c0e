#include "builder/kernels/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <lzma.h>

#include <memory>
#include <vector>

#include "common/archive_error.hpp"
#include "common/error.hpp"
#include "common/parallel.hpp"

namespace runcvm::kernels {
namespace {

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;

ArchivePtr new_reader() { return ArchivePtr(archive_read_new(), archive_read_free); }

std::string size_text(std::uint64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// The current entry's data, refused as soon as `used` (this and what was read before it) passes
// `limit` bytes: decompression is where a small file becomes a large one.
std::string read_all(archive* a, std::string_view what, std::uint64_t limit, std::uint64_t& used) {
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buffer, sizeof buffer);
    if (n < 0) throw archive_error(a, what);
    if (n == 0) break;
    used += static_cast<std::uint64_t>(n);
    if (used > limit)
      throw Error(std::string(what) + ": decompresses to more than " + size_text(limit) + " (runcvm-build's limit)")
          .with_hint("a damaged or hostile file: try another mirror");
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

std::string normalise(std::string_view path) {
  while (path.starts_with("./")) path.remove_prefix(2);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return std::string(path);
}

// Writes the filtered entries of an open tar reader below root (an absolute, symlink-free path);
// entry paths are made relative first, and libarchive's disk writer refuses ".." and writes
// through symlinks, which matters for untrusted packages.
void extract_entries(archive* reader, const fs::path& root, const PathFilter& filter, std::string_view what) {
  ArchivePtr writer(archive_write_disk_new(), archive_write_free);
  archive_write_disk_set_options(writer.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                   ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  archive_entry* entry = nullptr;
  for (;;) {
    int rc = archive_read_next_header(reader, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) throw archive_error(reader, what);
    auto destination = filter(normalise(archive_entry_pathname(entry)));
    if (!destination) continue;
    archive_entry_set_pathname(entry, (root / *destination).c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      auto link_destination = filter(normalise(link));
      if (!link_destination) throw Error(std::string(what) + ": hard link to a skipped file " + quote(link));
      archive_entry_set_hardlink(entry, (root / *link_destination).c_str());
    }
    if (archive_write_header(writer.get(), entry) < ARCHIVE_WARN) {
      int err = archive_errno(writer.get());
      Error e = archive_error(writer.get(), std::string(what) + ": writing " + quote(*destination));
      throw e.with_errno(err);
    }
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((rc = archive_read_data_block(reader, &block, &size, &offset)) == ARCHIVE_OK) {
      // libarchive reports a failed write(2) (ENOSPC, EIO) as a mere warning; it is not one here.
      if (archive_write_data_block(writer.get(), block, size, offset) != ARCHIVE_OK) {
        int err = archive_errno(writer.get());
        if (err == ENOSPC) throw system_error("writing", (root / *destination).string(), err);
        throw archive_error(writer.get(), std::string(what) + ": writing " + quote(*destination));
      }
    }
    if (rc != ARCHIVE_EOF) throw archive_error(reader, what);
    if (archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      int err = archive_errno(writer.get());
      if (err == ENOSPC) throw system_error("writing", (root / *destination).string(), err);
      throw archive_error(writer.get(), std::string(what) + ": finishing " + quote(*destination));
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) throw archive_error(writer.get(), what);
}

// Streams one member of the outer .deb into a nested reader without a temporary file.
struct NestedSource {
  archive* outer;
  char buffer[1 << 16];
};

la_ssize_t nested_read(archive*, void* user, const void** out) {
  auto* source = static_cast<NestedSource*>(user);
  *out = source->buffer;
  return archive_read_data(source->outer, source->buffer, sizeof source->buffer);
}

// data.tar.xz decoded on every core. Debian compresses packages multi-threaded, so the stream
// has independent blocks; libarchive 3.6's xz filter decodes them on one thread, which made
// unpacking the kernel twice as slow as dpkg-deb. liblzma (already beneath libarchive) has the
// threaded decoder, so this source feeds libarchive the decompressed tar instead.
class XzNestedSource {
 public:
  explicit XzNestedSource(archive* outer, std::string what) : outer_(outer), what_(std::move(what)) {
    lzma_mt options{};
    options.threads = hardware_threads();
    options.memlimit_threading = 1ull << 30;  // beyond this liblzma falls back to one thread
    options.memlimit_stop = UINT64_MAX;
    if (lzma_stream_decoder_mt(&stream_, &options) != LZMA_OK) throw Error(what_ + ": cannot start the xz decoder");
  }
  ~XzNestedSource() { lzma_end(&stream_); }
  XzNestedSource(const XzNestedSource&) = delete;
  XzNestedSource& operator=(const XzNestedSource&) = delete;

  static la_ssize_t read(archive* a, void* user, const void** out) {
    auto* self = static_cast<XzNestedSource*>(user);
    *out = self->output_;
    return self->decode(a);
  }

 private:
  la_ssize_t decode(archive* a) {
    stream_.next_out = output_;
    stream_.avail_out = sizeof output_;
    while (stream_.avail_out == sizeof output_ && !finished_) {
      lzma_action action = LZMA_RUN;
      if (stream_.avail_in == 0 && !input_done_) {
        la_ssize_t n = archive_read_data(outer_, input_, sizeof input_);
        if (n < 0) {
          archive_set_error(a, EIO, "%s", archive_error_string(outer_));
          return -1;
        }
        stream_.next_in = input_;
        stream_.avail_in = static_cast<size_t>(n);
        input_done_ = n == 0;
      }
      if (input_done_) action = LZMA_FINISH;
      lzma_ret rc = lzma_code(&stream_, action);
      if (rc == LZMA_STREAM_END) {
        finished_ = true;
      } else if (rc != LZMA_OK) {
        archive_set_error(a, EIO, "%s: corrupt xz data (liblzma error %d)", what_.c_str(), static_cast<int>(rc));
        return -1;
      }
    }
    return static_cast<la_ssize_t>(sizeof output_ - stream_.avail_out);
  }

  archive* outer_;
  std::string what_;
  lzma_stream stream_ = LZMA_STREAM_INIT;
  bool input_done_ = false, finished_ = false;
  std::uint8_t input_[1 << 16];
  std::uint8_t output_[1 << 20];
};

}  // namespace

std::string decompress(std::string_view data, std::string_view what, std::uint64_t limit) {
  auto reader = new_reader();
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_raw(reader.get());
  archive_read_support_format_empty(reader.get());
  if (archive_read_open_memory(reader.get(), data.data(), data.size()) != ARCHIVE_OK)
    throw archive_error(reader.get(), what);
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(reader.get(), &entry);
  if (rc == ARCHIVE_EOF) return {};  // an empty index, e.g. a -updates pocket with no packages yet
  if (rc != ARCHIVE_OK) throw archive_error(reader.get(), what);
  std::uint64_t used = 0;
  return read_all(reader.get(), what, limit, used);
}

void extract_deb(const fs::path& deb, const fs::path& root, const PathFilter& filter) {
  std::string what = deb.filename().string();
  auto outer = new_reader();
  archive_read_support_format_ar(outer.get());
  if (archive_read_open_filename(outer.get(), deb.c_str(), 1 << 16) != ARCHIVE_OK)
    throw archive_error(outer.get(), what);
  archive_entry* entry = nullptr;
  int rc;
  while ((rc = archive_read_next_header(outer.get(), &entry)) == ARCHIVE_OK) {
    std::string_view name = archive_entry_pathname(entry);
    if (!name.starts_with("data.tar")) continue;
    auto inner = new_reader();
    archive_read_support_filter_all(inner.get());
    archive_read_support_format_tar(inner.get());
    int opened;
    std::unique_ptr<XzNestedSource> xz;
    auto source = std::make_unique<NestedSource>();
    if (name == "data.tar.xz") {
      xz = std::make_unique<XzNestedSource>(outer.get(), what);
      opened = archive_read_open(inner.get(), xz.get(), nullptr, XzNestedSource::read, nullptr);
    } else {
      source->outer = outer.get();
      opened = archive_read_open(inner.get(), source.get(), nullptr, nested_read, nullptr);
    }
    if (opened != ARCHIVE_OK) throw archive_error(inner.get(), what + ": " + std::string(name));
    extract_entries(inner.get(), root, filter, what);
    return;
  }
  if (rc != ARCHIVE_EOF) throw archive_error(outer.get(), what);
  throw Error(what + ": not a Debian package (no data.tar member)");
}

void extract_tar(std::string_view data, const fs::path& root, const PathFilter& filter, std::string_view what) {
  auto reader = new_reader();
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_memory(reader.get(), data.data(), data.size()) != ARCHIVE_OK)
    throw archive_error(reader.get(), what);
  extract_entries(reader.get(), root, filter, what);
}

void extract_tar_file(const fs::path& tar, const fs::path& root, const PathFilter& filter) {
  std::string what = tar.filename().string();
  auto reader = new_reader();
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_filename(reader.get(), tar.c_str(), 1 << 16) != ARCHIVE_OK)
    throw archive_error(reader.get(), what);
  extract_entries(reader.get(), root, filter, what);
}

std::map<std::string, std::string> read_tar_members(std::string_view data, std::string_view what) {
  auto reader = new_reader();
  archive_read_support_filter_all(reader.get());
  archive_read_support_format_tar(reader.get());
  if (archive_read_open_memory(reader.get(), data.data(), data.size()) != ARCHIVE_OK)
    throw archive_error(reader.get(), what);
  std::map<std::string, std::string> members;
  std::uint64_t used = 0;
  archive_entry* entry = nullptr;
  int rc;
  while ((rc = archive_read_next_header(reader.get(), &entry)) == ARCHIVE_OK) {
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    members[normalise(archive_entry_pathname(entry))] = read_all(reader.get(), what, kIndexDecompressedLimit, used);
  }
  if (rc != ARCHIVE_EOF) throw archive_error(reader.get(), what);
  return members;
}

std::optional<std::string> kernel_payload_path(std::string_view path) {
  std::string p = normalise(path);
  if (p.starts_with("usr/lib/modules/") || p == "usr/lib/modules") p.erase(0, 4);
  if (p == "boot" || p.starts_with("boot/")) return p;
  if (p == "lib" || p == "lib/modules" || p.starts_with("lib/modules/")) return p;
  return std::nullopt;
}

}  // namespace runcvm::kernels
