// OpenSIPS's mi_fifo transport, served by sipd-control when the script loads mi_fifo.so: a named pipe
// (modparam fifo_name, default /tmp/opensips_fifo, created with fifo_mode) that clients write requests into
// as `:REPLY_NAME:{json-rpc}`, and a reply written to the FIFO REPLY_DIR/REPLY_NAME (modparam reply_dir) that
// the client made first, then closed: the end of the reply is the end of the file. An empty name asks for
// no reply, as does a request without an id (a notification); a request that is not a request is answered
// with its JSON-RPC error. OpenSIPS's clients (opensips-cli, python-opensips' MI client) speak it as is.
//
// A command that answers later (t_uac_dlg) has its reply written when it answers: the reply FIFO is opened
// then (the client is blocked reading it meanwhile).
//
// Who calls: sipd-control's main thread: fd() in its poll() set, serve() when readable and every turn (a
// client slow to open its reply FIFO is retried for a while without blocking anything).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/program.h"
#include "control/mi/mgmt.h"

namespace sipd::control {

struct MiFifoSettings {
  std::string path = "/tmp/opensips_fifo";
  mode_t mode = 0660;
  std::string reply_dir = "/tmp/";
  std::string user, group;  // fifo_user, fifo_group: the FIFO's owner (a name or a number), "" to keep ours
};

// The script's mi_fifo modparams, OpenSIPS's defaults where it sets none.
MiFifoSettings mi_fifo_settings(const config::Program& program);

// The owner a transport's file is given: `user` and `group` each a name or a number, "" to keep ours
// (-1). False with the reason, naming the modparams after `module` ("mi_fifo: fifo_user x is no user here").
bool file_owner(const std::string& module, const std::string& user_param, const std::string& user,
                const std::string& group_param, const std::string& group, uid_t& uid, gid_t& gid,
                std::string& error);

class MiFifo {
 public:
  explicit MiFifo(const CommandTable& commands) : commands_(commands) {}
  ~MiFifo() { close(); }
  MiFifo(const MiFifo&) = delete;
  MiFifo& operator=(const MiFifo&) = delete;

  // Makes the FIFO (replacing whatever file has the name) and opens it; false with the reason.
  [[nodiscard]] bool open(const MiFifoSettings& settings, std::string& error);
  int fd() const { return fd_; }
  // Reads and answers what has arrived, and goes on writing replies; true when it did anything.
  bool serve();
  void close();

  static constexpr size_t kMaxRequest = 64 * 1024;  // a longer one is dropped, as garbage
  static constexpr int kReplyTries = 25;            // a reply FIFO nobody opened: 25 turns, 20 ms apart

 private:
  struct Reply {
    std::string path, text;
    size_t written = 0;
    int fd = -1;
    int tries = 0;
    int64_t next_ms = 0;
    uint64_t id = 0;
    bool pending = false;  // its command answers later
  };
  void request(std::string_view name, std::string_view json);
  void answer_later(uint64_t id, std::string text);
  bool write_replies();

  const CommandTable& commands_;
  MiFifoSettings settings_;
  int fd_ = -1;
  std::string in_;
  std::vector<Reply> replies_;
  uint64_t next_id_ = 1;
  std::shared_ptr<MiFifo*> self_ = std::make_shared<MiFifo*>(this);  // what answers later find
};

}  // namespace sipd::control
