#include "container/runcvm-init/qmp.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace runcvm::container_init {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// QMP's replies here are a few hundred bytes; a line without end past this is not QMP.
constexpr std::size_t kLineLimit = 1 << 20;
// A command QEMU does not answer within this is taken as failed.
constexpr auto kReplyLimit = std::chrono::seconds(30);

}  // namespace

QmpMessage parse_qmp_line(std::string_view line) {
  Json message = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) throw Error("QEMU's monitor sent a line that is not a JSON object");
  if (message.contains("QMP")) return {QmpMessage::Kind::greeting, message["QMP"]};
  if (message.contains("return")) return {QmpMessage::Kind::reply, message["return"]};
  if (auto error = message.find("error"); error != message.end()) {
    auto desc = error->is_object() ? error->find("desc") : error->end();
    std::string reason = desc != error->end() && desc->is_string() ? desc->get<std::string>() : "no reason given";
    return {QmpMessage::Kind::failure, reason.substr(0, 512)};
  }
  if (message.contains("event") && message["event"].is_string()) return {QmpMessage::Kind::event, message};
  throw Error("QEMU's monitor sent a message that is neither a reply nor an event");
}

std::string qmp_command_line(const std::string& command, const Json& arguments) {
  Json message = {{"execute", command}};
  if (!arguments.empty()) message["arguments"] = arguments;
  return message.dump() + "\n";
}

Qmp::Qmp(UniqueFd socket) : socket_(std::move(socket)) {
  auto greeting = next(Clock::now() + kReplyLimit);
  if (!greeting || greeting->kind != QmpMessage::Kind::greeting)
    throw Error("QEMU's monitor did not greet within " + std::to_string(kReplyLimit.count()) + " s");
  execute("qmp_capabilities");
}

Json Qmp::execute(const std::string& command, const Json& arguments, int fd) {
  std::string line = qmp_command_line(command, arguments);
  msghdr message{};
  iovec data{line.data(), line.size()};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  }
  // A line of a few hundred bytes goes whole into a unix socket's buffer.
  if (::sendmsg(socket_.get(), &message, MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    throw system_error("QEMU's monitor: sending", command, errno);
  auto deadline = Clock::now() + kReplyLimit;
  for (;;) {
    auto reply = next(deadline);
    if (!reply)
      throw Error("QEMU's monitor: " + command + ": no answer within " + std::to_string(kReplyLimit.count()) + " s");
    switch (reply->kind) {
      case QmpMessage::Kind::reply:
        return reply->body;
      case QmpMessage::Kind::failure:
        throw Error("QEMU's monitor: " + command + ": " + reply->body.get<std::string>());
      case QmpMessage::Kind::event:
        // Only DEVICE_DELETED is waited for. The guest can make QEMU send others at will (its
        // balloon's BALLOON_CHANGE, its clock's RTC_CHANGE): kept, they would fill the bound.
        if (reply->body.value("event", "") == "DEVICE_DELETED" && events_.size() < 64)
          events_.push_back(std::move(reply->body));
        break;
      case QmpMessage::Kind::greeting:
        break;
    }
  }
}

bool Qmp::wait_for_device_deleted(const std::string& id, std::chrono::milliseconds limit) {
  auto matches = [&](const Json& event) {
    if (event.value("event", "") != "DEVICE_DELETED") return false;
    auto data = event.find("data");
    return data != event.end() && data->is_object() && data->value("device", "") == id;
  };
  for (auto it = events_.begin(); it != events_.end(); ++it)
    if (matches(*it)) {
      events_.erase(it);
      return true;
    }
  auto deadline = Clock::now() + limit;
  while (auto message = next(deadline))
    if (message->kind == QmpMessage::Kind::event && matches(message->body)) return true;
  return false;
}

std::optional<QmpMessage> Qmp::next(Clock::time_point deadline) {
  for (;;) {
    if (auto end = buffer_.find('\n'); end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      return parse_qmp_line(line);
    }
    if (buffer_.size() > kLineLimit) throw Error("QEMU's monitor sent a line of over 1 MiB");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{socket_.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char chunk[4096];
    ssize_t n = ::recv(socket_.get(), chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("QEMU's monitor closed its socket");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace runcvm::container_init
