#include "common/text.hpp"

#include <cstdio>

namespace runcvm {
namespace {

// The length of the valid UTF-8 sequence starting at text[at], or 0 when it is not one (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  std::size_t length = 0;
  unsigned char second_low = 0x80, second_high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_low = 0xA0;   // below: overlong
    if (lead == 0xED) second_high = 0x9F;  // above: UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_low = 0x90;   // below: overlong
    if (lead == 0xF4) second_high = 0x8F;  // above: past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - at < length) return 0;  // truncated
  if (byte(at + 1) < second_low || byte(at + 1) > second_high) return 0;
  for (std::size_t i = at + 2; i < at + length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  return length;
}

void append_hex_escape(std::string& out, unsigned char byte) {
  constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[byte >> 4];
  out += kDigits[byte & 0xF];
}

}  // namespace

std::vector<std::string> split_nonempty(std::string_view text, char separator) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) pieces.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return pieces;
}

std::string escape_unprintable(std::string_view text, std::string_view also_escaped) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      std::size_t length = utf8_sequence_length(text, i);
      // U+0080–U+009F are encoded C2 80–C2 9F: valid UTF-8, but control characters all the same.
      bool c1_control = length == 2 && byte == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F;
      if (length == 0 || c1_control) {
        for (std::size_t end = i + (c1_control ? 2 : 1); i < end; ++i)
          append_hex_escape(out, static_cast<unsigned char>(text[i]));
        continue;
      }
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (byte < 0x20 || byte == 0x7F)
      append_hex_escape(out, byte);
    else if (also_escaped.find(c) != std::string_view::npos)
      out.append({'\\', c});
    else
      out += c;
    ++i;
  }
  return out;
}

bool at_or_below(std::string_view path, std::string_view directory) {
  return path == directory ||
         (path.size() > directory.size() && path.starts_with(directory) && path[directory.size()] == '/');
}

std::string printable_line(std::string_view line, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < line.size() && out.size() < limit; ++i) {
    char c = line[i];
    if (c == '\x1b') {  // ESC [ parameters and intermediates, then a final byte in @..~
      if (i + 1 < line.size() && line[i + 1] == '[')
        for (i += 2; i < line.size() && !(line[i] >= 0x40 && line[i] <= 0x7e); ++i) {
        }
      continue;
    }
    if (c == '\t') c = ' ';
    if (c == ' ' && out.empty()) continue;
    if (c >= 0x20 && c < 0x7f) out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string hex_name(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  char name[17];
  std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(hash));
  return name;
}

}  // namespace runcvm
