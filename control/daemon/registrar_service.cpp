#include "control/daemon/registrar_service.h"
#include "control/daemon/logging.h"

#include <cstdio>

#include "dataplane/sip/endpoint.h"
#include "dataplane/sip/message.h"

namespace sipd::control {

namespace {

// Takes the decision's reason and header lines (the caller is done with them).
Reply reply_of(registrar::Decision& d, bool send) {
  Reply r;
  r.result = d.result;
  if (send && d.send_reply) {
    r.code = d.code;
    r.reason = std::move(d.reason);
    r.headers = std::move(d.headers);
  }
  return r;
}

}  // namespace

registrar::Settings registrar_settings(const config::Program& p) {
  registrar::Settings s;
  s.default_expires = int(p.modparam_int("registrar", "default_expires"));
  s.min_expires = int(p.modparam_int("registrar", "min_expires"));
  s.max_expires = int(p.modparam_int("registrar", "max_expires"));
  if (p.modparam_set("registrar", "default_q")) s.default_q = int(p.modparam_int("registrar", "default_q"));
  s.max_contacts = int(p.modparam_int("registrar", "max_contacts"));
  s.retry_after = int(p.modparam_int("registrar", "retry_after"));
  s.cseq_delay = int(p.modparam_int("usrloc", "cseq_delay"));
  s.use_domain = p.modparam_int("usrloc", "use_domain") != 0;
  s.case_sensitive = p.modparam_int("registrar", "case_sensitive") != 0;
  s.realm_prefix = std::string(p.modparam("registrar", "realm_prefix"));
  s.received_param = std::string(p.modparam("registrar", "received_param"));
  s.sock_hdr_name = std::string(p.modparam("registrar", "sock_hdr_name"));
  return s;
}

RegistrarService::RegistrarService(LocationService& location, const registrar::Settings& settings,
                                   std::string socket, std::function<int64_t()> now)
    : location_(location), settings_(settings), socket_(std::move(socket)), now_(std::move(now)) {}

void RegistrarService::save(const Asked& q, Answer answer) {
  auto fail = [&](uint16_t code, const char* reason, const std::string& why) {
    control_log(-1, "save(): %s", why.c_str());
    ++counters_.failed;
    Reply r;
    r.code = code;
    r.reason = reason;
    answer(std::move(r));
  };
  if (q.args.empty() || q.args[0] != "location") {
    fail(500, "Server Internal Error",
         "table \"" + (q.args.empty() ? std::string() : q.args[0]) +
             "\" is not usrloc's: sipd has \"location\"");
    return;
  }
  registrar::SaveFlags flags;
  std::string error;
  if (q.args.size() > 1 && !registrar::parse_save_flags(q.args[1], flags, error)) {
    fail(500, "Server Internal Error", "flags \"" + q.args[1] + "\": " + error);
    return;
  }
  sip::Message msg;
  if (msg.parse(q.request) != sip::Defect::None) {
    fail(400, "Bad Request", "the REGISTER does not parse");
    return;
  }
  const std::string_view aor_uri = q.args.size() > 2 ? std::string_view(q.args[2]) : std::string_view();
  std::string key;
  if (!registrar::request_aor(msg, aor_uri, settings_, key, error)) {
    // The registrar's own answer for a bad AOR (400 with its reason).
    registrar::Decision d =
        registrar::decide(msg, {}, settings_, flags, now_(), registrar::Source{}, aor_uri);
    ++counters_.refused;
    answer(reply_of(d, !flags.no_reply));
    return;
  }
  char ip[16];
  registrar::Source src;
  src.ip = sip::format_ipv4(q.src_ip, ip);
  src.port = q.src_port;
  src.proto = q.transport == uint8_t(sip::Transport::Tcp)   ? "tcp"
              : q.transport == uint8_t(sip::Transport::Tls) ? "tls"
                                                            : "udp";
  src.socket = socket_;
  location_.bindings(key, current_);
  registrar::Decision d = registrar::decide(msg, current_, settings_, flags, now_(), src, aor_uri, key);
  if (d.code >= 300 || d.changes.empty()) {
    ++(d.code >= 300 ? counters_.refused : counters_.saved);
    answer(reply_of(d, !flags.no_reply));
    return;
  }
  // The reply leaves once the changes are where usrloc's mode wants them (durable, with write-through).
  // Called once: the reply moves out.
  auto durable = [this, answer, reply = reply_of(d, !flags.no_reply)](const std::string& why) mutable {
    if (why.empty()) {
      ++counters_.saved;
      answer(std::move(reply));
      return;
    }
    control_log(-1, "save(): the database refused the change: %s", why.c_str());
    ++counters_.failed;
    Reply r;
    r.code = 500;
    r.reason = "Server Internal Error";
    answer(std::move(r));
  };
  if (!location_.apply(key, std::move(d.changes), d.persist, std::move(durable), error))
    fail(500, "Server Internal Error", error);
}

}  // namespace sipd::control
