// The exec request (handoff/exec_request.hpp): what the runtime writes, runcvm-exec reads back
// whole, and anything else is refused in one line naming the field.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "handoff/exec_request.hpp"

namespace runcvm {
namespace {

using Catch::Matchers::ContainsSubstring;

TEST_CASE("an exec request survives the trip through runcvm-exec's environment", "[handoff][exec]") {
  handoff::ExecRequest request;
  request.process.args = {"sh", "-c", "echo \"h\u00e9llo\""};
  request.process.env = {"PATH=/bin", "A=b"};
  request.process.cwd = "/work";
  request.process.uid = 1000;
  request.process.terminal = true;
  request.wait_seconds = 7;
  handoff::ExecRequest back = handoff::parse_exec_request(handoff::to_json_text(request));
  CHECK(back.wait_seconds == 7);
  CHECK(back.process.args == request.process.args);
  CHECK(back.process.env == request.process.env);
  CHECK(back.process.cwd == "/work");
  CHECK(back.process.uid == 1000);
  CHECK(back.process.terminal);
}

TEST_CASE("an exec request that is not exactly the format is refused, naming the field", "[handoff][exec]") {
  handoff::ExecRequest request;
  request.process.args = {"true"};
  std::string good = handoff::to_json_text(request);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"version\":1", "\"version\":2")),
                    ContainsSubstring("version 2 is not supported (this program reads 1)"));
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"wait_seconds\":120", "\"wait_seconds\":86401")),
                    ContainsSubstring("`wait_seconds`: 86401 is above 86400"));
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"wait_seconds\":120", "\"wait_seconds\":\"soon\"")),
                    ContainsSubstring("`wait_seconds`: has the wrong type"));
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"version\":1", "\"version\":1,\"extra\":0")),
                    ContainsSubstring("`extra`: unknown field"));
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"args\":", "\"shell\":1,\"args\":")),
                    ContainsSubstring("`process.shell`: unknown field"));
  CHECK_THROWS_WITH(handoff::parse_exec_request("{\"version\":1,\"wait_seconds\":1}"),
                    ContainsSubstring("`process`: is required"));
  CHECK_THROWS(handoff::parse_exec_request("not json"));
  // Integers are integers that fit: no booleans, fractions or values that wrap.
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"version\":1", "\"version\":true")),
                    ContainsSubstring("`version`: has the wrong type"));
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"wait_seconds\":120", "\"wait_seconds\":5.9")),
                    ContainsSubstring("`wait_seconds`: has the wrong type"));
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"wait_seconds\":120", "\"wait_seconds\":4294967301")),
                    ContainsSubstring("`wait_seconds`: is out of range"));
  CHECK_THROWS_WITH(handoff::parse_exec_request(with("\"wait_seconds\":120", "\"wait_seconds\":-1")),
                    ContainsSubstring("`wait_seconds`: is out of range"));
}

}  // namespace
}  // namespace runcvm
