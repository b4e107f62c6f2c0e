// The kernels pipeline, one pass per step; any failure leaves `out` as it was.
#include "builder/kernels/kernels_command.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include <nlohmann/json.hpp>

#include "builder/fetch/cache.hpp"
#include "builder/kernels/artifact_cache.hpp"
#include "builder/kernels/build_inputs.hpp"
#include "builder/kernels/direct_boot.hpp"
#include "builder/kernels/initramfs.hpp"
#include "builder/kernels/kernel_config.hpp"
#include "builder/kernels/module_tree.hpp"
#include "builder/kernels/repository.hpp"
#include "builder/kernels/source_build.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/parallel.hpp"
#include "handoff/kernel_artifact.hpp"
#include "handoff/kernel_manifest.hpp"

namespace runcvm::kernels {

namespace artifact = handoff::kernel_artifact;
namespace {

// Where a job's artifact comes from: built from its packages, or reused because its build inputs
// did not change (already installed in --out, or kept in the cache by an earlier run).
enum class Source { build, installed, artifact_cache };

// Everything one recipe's passes produce; recipes never share a Job.
struct Job {
  Recipe recipe;
  std::vector<std::string> signed_indexes;
  std::string inputs_key;
  Source source = Source::build;
  PackageMap index;
  std::vector<PackageEntry> packages;
  std::vector<fs::path> package_files;
  fs::path root;        // packages unpacked here
  std::string version;  // kernel release, from lib/modules/<version>
  fs::path artifact;    // staging kernels/<dist>/<version>
  std::size_t initramfs_modules = 0;
  std::uintmax_t initramfs_size = 0;
};

struct Context {
  Context(const KernelsOptions& o, fs::path s)
      : options(o),
        staging(std::move(s)),
        progress(progress_wanted()),
        cache(o.cache, o.retry, &progress, o.index_max_age),
        artifacts(o.cache),
        compiled(o.cache, "compiled-kernels", kCompiledMarker) {}

  static constexpr const char* kCompiledMarker = "compiled.json";

  const KernelsOptions& options;
  fs::path staging;
  std::vector<Job> jobs;
  fetch::ProgressMeter progress;  // before cache, which reports to it
  fetch::BlobCache cache;
  ArtifactCache artifacts;
  ArtifactCache compiled;  // kernels compiled from source, before indexing: by compile_inputs_key
  std::string toolchain;   // when a recipe builds from source
};

// Runs `pass` on every job (or only those still to be built), `width` at a time.
enum class Jobs { all, to_build };
template <class F>
void for_each_job(Context& ctx, unsigned width, Jobs which, F&& pass) {
  parallel_for(ctx.jobs.size(), width, [&](std::size_t i) {
    Job& job = ctx.jobs[i];
    if (which == Jobs::to_build && job.source != Source::build) return;
    in_context(job.recipe.name, [&] { pass(ctx, job); });
  });
}

// Recipes are data: parse strictly, then apply command-line overrides.
void load_recipes(Context& ctx) {
  for (const auto& path : ctx.options.recipes) {
    Job job;
    job.recipe = in_context(path.string(), [&] { return parse_recipe(read_file(path), path.stem().string()); });
    if (ctx.options.mirror)
      for (auto& source : job.recipe.sources) source.mirror = *ctx.options.mirror;
    if (ctx.options.keyring) job.recipe.keyring = *ctx.options.keyring;
    if (auto& build = job.recipe.build) {
      fs::path fragment = path.parent_path() / build->config_fragment;
      build->config_fragment_text = in_context(path.string(), [&] { return read_file(fragment); });
      if (ctx.toolchain.empty()) ctx.toolchain = toolchain_identity();
    }
    ctx.jobs.push_back(std::move(job));
  }
}

// The installed version in out/kernels/<dist>/ whose manifest names these build inputs.
std::optional<std::string> installed_with_inputs(const fs::path& dist, const std::string& key) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dist, ec)) {
    if (entry.is_symlink() || !entry.is_directory()) continue;
    try {
      if (handoff::parse_kernel_manifest(read_file(entry.path() / artifact::kManifest)).inputs == key)
        return entry.path().filename().string();
    } catch (const std::exception&) {
      // a damaged or foreign manifest (another format version) is no match: the artifact is built again
    }
  }
  return std::nullopt;
}

