#include "control/mi/mi_datagram.h"

#include "control/mi/mi_fifo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace sipd::control {

bool mi_datagram_settings(const config::Program& program, MiDatagramSettings& out, std::string& error) {
  out = {};
  out.socket_name = std::string(program.modparam("mi_datagram", "socket_name"));
  if (out.socket_name.empty()) {
    error =
        "mi_datagram: modparam(\"mi_datagram\", \"socket_name\", ...) is required (udp:HOST:PORT or a path)";
    return false;
  }
  if (program.modparam_set("mi_datagram", "unix_socket_mode"))
    out.unix_mode = mode_t(program.modparam_int("mi_datagram", "unix_socket_mode"));
  out.unix_user = std::string(program.modparam("mi_datagram", "unix_socket_user"));
  out.unix_group = std::string(program.modparam("mi_datagram", "unix_socket_group"));
  return true;
}

bool MiDatagram::open(const MiDatagramSettings& s, std::string& error) {
  close();
  if (s.socket_name.starts_with("udp:")) {
    const std::string rest = s.socket_name.substr(4);
    const size_t colon = rest.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    const std::string host = colon == std::string::npos ? rest : rest.substr(0, colon);
    const long port = colon == std::string::npos ? 0 : std::strtol(rest.c_str() + colon + 1, nullptr, 10);
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 || port < 1024 || port > 65535) {
      error =
          "mi_datagram: socket_name " + s.socket_name + " is not udp:IPV4-ADDRESS:PORT (port 1024 to 65535)";
      return false;
    }
    a.sin_port = htons(uint16_t(port));
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      error = "mi_datagram: cannot bind " + s.socket_name + ": " + std::strerror(errno);
      close();
      return false;
    }
    return true;
  }
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (s.socket_name.size() >= sizeof a.sun_path) {
    error = "mi_datagram: socket_name " + s.socket_name + " is too long for a UNIX socket";
    return false;
  }
  std::memcpy(a.sun_path, s.socket_name.c_str(), s.socket_name.size() + 1);
  ::unlink(s.socket_name.c_str());
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    error = "mi_datagram: cannot bind " + s.socket_name + ": " + std::strerror(errno);
    close();
    return false;
  }
  path_ = s.socket_name;
  uid_t uid;
  gid_t gid;
  if (!file_owner("mi_datagram", "unix_socket_user", s.unix_user, "unix_socket_group", s.unix_group, uid, gid,
                  error)) {
    close();
    return false;
  }
  if (::chmod(path_.c_str(), s.unix_mode) != 0 ||
      ((uid != uid_t(-1) || gid != gid_t(-1)) && ::chown(path_.c_str(), uid, gid) != 0)) {
    error = "mi_datagram: cannot set the mode or owner of " + path_ + ": " + std::strerror(errno);
    close();
    return false;
  }
  return true;
}

void MiDatagram::close() {
  waiting_.clear();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

bool MiDatagram::serve(int budget) {
  if (fd_ < 0) return false;
  bool did = false;
  std::vector<char> buf(kMaxDatagram + 1);
  for (; budget > 0; --budget) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) break;
    did = true;
    const std::string_view request(buf.data(), size_t(n));
    const uint64_t id = next_id_++;
    std::weak_ptr<MiDatagram*> self = self_;
    std::optional<std::string> answer = commands_.handle(request, [self, id](std::string text) {
      if (const std::shared_ptr<MiDatagram*> d = self.lock()) (*d)->answer_later(id, std::move(text));
    });
    Json parsed;
    std::string why;
    const bool parses = Json::parse(request, parsed, why) && parsed.is_object();
    if (parses && !parsed.find("id")) continue;  // notification
    const Json request_id = parses && parsed.find("id") ? *parsed.find("id") : Json();
    if (!answer) {
      waiting_.push_back(Waiting{id, from, from_len, request_id});
      continue;
    }
    reply(std::move(*answer), request_id, from, from_len);
  }
  return did;
}

void MiDatagram::answer_later(uint64_t id, std::string text) {
  for (size_t i = 0; i < waiting_.size(); ++i) {
    if (waiting_[i].id != id) continue;
    const Waiting w = waiting_[i];
    waiting_.erase(waiting_.begin() + long(i));
    if (fd_ >= 0) reply(std::move(text), w.request_id, w.from, w.from_len);
    return;
  }
}

void MiDatagram::reply(std::string answer, const Json& request_id, const sockaddr_storage& from,
                       socklen_t from_len) {
  if (answer.size() > kMaxDatagram) {
    Json e = Json::object();
    e.set("code", kMiServerBusy);
    e.set("message", "Server error");
    e.set("data", "the reply takes " + std::to_string(answer.size()) +
                      " bytes, more than a datagram holds (" + std::to_string(kMaxDatagram) +
                      "): use the FIFO or the control socket");
    Json r = Json::object();
    r.set("jsonrpc", "2.0");
    r.set("error", std::move(e));
    r.set("id", request_id);
    answer = r.dump();
  }
  // A UNIX client that did not bind has no address to answer to.
  if (from_len > sizeof(sa_family_t))
    (void)::sendto(fd_, answer.data(), answer.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&from),
                   from_len);
}

}  // namespace sipd::control
