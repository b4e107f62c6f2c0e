// common/: errors and their one line, files, text, sockets, base64.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/file.hpp"
#include "common/reap.hpp"
#include "common/text.hpp"
#include "common/unix_socket.hpp"
#include "tests/unit/support.hpp"

TEST_CASE("errors print as one line: context, message, hint", "[error]") {
  try {
    runcvm::in_context("debian-bookworm", [] {
      runcvm::in_context("fetching http://m/x",
                         [] { throw runcvm::Error("HTTP status 404\n").with_hint("check the suite"); });
    });
    FAIL("expected an error");
  } catch (const std::exception& e) {
    std::string line = runcvm::format_error_line("runcvm-build", e);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.starts_with("runcvm-build: error: debian-bookworm: fetching http://m/x: HTTP status 404"));
    CHECK(line.find("check the suite") != std::string::npos);
  }
  CHECK(runcvm::quote("a b") == "\"a b\"");
  CHECK(runcvm::quote("") == "\"\"");
  CHECK(runcvm::system_error("writing", "/x", ENOSPC).error_number() == ENOSPC);
}

TEST_CASE("quoted values escape terminal controls and invalid UTF-8, keep printable UTF-8", "[error][escape]") {
  using runcvm::quote;
  CHECK(quote("\x1b[31mred") == R"("\x1b[31mred")");            // CSI: colours
  CHECK(quote("\x1b]0;title\x07") == R"("\x1b]0;title\x07")");  // OSC: the window's title
  CHECK(quote("a\xff"
              "b") == R"("a\xffb")");                   // a byte UTF-8 never has
  CHECK(quote("\xc0\xaf") == R"("\xc0\xaf")");          // overlong "/"
  CHECK(quote("\xe0\x80\xaf") == R"("\xe0\x80\xaf")");  // overlong, three bytes
  CHECK(quote("\xed\xa0\x80") == R"("\xed\xa0\x80")");  // a UTF-16 surrogate
  CHECK(quote("end\xe2\x82") == R"("end\xe2\x82")");    // truncated at the end
  CHECK(quote("\xe2\x82x") == R"("\xe2\x82x")");        // truncated before ASCII
  CHECK(quote("\xc2\x9b"
              "31m") == R"("\xc2\x9b31m")");  // C1 CSI, valid UTF-8
  CHECK(quote("tab\tcr\rnl\ndel\x7f nul") == R"("tab\tcr\rnl\ndel\x7f nul")");
  CHECK(quote(std::string_view("\0", 1)) == R"("\x00")");
  CHECK(quote("say \"hi\" \\o/") == R"("say \"hi\" \\o/")");
  // Printable UTF-8 of every length stays: é, €, 日本, 🐳, U+00A0 just past the C1 controls.
  CHECK(quote("caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb3 \xc2\xa0") ==
        "\"caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb3 \xc2\xa0\"");
}

TEST_CASE("the one error line escapes what a message brought in unquoted", "[error][escape]") {
  std::string line = runcvm::format_error_line("runcvm-runtime", runcvm::Error("image says \x1b]0;pwned\x07\x1b[2J\x9b"
                                                                               "2J\nnext line caf\xc3\xa9"));
  CHECK(line == R"(runcvm-runtime: error: image says \x1b]0;pwned\x07\x1b[2J\x9b2J next line caf)"
                "\xc3\xa9");
  for (char c : line) {
    auto byte = static_cast<unsigned char>(c);
    CHECK((byte >= 0x20 && byte != 0x7f));
  }
  // A value quoted on the way in is not escaped twice.
  CHECK(runcvm::format_error_line("p", runcvm::Error("os " + runcvm::quote("\x1b[1m"))) == R"(p: error: os "\x1b[1m")");
}

TEST_CASE("an untrusted line becomes a short printable excerpt", "[common][escape]") {
  using runcvm::printable_line;
  // Colours go whole, a tab is a space, other controls and non-ASCII bytes go, ends are trimmed.
  CHECK(printable_line("  \x1b[1;31mKernel panic\x1b[0m:\tno init\x07 caf\xc3\xa9  ", 100) ==
        "Kernel panic: no init caf");
  // A title-setting OSC keeps no ESC: only its printable bytes are left.
  CHECK(printable_line("\x1b]0;pwned\x07ok", 100) == "]0;pwnedok");
  // An escape sequence cut off at the end of the line swallows the rest, not the limit.
  CHECK(printable_line("text\x1b[12", 100) == "text");
  CHECK(printable_line(std::string(500, 'x'), 200) == std::string(200, 'x'));
  CHECK(printable_line("\x01\x02\x7f\x80\xff", 10).empty());
}

TEST_CASE("a child's end is seen without reaping it, and described as an operator reads it", "[common][reap]") {
  CHECK_FALSE(runcvm::peek_exit(0).has_value());  // never waitid's "any child"
  pid_t child = ::fork();
  if (child == 0) ::_exit(3);
  std::optional<siginfo_t> info;
  for (int i = 0; i < 200 && !(info = runcvm::peek_exit(child)); ++i) ::usleep(10000);
  REQUIRE(info.has_value());
  CHECK(info->si_code == CLD_EXITED);
  CHECK(info->si_status == 3);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);  // still there for its owner to reap
  CHECK(runcvm::describe_wait_status(status) == "exited with status 3");
  CHECK(runcvm::describe_wait_status(SIGKILL) == "was killed by signal 9 (Killed)");
  CHECK(runcvm::describe_signal(SIGSEGV) == "signal 11 (Segmentation fault)");
}