// Signed indexes first: nothing is downloaded that an index we trust does not name. They are
// small, and with the recipe, the initramfs init and this program they make the build-inputs key:
// an artifact already made from the same inputs is reused, and nothing more is read.
void fetch_signed_indexes_and_reuse(Context& ctx) {
  std::time_t now = std::time(nullptr);
  std::string init_sha256 = file_digest_hex(ctx.options.initramfs_init);
  std::string builder_sha256 = file_digest_hex("/proc/self/exe");
  for_each_job(ctx, ctx.options.jobs, Jobs::all, [&](Context& c, Job& job) {
    job.signed_indexes = fetch_signed_indexes(job.recipe, c.cache, now);
    std::string toolchain = job.recipe.build ? c.toolchain : std::string();
    job.inputs_key = build_inputs_key(
        {&job.recipe, job.signed_indexes, init_sha256, builder_sha256, c.options.timestamp, toolchain});
    fs::path dist = c.options.out / artifact::kKernelsDirectory / job.recipe.dist;
    if (auto version = installed_with_inputs(dist, job.inputs_key)) {
      job.version = *version;
      job.source = Source::installed;
    } else if (auto kept = c.artifacts.find(job.inputs_key)) {
      std::optional<std::string> kept_version;
      try {
        kept_version = handoff::parse_kernel_manifest(read_file(*kept / artifact::kManifest)).version;
      } catch (const std::exception&) {
        // a damaged or foreign manifest: the kept artifact is not used, the kernel is made again
      }
      if (kept_version) {
        job.version = *kept_version;
        job.artifact = c.staging / job.recipe.name / "artifact" / job.version;
        link_tree(*kept, job.artifact);
        job.source = Source::artifact_cache;
      }
    }
  });
}

// The package lists the signed indexes name, and the packages to fetch from them.
void read_package_lists(Context& ctx) {
  for_each_job(ctx, ctx.options.jobs, Jobs::to_build, [](Context& c, Job& job) {
    job.index = load_package_index(job.recipe, job.signed_indexes, c.cache);
    std::string where = job.recipe.sources.front().mirror + " " + job.recipe.sources.front().suite;
    job.packages = resolve_packages(job.index, job.recipe.package, job.recipe.follow, where);
  });
}

// All packages of all recipes in parallel, each verified against its index before it is kept.
void fetch_packages(Context& ctx) {
  std::vector<std::pair<Job*, std::size_t>> work;
  for (auto& job : ctx.jobs) {
    if (job.source != Source::build) continue;
    job.package_files.resize(job.packages.size());
    for (std::size_t i = 0; i < job.packages.size(); ++i) work.emplace_back(&job, i);
  }
  parallel_for(work.size(), ctx.options.jobs, [&](std::size_t n) {
    Job* job = work[n].first;
    std::size_t i = work[n].second;
    in_context(job->recipe.name,
               [&] { job->package_files[i] = fetch_package(job->recipe, job->packages[i], ctx.cache); });
  });
}

fs::path single_match(const fs::path& root, const std::string& glob, std::string_view what) {
  std::vector<fs::path> matches;
  fs::path pattern = root / glob;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pattern.parent_path(), ec))
    if (::fnmatch(pattern.filename().c_str(), entry.path().filename().c_str(), 0) == 0) matches.push_back(entry.path());
  if (matches.size() != 1)
    throw Error("expected exactly one " + std::string(what) + " matching " + quote(glob) + ", found " +
                std::to_string(matches.size()))
        .with_hint("check the recipe's `kernel_image` and `follow` fields");
  return matches.front();
}

