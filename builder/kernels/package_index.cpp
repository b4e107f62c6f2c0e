#include "builder/kernels/package_index.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <deque>
#include <set>

#include "common/error.hpp"

namespace runcvm::kernels {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::uint64_t parse_size(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size())
    throw Error(std::string(what) + ": " + quote(text) + " is not a size in bytes");
  return value;
}

// "foo (>= 1.0) | bar, baz:any" -> {"foo", "baz"}
std::vector<std::string> dependency_names(std::string_view field) {
  std::vector<std::string> names;
  while (!field.empty()) {
    size_t comma = field.find(',');
    std::string_view item = field.substr(0, comma);
    field = comma == std::string_view::npos ? std::string_view{} : field.substr(comma + 1);
    item = item.substr(0, item.find('|'));
    item = trim(item.substr(0, item.find_first_of("(:[<")));
    if (!item.empty()) names.emplace_back(item);
  }
  return names;
}

const std::string& required(const Paragraph& p, const char* field, std::string_view context) {
  auto it = p.find(field);
  if (it == p.end() || it->second.empty()) throw Error(std::string(context) + ": missing field `" + field + "`");
  return it->second;
}

// The version part of dpkg's comparison: alternating non-digit and digit runs, where letters sort
// before non-letters and '~' sorts before the end of the string.
int order(char c) {
  if (std::isdigit(static_cast<unsigned char>(c))) return 0;
  if (std::isalpha(static_cast<unsigned char>(c))) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

int compare_fragment(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !std::isdigit(static_cast<unsigned char>(a[i]))) ||
           (j < b.size() && !std::isdigit(static_cast<unsigned char>(b[j])))) {
      int ac = order(i < a.size() ? a[i] : 0);
      int bc = order(j < b.size() ? b[j] : 0);
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])) && j < b.size() &&
           std::isdigit(static_cast<unsigned char>(b[j]))) {
      if (!first_diff) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]))) return 1;
    if (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j]))) return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

struct SplitVersion {
  long epoch = 0;
  std::string_view upstream;
  std::string_view revision;
};

SplitVersion split_version(std::string_view v) {
  SplitVersion out;
  size_t colon = v.find(':');
  if (colon != std::string_view::npos) {
    std::from_chars(v.data(), v.data() + colon, out.epoch);
    v.remove_prefix(colon + 1);
  }
  size_t hyphen = v.rfind('-');
  out.upstream = v.substr(0, hyphen);
  out.revision = hyphen == std::string_view::npos ? std::string_view{} : v.substr(hyphen + 1);
  return out;
}

}  // namespace

std::vector<Paragraph> parse_deb822(std::string_view text) {
  std::vector<Paragraph> paragraphs;
  Paragraph current;
  std::string* last_value = nullptr;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      if (!current.empty()) paragraphs.push_back(std::move(current));
      current.clear();
      last_value = nullptr;
      continue;
    }
    if (line.front() == '#') continue;
    if (line.front() == ' ' || line.front() == '\t') {
      if (last_value == nullptr) throw Error("continuation line without a field: " + quote(line));
      *last_value += '\n';
      *last_value += trim(line);
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) throw Error("line without a field name: " + quote(line));
    auto [it, inserted] =
        current.insert_or_assign(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    last_value = &it->second;
  }
  if (!current.empty()) paragraphs.push_back(std::move(current));
  return paragraphs;
}

std::optional<std::time_t> parse_release_date(std::string_view text) {
  std::tm tm{};
  std::string copy(trim(text));
  const char* end = ::strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  std::string_view zone = trim(end);
  if (!zone.empty() && zone != "UTC" && zone != "GMT" && zone != "+0000" && zone != "Z") return std::nullopt;
  return ::timegm(&tm);
}

std::string format_release_date(std::time_t when) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S UTC", &tm);
  return text;
}

ReleaseIndex parse_release(std::string_view text) {
  auto paragraphs = parse_deb822(text);
  if (paragraphs.empty()) throw Error("Release file is empty");
  const Paragraph& p = paragraphs.front();
  ReleaseIndex release;
  if (auto it = p.find("Suite"); it != p.end()) release.suite = it->second;
  if (auto it = p.find("Codename"); it != p.end()) release.codename = it->second;
  if (auto it = p.find("Acquire-By-Hash"); it != p.end()) release.acquire_by_hash = it->second == "yes";
  if (auto it = p.find("Date"); it != p.end()) {
    release.date = parse_release_date(it->second);
    if (!release.date) throw Error("Release file: field `Date`: " + quote(it->second) + " is not a date");
  }
  if (auto it = p.find("Valid-Until"); it != p.end()) {
    release.valid_until = parse_release_date(it->second);
    if (!release.valid_until) throw Error("Release file: field `Valid-Until`: " + quote(it->second) + " is not a date");
  }
  const std::string& sums = required(p, "SHA256", "Release file");
  std::string_view rest = sums;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = trim(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    if (line.empty()) continue;
    size_t a = line.find(' ');
    size_t b = line.find_first_not_of(' ', a);
    size_t c = line.find(' ', b);
    size_t d = line.find_first_not_of(' ', c);
    if (a == std::string_view::npos || c == std::string_view::npos || d == std::string_view::npos)
      throw Error("Release file: field `SHA256`: malformed line " + quote(line));
    FileDigest digest{std::string(line.substr(0, a)), parse_size(line.substr(b, c - b), "Release SHA256 size")};
    if (digest.sha256.size() != 64) throw Error("Release file: field `SHA256`: bad digest in " + quote(line));
    release.sha256_files[std::string(line.substr(d))] = digest;
  }
  return release;
}