TEST_CASE("atomic writers leave the old file or the new one, never half of one", "[error]") {
  runcvm::test::ScratchDirectory scratch;
  auto target = scratch.path() / "file";
  runcvm::write_file_atomic(target, "old");
  {
    runcvm::AtomicFileWriter writer(target);
    writer.write("new but unfinished");
  }  // no commit
  CHECK(runcvm::read_file(target) == "old");
  {
    runcvm::AtomicFileWriter writer(target);
    writer.write("new");
    writer.commit();
  }
  CHECK(runcvm::read_file(target) == "new");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : runcvm::fs::directory_iterator(scratch.path())) ++entries;
  CHECK(entries == 1);
  {
    runcvm::StagingDirectory staging(scratch.path() / "staging");
    runcvm::write_file_atomic(staging.path() / "x", "y");
  }
  CHECK_FALSE(runcvm::fs::exists(scratch.path() / "staging"));
}

TEST_CASE("value files lose trailing whitespace; trees list in sorted order; text splits into non-empty pieces",
          "[error]") {
  runcvm::test::ScratchDirectory scratch;
  runcvm::write_file_atomic(scratch.path() / "serial", "runcvm-disk0   \n");
  runcvm::write_file_atomic(scratch.path() / "blank", " \n\n");
  CHECK(runcvm::read_value_file(scratch.path() / "serial") == "runcvm-disk0");
  CHECK(runcvm::read_value_file(scratch.path() / "blank").empty());
  CHECK_THROWS_AS(runcvm::read_value_file(scratch.path() / "missing"), runcvm::Error);

  runcvm::fs::create_directories(scratch.path() / "tree" / "b" / "c");
  runcvm::write_file_atomic(scratch.path() / "tree" / "a", "");
  runcvm::write_file_atomic(scratch.path() / "tree" / "b" / "z", "");
  auto listed = runcvm::sorted_tree(scratch.path() / "tree");
  CHECK(listed == std::vector<runcvm::fs::path>{"a", "b", "b/c", "b/z"});

  using Pieces = std::vector<std::string>;
  CHECK(runcvm::split_nonempty("a::b:", ':') == Pieces{"a", "b"});
  CHECK(runcvm::split_nonempty("\nline 1\n\nline 2", '\n') == Pieces{"line 1", "line 2"});
  CHECK(runcvm::at_or_below("/a/b", "/a"));
  CHECK(runcvm::at_or_below("/a", "/a"));
  CHECK_FALSE(runcvm::at_or_below("/ab", "/a"));
  CHECK_FALSE(runcvm::at_or_below("/", "/a"));
  CHECK(runcvm::split_nonempty("", ':').empty());
}

TEST_CASE("unix socket paths too long for sun_path are refused, not cut short", "[common][socket]") {
  CHECK(std::string(runcvm::unix_address("/.runcvm/exec.sock").sun_path) == "/.runcvm/exec.sock");
  CHECK_THROWS_WITH(runcvm::unix_address("/" + std::string(120, 'x')),
                    Catch::Matchers::ContainsSubstring("is longer than 107 bytes"));
}

TEST_CASE("base64 round-trips and names bad input", "[common][base64]") {
  // RFC 4648's test vectors, and the Basic credentials a registry client sends.
  CHECK(runcvm::base64_encode("") == "");
  CHECK(runcvm::base64_encode("f") == "Zg==");
  CHECK(runcvm::base64_encode("fo") == "Zm8=");
  CHECK(runcvm::base64_encode("foob") == "Zm9vYg==");
  CHECK(runcvm::base64_encode("foobar") == "Zm9vYmFy");
  CHECK(runcvm::base64_encode("user:pass word") == "dXNlcjpwYXNzIHdvcmQ=");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  CHECK(runcvm::base64_decode(runcvm::base64_encode(bytes), "round trip") == bytes);
  CHECK(runcvm::base64_decode("Zm8=", "x") == "fo");
  CHECK_THROWS_WITH(runcvm::base64_decode("Zm8", "Q1 checksum"),
                    Catch::Matchers::ContainsSubstring("Q1 checksum: \"Zm8\" is not base64"));
}