// A source package compiled into job.root (boot/, lib/modules/), or the same tree kept from an
// earlier build with the same compile inputs.
void compile_or_reuse(Context& ctx, Job& job) {
  const PackageEntry& source = job.packages.front();
  std::string key = compile_inputs_key(*job.recipe.build, source.checksum, ctx.toolchain, ctx.options.timestamp);
  if (auto kept = ctx.compiled.find(key)) {
    link_tree(*kept, job.root);
    info(job.recipe.name + ": the kernel compiled from " + source.name + " " + source.version +
         " with the same inputs is kept in the cache: not compiling it again");
    return;
  }
  fs::path work = job.root.parent_path() / "build";
  make_directories(work);
  make_directories(job.root);
  SourceBuildPaths paths{job.package_files.front(), work, job.root,
                         ctx.options.cache / "logs" / (job.recipe.name + "-build.log")};
  std::string release = build_kernel_from_source(job.recipe, paths, hardware_threads(), ctx.options.timestamp);
  remove_tree_quietly(work);
  nlohmann::ordered_json marker = {{"release", release},
                                   {"source_package", {{"name", source.name}, {"version", source.version}}},
                                   {"toolchain", ctx.toolchain}};
  write_file_atomic(job.root / Context::kCompiledMarker, marker.dump(2) + "\n");
  ctx.compiled.keep(job.root, key);
}

// Unpack only the kernel payload (boot/, lib/modules/), or compile it, and lay out the artifact
// directory.
void unpack(Context& ctx, Job& job) {
  if (job.recipe.build)
    compile_or_reuse(ctx, job);
  else
    for (const auto& file : job.package_files) extract_kernel_payload(job.recipe, file, job.root);
  fs::path module_root = single_match(job.root, "lib/modules/*", "module tree");
  job.version = module_root.filename().string();
  fs::path kernel_image = single_match(job.root, job.recipe.kernel_image, "kernel image");
  job.artifact = job.root.parent_path() / "artifact" / job.version;
  make_directories(job.artifact);
  fs::rename(module_root, job.artifact / artifact::kModules);
  fs::rename(kernel_image, job.artifact / artifact::kKernelImage);
  fs::path image = job.artifact / artifact::kKernelImage;
  if (auto elf = direct_boot_image(read_file(image), image.string()))
    write_sparse_file(job.artifact / artifact::kDirectBootImage, *elf);
  // Debian and Ubuntu name the config after the release, Alpine after the flavour (config-virt).
  fs::path config = job.root / "boot" / ("config-" + job.version);
  std::vector<fs::path> configs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(job.root / "boot", ec))
    if (entry.path().filename().string().starts_with("config-")) configs.push_back(entry.path());
  if (!fs::exists(config) && configs.size() == 1) config = configs.front();
  if (fs::exists(config)) fs::rename(config, job.artifact / artifact::kConfig);
}

// depmod's job, from each module's own `depends=`, so modprobe works inside the VM.
void index_modules_and_build_initramfs(Context& ctx, Job& job) {
  fs::path modules = job.artifact / artifact::kModules;
  ModuleGraph graph = scan_module_tree(modules);
  for (const auto& warning : write_module_indexes(graph, modules))
    warn(job.recipe.name + ": missing module dependency: " + warning);
  auto order = graph.load_order(job.recipe.initramfs_modules);
  job.initramfs_modules = order.size();
  job.initramfs_size =
      write_initramfs(plan_initramfs(order, modules, ctx.options.initramfs_init), job.artifact / artifact::kInitramfs,
                      job.recipe.initramfs_compression, ctx.options.timestamp);
  handoff::KernelManifest manifest;
  manifest.dist = job.recipe.dist;
  manifest.version = job.version;
  manifest.recipe = job.recipe.name;
  manifest.inputs = job.inputs_key;
  for (const ModuleInfo* m : order) manifest.initramfs_modules.push_back(m->name);
  // The initramfs stays in the artifact (the layout's contract); such a kernel just need not load it.
  std::error_code ec;
  fs::path config = job.artifact / artifact::kConfig;
  manifest.root_without_initramfs =
      order.empty() && fs::exists(config, ec) && mounts_virtiofs_root_itself(read_file(config));
  if (job.recipe.build) manifest.toolchain = ctx.toolchain;
  for (const auto& p : job.packages) manifest.packages.push_back({p.name, p.version, p.checksum});
  write_file_atomic(job.artifact / artifact::kManifest, handoff::to_json_text(manifest));
  ctx.artifacts.keep(job.artifact, job.inputs_key);
}