std::vector<PackageEntry> parse_packages(std::string_view text, std::string_view base_url) {
  std::vector<PackageEntry> entries;
  for (const auto& p : parse_deb822(text)) {
    PackageEntry e;
    e.name = required(p, "Package", "Packages index");
    std::string context = "Packages index: package " + quote(e.name);
    e.version = required(p, "Version", context);
    e.filename = required(p, "Filename", context);
    e.checksum = required(p, "SHA256", context);
    e.size = parse_size(required(p, "Size", context), context + ": field `Size`");
    if (auto it = p.find("Depends"); it != p.end()) e.depends = dependency_names(it->second);
    if (auto it = p.find("Pre-Depends"); it != p.end()) {
      auto more = dependency_names(it->second);
      e.depends.insert(e.depends.end(), more.begin(), more.end());
    }
    e.base_url = std::string(base_url);
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<PackageEntry> parse_apkindex(std::string_view text, std::string_view base_url) {
  std::vector<PackageEntry> entries;
  PackageEntry current;
  bool any = false;
  auto finish = [&] {
    if (!any) return;
    std::string context = "APKINDEX: package " + quote(current.name);
    if (current.name.empty()) throw Error("APKINDEX: entry without `P:` (name)");
    if (current.version.empty()) throw Error(context + ": missing `V:` (version)");
    if (!current.checksum.starts_with("Q1")) throw Error(context + ": missing or unknown `C:` checksum");
    current.filename = current.name + "-" + current.version + ".apk";
    current.base_url = std::string(base_url);
    entries.push_back(std::move(current));
    current = PackageEntry{};
    any = false;
  };
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.empty()) {
      finish();
      continue;
    }
    if (line.size() < 2 || line[1] != ':') throw Error("APKINDEX: malformed line " + quote(line));
    any = true;
    std::string_view value = line.substr(2);
    switch (line[0]) {
      case 'P':
        current.name = value;
        break;
      case 'V':
        current.version = value;
        break;
      case 'C':
        current.checksum = value;
        break;
      case 'S':
        current.size = parse_size(value, "APKINDEX size");
        break;
      case 'D':
        while (!value.empty()) {
          size_t space = value.find(' ');
          std::string_view dep = value.substr(0, space);
          value = space == std::string_view::npos ? std::string_view{} : value.substr(space + 1);
          dep = dep.substr(0, dep.find_first_of("<>=~"));
          if (!dep.empty() && dep.front() != '!' && dep.find(':') == std::string_view::npos)
            current.depends.emplace_back(dep);
        }
        break;
      default:
        break;
    }
  }
  finish();
  return entries;
}

int compare_versions(std::string_view a, std::string_view b) {
  SplitVersion x = split_version(a), y = split_version(b);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  if (int r = compare_fragment(x.upstream, y.upstream)) return r < 0 ? -1 : 1;
  int r = compare_fragment(x.revision, y.revision);
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

void merge_newest(PackageMap& packages, std::vector<PackageEntry> entries) {
  for (auto& e : entries) {
    auto it = packages.find(e.name);
    if (it == packages.end())
      packages.emplace(e.name, std::move(e));
    else if (compare_versions(e.version, it->second.version) > 0)
      it->second = std::move(e);
  }
}

std::vector<PackageEntry> resolve_packages(const PackageMap& packages, std::string_view start,
                                           const std::vector<std::string>& follow, std::string_view where) {
  auto lookup = [&](const std::string& name, const std::string& wanted_by) -> const PackageEntry& {
    auto it = packages.find(name);
    if (it == packages.end()) {
      Error e("package " + quote(name) + (wanted_by.empty() ? "" : " (needed by " + quote(wanted_by) + ")") +
              " not found in " + std::string(where));
      e.with_hint("check the recipe's `package`/`follow` fields and that the suite carries this kernel");
      throw e;
    }
    return it->second;
  };
  auto followed = [&](const std::string& name) {
    return std::any_of(follow.begin(), follow.end(),
                       [&](const std::string& glob) { return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0; });
  };
  std::vector<PackageEntry> out;
  std::set<std::string> seen{std::string(start)};
  std::deque<std::pair<std::string, std::string>> queue{{std::string(start), ""}};
  while (!queue.empty()) {
    auto [name, wanted_by] = queue.front();
    queue.pop_front();
    const PackageEntry& entry = lookup(name, wanted_by);
    out.push_back(entry);
    for (const auto& dep : entry.depends)
      if (followed(dep) && seen.insert(dep).second) queue.emplace_back(dep, name);
  }
  return out;
}

}  // namespace runcvm::kernels
