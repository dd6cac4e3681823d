// OpenSIPS's mi_datagram transport, served by sipd-control when the script loads mi_datagram.so: one
// JSON-RPC request per datagram on `socket_name` — "udp:HOST:PORT" (an IPv4 address) or the path of a UNIX
// datagram socket (made with unix_socket_mode, unix_socket_user/unix_socket_group) — and one reply datagram
// to the sender. A notification (no id) gets none; a reply too large for a datagram is answered with a
// JSON-RPC error instead of being cut. OpenSIPS's clients (opensips-cli, python-opensips) speak it as is.
//
// A command that answers later (t_uac_dlg) has its reply sent to the sender when it answers.
//
// Who calls: sipd-control's main thread: fd() in its poll() set, serve() every turn.
#pragma once

#include <sys/types.h>

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "config/program.h"
#include "control/mi/mgmt.h"

namespace sipd::control {

struct MiDatagramSettings {
  std::string socket_name;  // required: udp:HOST:PORT or a path
  mode_t unix_mode = 0660;
  std::string unix_user, unix_group;
};

// The script's mi_datagram modparams; false with the reason when socket_name is missing.
bool mi_datagram_settings(const config::Program& program, MiDatagramSettings& out, std::string& error);

class MiDatagram {
 public:
  explicit MiDatagram(const CommandTable& commands) : commands_(commands) {}
  ~MiDatagram() { close(); }
  MiDatagram(const MiDatagram&) = delete;
  MiDatagram& operator=(const MiDatagram&) = delete;

  [[nodiscard]] bool open(const MiDatagramSettings& settings, std::string& error);
  int fd() const { return fd_; }
  bool serve(int budget = 16);  // at most `budget` requests a call; true when it answered any
  void close();

  static constexpr size_t kMaxDatagram = 65457;  // OpenSIPS's buffer: the largest request and reply

 private:
  struct Waiting {  // a request whose command answers later: where its reply goes
    uint64_t id;
    sockaddr_storage from;
    socklen_t from_len;
    Json request_id;
  };
  void reply(std::string answer, const Json& request_id, const sockaddr_storage& from, socklen_t from_len);
  void answer_later(uint64_t id, std::string text);

  const CommandTable& commands_;
  std::string path_;  // the UNIX socket's, to remove
  int fd_ = -1;
  std::vector<Waiting> waiting_;
  uint64_t next_id_ = 1;
  std::shared_ptr<MiDatagram*> self_ = std::make_shared<MiDatagram*>(this);  // what answers later find
};

}  // namespace sipd::control