// Moves each artifact into out/kernels/<dist>/ and points `latest` at the newest version there.
void install(Context& ctx) {
  fs::path kernels = ctx.options.out / artifact::kKernelsDirectory;
  for (auto& job : ctx.jobs) {
    if (job.source == Source::installed) continue;
    fs::path dist = kernels / job.recipe.dist;
    make_directories(dist);
    fs::path target = dist / job.version;
    std::error_code ec;
    if (fs::exists(target, ec)) {
      fs::path old = temporary_sibling(target);
      fs::rename(target, old);
      fs::rename(job.artifact, target);
      remove_tree_quietly(old);
    } else {
      fs::rename(job.artifact, target);
    }
    std::vector<std::string> versions;
    for (const auto& entry : fs::directory_iterator(dist))
      if (entry.is_directory() && !entry.is_symlink() && entry.path().filename().string().front() != '.')
        versions.push_back(entry.path().filename().string());
    std::string newest = *std::max_element(versions.begin(), versions.end(),
                                           [](const auto& a, const auto& b) { return compare_versions(a, b) < 0; });
    replace_symlink(newest, dist / artifact::kLatest);
  }
}

void run_pass(Context& ctx, std::string_view name, const std::function<void(Context&)>& pass) {
  auto start = std::chrono::steady_clock::now();
  pass(ctx);
  if (ctx.options.timings) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    info("timing: " + std::string(name) + ": " + std::to_string(ms) + " ms");
  }
}

std::string megabytes(std::uintmax_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

}  // namespace

void run_kernels(const KernelsOptions& options) {
  fs::path out = fs::weakly_canonical(fs::absolute(options.out));
  if (out.filename().empty()) out = out.parent_path();
  fs::path staging_path =
      out.parent_path() / ("." + out.filename().string() + ".staging-" + std::to_string(::getpid()));
  StagingDirectory staging(staging_path);
  Context ctx(options, staging.path());

  run_pass(ctx, "load recipes", load_recipes);
  for (auto& job : ctx.jobs) job.root = staging.path() / job.recipe.name / "root";
  run_pass(ctx, "fetch and verify signed indexes, look for the artifact", fetch_signed_indexes_and_reuse);
  run_pass(ctx, "read package lists", read_package_lists);
  run_pass(ctx, "fetch and verify packages", fetch_packages);
  ctx.progress.finish();
  run_pass(ctx, "unpack (or compile) the kernel", [](Context& c) { for_each_job(c, 2, Jobs::to_build, unpack); });
  run_pass(ctx, "index modules, write initramfs",
           [](Context& c) { for_each_job(c, 2, Jobs::to_build, index_modules_and_build_initramfs); });
  run_pass(ctx, "install", install);

  for (const auto& job : ctx.jobs) {
    std::string where = (fs::path(artifact::kKernelsDirectory) / job.recipe.dist / job.version).string();
    if (job.source == Source::installed)
      info(job.recipe.name + ": " + where + " is up to date (its build inputs did not change)");
    else if (job.source == Source::artifact_cache)
      info(job.recipe.name + ": installed " + where + " from the artifact cache (its build inputs did not change)");
    else
      info(job.recipe.name + ": installed " + where + " (" + job.packages.front().name + " " +
           job.packages.front().version + "; initrd " + megabytes(job.initramfs_size) + ", " +
           std::to_string(job.initramfs_modules) + " modules)");
  }
  const auto& stats = ctx.cache.stats();
  unsigned downloaded = stats.files_downloaded.load();
  info("downloaded " + std::to_string(downloaded) + (downloaded == 1 ? " file (" : " files (") +
       megabytes(stats.bytes_downloaded.load()) + "), " + std::to_string(stats.files_from_cache.load()) +
       " from cache");
}

}  // namespace runcvm::kernels
