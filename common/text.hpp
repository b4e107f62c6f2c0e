// Small text helpers shared by parsers of line- and colon-separated data, and the one escaper of
// text that reaches an operator's terminal.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace runcvm {

// A name made of 16 hex digits from `text` (FNV-1a, 64 bits): stable and spread, for files named
// after what they hold (the KVM verdicts, the templates). Not a digest: the static programs carry
// no digest library, and a collision only means one such file replaces another, whose contents
// say what it is for.
std::string hex_name(std::string_view text);

// The pieces of `text` between `separator`s, leaving out empty ones ("a::b\n" → "a", "b").
std::vector<std::string> split_nonempty(std::string_view text, char separator);

// Whether `path` is `directory` or a path inside it, by their text ("/a/b" is below "/a", "/ab" is
// not); neither is resolved.
bool at_or_below(std::string_view path, std::string_view directory);

// `text` with every byte a terminal could act on made visible, so a value from an image, a
// mirror or a registry can neither colour, retitle nor rewrite the operator's terminal (ESC [ …,
// OSC …): newline, carriage return and tab become \n, \r, \t; the other C0 controls, DEL, the C1
// controls (U+0080–U+009F, which terminals read as CSI, OSC… too) and every byte that is not part
// of valid UTF-8 (stray continuation bytes, overlong or truncated sequences, surrogates) become
// \xNN, one per byte. Valid printable UTF-8 stays as it is. Characters of `also_escaped` get a
// backslash in front (quote() passes the double quote and the backslash).
std::string escape_unprintable(std::string_view text, std::string_view also_escaped = {});

// One line of untrusted output (a guest's console, say) as at most `limit` characters of
// printable ASCII: a terminal's escape sequences (ESC [ … final byte) go whole, a tab becomes a
// space, every other byte outside ASCII's printable range goes, and so do leading and trailing
// spaces. Meant for a short excerpt in a message, where escape_unprintable would keep too much.
std::string printable_line(std::string_view line, std::size_t limit);

}  // namespace runcvm
