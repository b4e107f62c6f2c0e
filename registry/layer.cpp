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

#include "common/digest.hpp"
#include "common/error.hpp"

namespace runcvm::registry {
namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_write_free)>;

void check(archive* a, int status, const std::string& what) {
  if (status < ARCHIVE_WARN) throw Error(what + ": " + (archive_error_string(a) ? archive_error_string(a) : "libarchive failed"));
}

// Every path below root, sorted, so the archive's order does not depend on the filesystem's.
std::vector<fs::path> sorted_tree(const fs::path& root) {
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it)
    paths.push_back(it->path().lexically_relative(root));
  std::sort(paths.begin(), paths.end());
  return paths;
}

void write_tar(const fs::path& tree, const std::string& prefix, std::time_t timestamp, const fs::path& out) {
  ArchivePtr writer(archive_write_new(), archive_write_free);
  archive* a = writer.get();
  check(a, archive_write_set_format_pax_restricted(a), "tar");
  check(a, archive_write_open_filename(a, out.c_str()), "creating " + out.string());
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
    if (S_ISREG(st.st_mode)) {
      append_file_data(a, full, name);
    }
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
  check(a, archive_write_close(a), "finishing " + out.string());
}

// Compresses `in` into `out`; both zlib's gzip header (no name, time 0) and zstd's frames carry
// nothing that changes between runs.
void compress(const fs::path& in, const fs::path& out, Compression compression) {
  std::ifstream source(in, std::ios::binary);
  std::ofstream sink(out, std::ios::binary | std::ios::trunc);
  if (!source || !sink) throw Error("compressing " + in.string() + " into " + out.string() + ": cannot open");
  std::string input(1 << 20, '\0'), output(1 << 20, '\0');
  if (compression == Compression::gzip) {
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw Error("zlib: deflateInit2 failed");
    int flush = Z_NO_FLUSH;
    do {
      source.read(input.data(), static_cast<std::streamsize>(input.size()));
      z.next_in = reinterpret_cast<Bytef*>(input.data());
      z.avail_in = static_cast<uInt>(source.gcount());
      flush = source.eof() ? Z_FINISH : Z_NO_FLUSH;
      do {
        z.next_out = reinterpret_cast<Bytef*>(output.data());
        z.avail_out = static_cast<uInt>(output.size());
        deflate(&z, flush);
        sink.write(output.data(), static_cast<std::streamsize>(output.size() - z.avail_out));
      } while (z.avail_out == 0);
    } while (flush != Z_FINISH);
    deflateEnd(&z);
  } else {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> context(ZSTD_createCCtx(), ZSTD_freeCCtx);
    ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, 3);
    bool last = false;
    while (!last) {
      source.read(input.data(), static_cast<std::streamsize>(input.size()));
      last = source.eof();
      ZSTD_inBuffer in_buffer{input.data(), static_cast<size_t>(source.gcount()), 0};
      ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
      for (bool done = false; !done;) {
        ZSTD_outBuffer out_buffer{output.data(), output.size(), 0};
        size_t remaining = ZSTD_compressStream2(context.get(), &out_buffer, &in_buffer, mode);
        if (ZSTD_isError(remaining)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(remaining));
        sink.write(output.data(), static_cast<std::streamsize>(out_buffer.pos));
        done = last ? remaining == 0 : in_buffer.pos == in_buffer.size;
      }
    }
  }
  if (!sink.flush()) throw Error("writing " + out.string() + ": failed");
}

}  // namespace

void append_file_data(archive* a, const fs::path& file, const std::string& name) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("tar entry " + name + ": cannot read " + file.string());
  std::string buffer(1 << 20, '\0');
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
    if (archive_write_data(a, buffer.data(), static_cast<size_t>(in.gcount())) < 0) check(a, ARCHIVE_FATAL, "tar entry " + name);
}

Layer build_layer(const fs::path& tree, const std::string& prefix, Compression compression, std::time_t timestamp,
                  const fs::path& work) {
  Layer layer;
  layer.tar = work / "layer.tar";
  write_tar(tree, prefix, timestamp, layer.tar);
  layer.diff_id = "sha256:" + file_digest_hex(layer.tar);
  layer.blob = work / (compression == Compression::gzip ? "layer.tar.gz" : "layer.tar.zst");
  compress(layer.tar, layer.blob, compression);
  layer.digest = "sha256:" + file_digest_hex(layer.blob);
  layer.size = fs::file_size(layer.blob);
  layer.media_type = std::string("application/vnd.oci.image.layer.v1.tar+") + (compression == Compression::gzip ? "gzip" : "zstd");
  return layer;
}

}  // namespace runcvm::registry
