#include "control/mi/mi_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <string_view>

namespace sipd::control {

namespace {

// What a connection has sent so far (its body, for a POST).
struct Upload {
  std::string body;
  bool too_big = false;
  bool waiting = false;  // suspended until its command answers
  bool ready = false;    // resumed with `answer`
  bool notification = false;
  uint64_t id = 0;
  std::string answer;
};

MHD_Result queue(MHD_Connection* c, unsigned status, std::string_view body, const char* type) {
  MHD_Response* r =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  if (type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  const MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

}  // namespace

// The handler libmicrohttpd calls, with the server as its closure.
struct MiHttpAccess {
  static MHD_Result call(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                         const char* upload_data, size_t* upload_size, void** state) {
    MiHttp& self = *static_cast<MiHttp*>(cls);
    // The first segment of the path says which module it is for: ours is ROOT.
    std::string_view path = url ? url : "";
    while (path.starts_with('/')) path.remove_prefix(1);
    const std::string_view first = path.substr(0, path.find('/'));
    for (const HttpPage& page : self.pages_) {
      if (first != page.root) continue;
      if (std::string_view(method) != MHD_HTTP_METHOD_GET)
        return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, "", nullptr);
      ++self.answered_;
      return queue(c, MHD_HTTP_OK, page.body(), page.content_type.c_str());
    }
    if (self.settings_.root.empty() || first != self.settings_.root)
      return queue(c, MHD_HTTP_BAD_REQUEST, "<html><body>Unable to parse URL!</body></html>", "text/html");
    if (std::string_view(method) != MHD_HTTP_METHOD_POST)
      return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, "", nullptr);
    if (*state == nullptr) {  // the headers: wait for the body
      const char* type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
      std::string_view t = type ? type : "";
      t = t.substr(0, t.find(';'));
      while (t.ends_with(' ')) t.remove_suffix(1);
      if (t != "application/json") return queue(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "", nullptr);
      *state = new Upload();
      return MHD_YES;
    }
    auto* up = static_cast<Upload*>(*state);
    if (*upload_size != 0) {
      if (up->body.size() + *upload_size > MiHttp::kMaxBody)
        up->too_big = true;
      else
        up->body.append(upload_data, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    // The whole body is in.
    if (up->ready) {  // resumed: its command has answered
      ++self.answered_;
      if (up->notification) return queue(c, MHD_HTTP_ACCEPTED, "", nullptr);
      return queue(c, MHD_HTTP_OK, up->answer, "application/json");
    }
    if (up->waiting) return MHD_YES;  // still suspended
    if (up->too_big) return queue(c, MHD_HTTP_CONTENT_TOO_LARGE, "", nullptr);
    if (up->body.empty()) return queue(c, MHD_HTTP_BAD_REQUEST, "", nullptr);
    Json parsed;
    std::string why;
    up->notification = Json::parse(up->body, parsed, why) && parsed.is_object() && !parsed.find("id");
    const uint64_t id = self.next_id_++;
    std::weak_ptr<MiHttp*> weak = self.self_;
    std::optional<std::string> answer = self.commands_.handle(
        up->body,
        [weak, id](std::string text) {
          if (const std::shared_ptr<MiHttp*> http = weak.lock()) (*http)->answer_later(id, std::move(text));
        },
        JsonLimits{MiHttp::kMaxBody, 32});
    if (!answer) {
      up->waiting = true;
      up->id = id;
      self.suspended_[id] = MiHttp::Suspended{c, up};
      MHD_suspend_connection(c);
      return MHD_YES;
    }
    ++self.answered_;
    if (up->notification) return queue(c, MHD_HTTP_ACCEPTED, "", nullptr);  // a notification
    return queue(c, MHD_HTTP_OK, *answer, "application/json");
  }
  static void done(void* cls, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
    auto* up = static_cast<Upload*>(*state);
    if (up && up->waiting) static_cast<MiHttp*>(cls)->suspended_.erase(up->id);
    delete up;
    *state = nullptr;
  }
};

bool mi_http_settings(const config::Program& program, MiHttpSettings& out, std::string& error) {
  out = {};
  out.ip = std::string(program.modparam("httpd", "ip"));
  if (program.modparam_set("httpd", "port")) {
    const int64_t port = program.modparam_int("httpd", "port");
    if (port < 1 || port > 65535) {
      error = "httpd: port " + std::to_string(port) + " is not a port";
      return false;
    }
    out.port = uint16_t(port);
  }
  if (program.modparam_set("mi_http", "root")) out.root = std::string(program.modparam("mi_http", "root"));
  for (const char c : out.root)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      error = "mi_http: root \"" + out.root + "\" may hold letters, digits and '_' only";
      return false;
    }
  return true;
}

bool MiHttp::open(const MiHttpSettings& settings, std::string& error) {
  close();
  settings_ = settings;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(settings.port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (!settings.ip.empty() && ::inet_pton(AF_INET, settings.ip.c_str(), &addr.sin_addr) != 1) {
    error = "httpd: ip " + settings.ip + " is not an IPv4 address";
    return false;
  }
  // No thread of its own and one epoll descriptor: control's loop polls it and runs it.
  daemon_ =
      MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME, settings.port, nullptr,
                       nullptr, &MiHttpAccess::call, this, MHD_OPTION_SOCK_ADDR, &addr,
                       MHD_OPTION_NOTIFY_COMPLETED, &MiHttpAccess::done, this, MHD_OPTION_CONNECTION_LIMIT,
                       64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (!daemon_) {
    error = "httpd: cannot listen on " + (settings.ip.empty() ? std::string("*") : settings.ip) + ":" +
            std::to_string(settings.port) + " (in use, or not an address of this host)";
    return false;
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  fd_ = info ? info->epoll_fd : -1;
  return true;
}

bool MiHttp::serve() {
  if (!daemon_) return false;
  const uint64_t before = answered_;
  MHD_run(daemon_);
  return answered_ != before;
}

void MiHttp::answer_later(uint64_t id, std::string text) {
  const auto it = suspended_.find(id);
  if (it == suspended_.end()) return;
  auto* up = static_cast<Upload*>(it->second.upload);
  MHD_Connection* c = it->second.connection;
  suspended_.erase(it);
  up->waiting = false;
  up->ready = true;
  up->answer = std::move(text);
  MHD_resume_connection(c);  // the next MHD_run answers it
}

void MiHttp::close() {
  // A suspended connection must be resumed before the daemon stops: each gets a server error.
  while (!suspended_.empty()) {
    const uint64_t id = suspended_.begin()->first;
    answer_later(
        id,
        R"({"jsonrpc":"2.0","error":{"code":-32000,"message":"Server error","data":"shutting down"},"id":null})");
  }
  if (daemon_) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  fd_ = -1;
}

}  // namespace sipd::control
