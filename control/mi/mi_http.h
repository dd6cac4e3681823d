// OpenSIPS's mi_http on httpd, served by sipd-control when the script loads httpd.so and mi_http.so:
// JSON-RPC requests POSTed with Content-Type application/json to http://IP:PORT/ROOT (httpd's `ip`, all
// addresses when unset, and `port`, 8888; mi_http's `root`, "mi"), answered 200 with the JSON-RPC response
// (errors included, as OpenSIPS does), 202 with no body for a notification. Anything but a POST is 405; a
// path outside ROOT is 400. OpenSIPS's clients (opensips-cli, python-opensips) speak it as is. The HTTP is
// libmicrohttpd's, run from control's own loop (no thread of its own: commands run on the main thread).
//
// A command that answers later (t_uac_dlg) has its connection suspended (MHD_suspend_connection) until it
// answers, then resumed and answered; nothing waits meanwhile.
//
// Other modules' pages share the server (the prometheus module's /metrics: add_page()).
//
// Who calls: sipd-control's main thread: fd() in its poll() set, serve() every turn.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/program.h"
#include "control/mi/mgmt.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace sipd::control {

struct MiHttpSettings {
  std::string ip;  // "" for every address
  uint16_t port = 8888;
  std::string root = "mi";  // "" when mi_http is not loaded (httpd serves other modules' pages only)
};

// A page another module serves on httpd at /ROOT, to GET only (anything else is 405): the prometheus
// module's metrics.
struct HttpPage {
  std::string root;
  std::string content_type;
  std::function<std::string()> body;
};

// The script's httpd and mi_http modparams, OpenSIPS's defaults where it sets none; false with the reason
// for a value OpenSIPS would refuse.
bool mi_http_settings(const config::Program& program, MiHttpSettings& out, std::string& error);

class MiHttp {
 public:
  explicit MiHttp(const CommandTable& commands) : commands_(commands) {}
  ~MiHttp() { close(); }
  MiHttp(const MiHttp&) = delete;
  MiHttp& operator=(const MiHttp&) = delete;

  // Before open(): another module's page on the same server.
  void add_page(HttpPage page) { pages_.push_back(std::move(page)); }
  [[nodiscard]] bool open(const MiHttpSettings& settings, std::string& error);
  int fd() const { return fd_; }  // readable when serve() has something to do; -1 when closed
  bool serve();
  void close();

  static constexpr size_t kMaxBody = 1 << 20;

 private:
  const CommandTable& commands_;
  MiHttpSettings settings_;
  std::vector<HttpPage> pages_;
  MHD_Daemon* daemon_ = nullptr;
  int fd_ = -1;
  uint64_t answered_ = 0;
  void answer_later(uint64_t id, std::string text);
  struct Suspended {
    MHD_Connection* connection;
    void* upload;
  };
  std::map<uint64_t, Suspended> suspended_;  // connections whose command answers later
  uint64_t next_id_ = 1;
  std::shared_ptr<MiHttp*> self_ = std::make_shared<MiHttp*>(this);  // what answers later find

  friend struct MiHttpAccess;
};

}  // namespace sipd::control
