#include "control/daemon/uac_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "dataplane/proxy/proxy.h"
#include "dataplane/proxy/steering.h"
#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/message.h"
#include "dataplane/sip/name_addr.h"
#include "dataplane/sip/scalar.h"
#include "dataplane/sip/uri.h"

namespace sipd::control {
namespace {

constexpr uint32_t kDefaultCSeq = 10;         // OpenSIPS's DEFAULT_CSEQ
constexpr int64_t kDataplaneSilentMs = 3000;  // its heartbeat moves once a second

// A worker's questions ring holds every run it can keep waiting plus every result of ours.
static_assert(shm::kRingSlots > proxy::Proxy::kSuspended);
constexpr size_t kMaxPendingBound = shm::kRingSlots - proxy::Proxy::kSuspended;

bool fail(MiError& error, int code, std::string message, std::string data = {}) {
  mi_fail(error, code, std::move(message), std::move(data));
  return false;
}

// "\r" and "\n" typed as backslash and a letter stand for CR and LF (opensips-cli sends headers so).
std::string unescape_crlf(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 1 < in.size() && (in[i + 1] == 'r' || in[i + 1] == 'n')) {
      out += in[i + 1] == 'r' ? '\r' : '\n';
      ++i;
    } else {
      out += in[i];
    }
  }
  return out;
}

// A string parameter, when present; false (with -32602, as OpenSIPS's get_mi_string_param) when it is
// present and not a string.
bool string_param(const Json& params, std::string_view name, std::string_view& out, bool& present,
                  MiError& error) {
  const Json* v = params.find(name);
  present = v != nullptr;
  if (!v) return true;
  if (!v->is_string())
    return fail(error, kMiInvalidParams, "Invalid params", std::string(name) + " is a string");
  out = v->as_string();
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (sip::to_lower(a[i]) != sip::to_lower(b[i])) return false;
  return true;
}

// OpenSIPS's socket syntax: [proto:]host[:port] (port 5060 and proto udp when left out).
bool parse_socket(std::string_view s, std::string_view& proto, std::string_view& host, uint16_t& port) {
  proto = "udp";
  port = 5060;
  const size_t first = s.find(':');
  if (first != std::string_view::npos) {
    const std::string_view head = s.substr(0, first);
    if (iequals(head, "udp") || iequals(head, "tcp") || iequals(head, "tls") || iequals(head, "sctp") ||
        iequals(head, "ws") || iequals(head, "wss") || iequals(head, "bin") || iequals(head, "hep_udp") ||
        iequals(head, "hep_tcp")) {
      proto = head;
      s.remove_prefix(first + 1);
    }
  }
  const size_t colon = s.rfind(':');
  host = s.substr(0, colon);
  if (colon != std::string_view::npos) {
    uint64_t p = 0;
    if (!sip::parse_uint(s.substr(colon + 1), 65535, p) || p == 0) return false;
    port = uint16_t(p);
  }
  return !host.empty();
}

// The line of a header as given, with CRLF, "!!" replaced by our address.
void append_line(std::string& out, std::string_view line, std::string_view address) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '!' && i + 1 < line.size() && line[i + 1] == '!') {
      out += address;
      ++i;
    } else {
      out += line[i];
    }
  }
  out += "\r\n";
}

// "[display ]<uri>params" of a From or To value, as it goes into the request.
std::string name_addr_text(const sip::NameAddr& a) {
  std::string s;
  if (!a.display.empty()) {
    if (a.quoted) s += '"';
    s += a.display;
    s += a.quoted ? "\" " : " ";
  }
  s += '<';
  s += a.uri;
  s += '>';
  s += a.params;
  return s;
}

std::string_view reason_for(uint16_t code) {
  switch (code) {
    case 408:
      return "Request Timeout";
    case 500:
      return "Server Internal Error";
    default:
      return "Unknown";
  }
}

}  // namespace

UacSettings uac_settings(const config::Program& program, uint32_t ip, uint16_t port) {
  const tm::Settings ts = proxy::tm_settings(program, 1, 0);
  UacSettings s;
  s.local_ip = ip;
  s.local_port = port;
  s.fr_ms = ts.fr_ms;
  s.t1_ms = ts.t1_ms;
  s.server = ts.server;
  return s;
}

bool build_uac_request(const Json& params, const UacSettings& s, std::string_view call_id,
                       std::string_view tag, UacRequest& out, MiError& error) {
  std::string_view method, ruri, next_hop, socket, headers_given, body;
  bool has_method, has_ruri, has_next_hop, has_socket, has_headers, has_body;
  if (!string_param(params, "method", method, has_method, error) ||
      !string_param(params, "ruri", ruri, has_ruri, error))
    return false;
  if (!has_method || !has_ruri) return fail(error, kMiInvalidParams, "Invalid params");
  sip::Uri ruri_parsed;
  if (sip::parse_uri(ruri, ruri_parsed) != sip::UriError::None) return fail(error, 400, "Invalid ruri");
  if (!string_param(params, "next_hop", next_hop, has_next_hop, error)) return false;
  sip::Uri hop;
  if (has_next_hop && sip::parse_uri(next_hop, hop) != sip::UriError::None)
    return fail(error, 400, "Invalid next_hop");
  if (!string_param(params, "socket", socket, has_socket, error)) return false;
  char ip[16];
  const std::string address =
      std::string(sip::format_ipv4(s.local_ip, ip)) + ":" + std::to_string(s.local_port);
  if (has_socket && !socket.empty()) {
    std::string_view proto, host;
    uint16_t port = 0;
    if (!parse_socket(socket, proto, host, port)) return fail(error, 404, "Invalid local socket");
    uint32_t host_ip = 0;
    if (!iequals(proto, "udp") || !sip::parse_ipv4(host, host_ip) || host_ip != s.local_ip ||
        port != s.local_port)
      return fail(error, 404, "Local socket not found");
  }
  if (!string_param(params, "headers", headers_given, has_headers, error)) return false;
  if (!has_headers) return fail(error, kMiInvalidParams, "Invalid params");
  if (!string_param(params, "body", body, has_body, error)) return false;

  // The headers, parsed as the header block of a request.
  std::string headers = unescape_crlf(headers_given);
  if (!headers.empty() && headers.back() != '\n') headers += "\r\n";
  const std::string block = "OPTIONS sip:mi@127.0.0.1 SIP/2.0\r\n" + headers + "\r\n";
  auto msg = std::make_unique<sip::Message>();
  if (msg->parse(block) != sip::Defect::None || !msg->body().empty()) return fail(error, 400, "Bad headers");
  bool has_to = false, has_from = false;
  const std::string_view to_value = msg->first_value(sip::HeaderId::To, &has_to);
  const std::string_view from_value = msg->first_value(sip::HeaderId::From, &has_from);
  sip::NameAddr to, from;
  if (has_to && !sip::parse_name_addr(to_value, to)) return fail(error, 400, "Bad headers");
  // OpenSIPS's checks, in its order.
  if (!body.empty() && msg->first(sip::HeaderId::ContentType) == sip::kNoHeader)
    return fail(error, 400, "Content-Type missing");
  if (msg->has_content_length())  // OpenSIPS refuses it with a body; without one it would send two
    return fail(error, 400, "Content-Length disallowed");
  if (!has_to) return fail(error, 400, "To missing");
  if (!has_from) return fail(error, 400, "From missing");
  if (!sip::parse_name_addr(from_value, from)) return fail(error, 400, "Error in From");
  uint32_t cseq = kDefaultCSeq;
  bool has_cseq = false;
  const std::string_view cseq_value = msg->first_value(sip::HeaderId::CSeq, &has_cseq);
  if (has_cseq) {
    sip::CSeq parsed;
    if (!sip::parse_cseq(cseq_value, parsed)) return fail(error, 400, "Bad CSeq number");
    if (parsed.method != method) return fail(error, 400, "CSeq method mismatch");
    cseq = parsed.number;
  }
  bool has_call_id = false;
  const std::string_view given_call_id = sip::trim(msg->first_value(sip::HeaderId::CallId, &has_call_id));

  // What this build does not do.
  if (method.empty() || !sip::is_token(method))
    return fail(error, 400, "Invalid method", "a method is a token");
  if (method == "INVITE" || method == "ACK" || method == "CANCEL")
    return fail(
        error, 501, "Not Implemented",
        std::string(method) + " is not implemented in this build's t_uac_dlg: non-INVITE requests only");
  const sip::Uri& dest = has_next_hop ? hop : ruri_parsed;
  if (dest.scheme == sip::UriScheme::Sips || (!dest.transport.empty() && !iequals(dest.transport, "udp")))
    return fail(error, 501, "Not Implemented", "t_uac_dlg sends over UDP only in this build");
  uint32_t dest_ip = 0;
  if (dest.host_kind != sip::HostKind::IPv4 || !sip::parse_ipv4(dest.host, dest_ip))
    return fail(error, 478, "Unresolvable destination (478/MI/UAC)",
                "the workers resolve no host names: give an IPv4 address in ruri or next_hop");
  out.to = sip::Endpoint{dest_ip, dest.port ? dest.port : uint16_t(5060)};

  // The request, in OpenSIPS's order: Via, From, To, Call-ID, CSeq, Max-Forwards, the headers given,
  // User-Agent, Content-Length.
  std::string& r = out.text;
  r.clear();
  r.append(method).append(" ").append(ruri).append(" SIP/2.0\r\nVia: SIP/2.0/UDP ").append(address);
  r += ";branch=";
  out.branch_at = r.size();
  r += "\r\nFrom: " + name_addr_text(from);
  if (!from.has_tag) r.append(";tag=").append(tag);
  r += "\r\nTo: " + name_addr_text(to) + "\r\n";
  out.call_id = std::string(has_call_id && !given_call_id.empty() ? given_call_id : call_id);
  r += "Call-ID: " + out.call_id + "\r\n";
  r += "CSeq: " + std::to_string(cseq) + " " + std::string(method) + "\r\n";
  if (msg->first(sip::HeaderId::MaxForwards) == sip::kNoHeader) r += "Max-Forwards: 70\r\n";
  for (size_t i = 0; i < msg->header_count(); ++i) {
    const sip::HeaderId id = msg->header(i).id;
    if (id == sip::HeaderId::From || id == sip::HeaderId::To || id == sip::HeaderId::CallId ||
        id == sip::HeaderId::CSeq)
      continue;
    append_line(r, msg->view(msg->header(i).line), address);
  }
  if (!s.server.empty() && msg->first(sip::HeaderId::UserAgent) == sip::kNoHeader)
    r += "User-Agent: " + s.server + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r.append(body);
  return true;
}

Json uac_result(uint16_t code, std::string_view response) {
  Json result = Json::object();
  const size_t eol = response.find("\r\n");
  if (response.empty()) {
    result.set("Status", std::to_string(code) + " " + std::string(reason_for(code)));
    return result;
  }
  auto msg = std::make_unique<sip::Message>();
  if (eol == std::string_view::npos || msg->parse(response) != sip::Defect::None || !msg->is_response()) {
    // Only its status line came back (the whole response was larger than a record).
    const std::string_view line = response.substr(0, eol);
    const size_t sp = line.find(' ');
    result.set("Status",
               sp == std::string_view::npos ? std::to_string(code) : std::string(line.substr(sp + 1)));
    return result;
  }
  result.set("Status", std::to_string(msg->status()) + " " + std::string(msg->reason()));
  if (msg->status() >= 200 && msg->status() < 300) {
    // The dialog this 2xx would confirm (RFC 3261 12.1.2): its target is the Contact, its route set the
    // Record-Route reversed; loose or strict routing by the first route's lr.
    std::string_view contact;
    sip::NameAddr c;
    bool star = false;
    bool has_contact = false;
    const std::string_view contact_value = msg->first_value(sip::HeaderId::Contact, &has_contact);
    if (has_contact && sip::parse_contact(contact_value, c, star) && !star) contact = c.uri;
    std::vector<std::string_view> routes;
    sip::ValueIterator it(*msg, sip::HeaderId::RecordRoute);
    for (std::string_view v; it.next(v);) routes.push_back(v);
    std::reverse(routes.begin(), routes.end());
    std::string_view ruri = contact, next_hop = contact;
    std::vector<std::string> shown;
    if (!routes.empty()) {
      sip::NameAddr first;
      sip::Uri first_uri;
      const bool parsed = sip::parse_name_addr(routes[0], first) &&
                          sip::parse_uri(first.uri, first_uri) == sip::UriError::None;
      if (parsed && first_uri.lr) {
        next_hop = first.uri;
        for (std::string_view r : routes) shown.emplace_back(r);
      } else if (parsed) {
        ruri = next_hop = first.uri;
        if (routes.size() > 1) {  // OpenSIPS prints the rest, then the remote target, when there is a rest
          for (size_t i = 1; i < routes.size(); ++i) shown.emplace_back(routes[i]);
          shown.push_back("<" + std::string(contact) + ">");
        }
      }
    }
    if (!ruri.empty()) result.set("RURI", ruri);
    if (!next_hop.empty()) result.set("Next-hop", next_hop);
    if (!shown.empty()) {
      Json& list = result.set("Routes", Json::array());
      for (std::string& r : shown) list.push(std::move(r));
    }
  }
  result.set("Message", response.substr(eol + 2));
  return result;
}

UacService::UacService(Questions& questions, const shm::Segment& segment, UacSettings settings)
    : questions_(questions),
      segment_(segment),
      settings_(std::move(settings)),
      random_(std::random_device{}()) {
  settings_.max_pending = std::min(settings_.max_pending, kMaxPendingBound);
  questions_.on_uac_result([this](uint32_t worker, const shm::UacResultRecord& r) { result(worker, r); });
  seen_beat_ = segment_.header().dataplane.heartbeat.load(std::memory_order_relaxed);
}

int64_t UacService::now() const {
  if (settings_.now_ms) return settings_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void UacService::add_commands(CommandTable& table) {
  MiSignature sig;
  sig.names = {"method", "ruri", "headers", "next_hop", "socket", "body"};
  sig.required = 3;
  sig.named_only = true;
  sig.ways = {{"method", "ruri", "headers"},
              {"method", "ruri", "headers", "next_hop"},
              {"method", "ruri", "headers", "socket"},
              {"method", "ruri", "headers", "body"},
              {"method", "ruri", "headers", "next_hop", "socket"},
              {"method", "ruri", "headers", "next_hop", "body"},
              {"method", "ruri", "headers", "socket", "body"},
              {"method", "ruri", "headers", "next_hop", "socket", "body"}};
  table.add_async("t_uac_dlg", std::move(sig),
                  [this](const Json& params, MiCompletion done) { command(params, std::move(done)); });
  table.describe("t_uac_dlg",
                 "sends a request of its own through tm and answers with its final response (non-INVITE)",
                 "tm");
}

bool UacService::dataplane_alive(int64_t t) {
  const shm::Header& h = segment_.header();
  const uint64_t beat = h.dataplane.heartbeat.load(std::memory_order_relaxed);
  if (beat != seen_beat_) {
    seen_beat_ = beat;
    beat_changed_ms_ = t;
  }
  return h.dataplane.pid.load(std::memory_order_relaxed) != 0 &&
         h.active_workers.load(std::memory_order_relaxed) > 0 && t - beat_changed_ms_ < kDataplaneSilentMs;
}

void UacService::command(const Json& params, MiCompletion done) {
  char call_id[64], tag[24];
  const uint64_t a = random_(), b = ++sequence_;
  char ip[16];
  std::snprintf(call_id, sizeof call_id, "%016llx-%llu@%s", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b),
                std::string(sip::format_ipv4(settings_.local_ip, ip)).c_str());
  std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(random_()));
  UacRequest req;
  MiError error;
  if (!build_uac_request(params, settings_, call_id, tag, req, error)) return done.fail(error);
  const int64_t t = now();
  if (!dataplane_alive(t))
    return done.fail(
        MiError{500, "MI/UAC failed", "no dataplane is running: the request goes out through a worker"});
  if (pending_.size() >= settings_.max_pending)
    return done.fail(
        MiError{kMiServerBusy, "Server busy",
                std::to_string(pending_.size()) + " t_uac_dlg requests wait for their final response"});
  const uint32_t workers =
      std::min(segment_.header().active_workers.load(std::memory_order_relaxed), shm::kMaxWorkers);
  const uint32_t worker = proxy::call_id_hash(req.call_id) % workers;  // the worker that owns the Call-ID
  uint32_t ticket = next_ticket_++;
  while (ticket == 0 || pending_.count(ticket)) ticket = next_ticket_++;
  shm::UacRequestRecord rec;
  rec.id = ticket;
  rec.dst_ip = req.to.ip;
  rec.dst_port = req.to.port;
  rec.branch_at = uint32_t(req.branch_at);
  rec.request = req.text;
  if (!questions_.send_uac(worker, rec))
    return done.fail(MiError{
        500, "MI/UAC failed",
        "the request takes " + std::to_string(req.text.size()) + " bytes, more than a ring record holds"});
  if (!done.deferred()) return done(Json("Accepted"));  // a transport that cannot wait: OpenSIPS's answer
  pending_.emplace(ticket, Pending{std::move(done), t + wait_bound_ms()});
}

void UacService::result(uint32_t, const shm::UacResultRecord& r) {
  const auto it = pending_.find(r.id);
  if (it == pending_.end()) return;  // timed out already, or asked without waiting
  const MiCompletion done = std::move(it->second.done);
  pending_.erase(it);
  if (r.code == 0) return done.fail(MiError{500, "MI/UAC failed", std::string(r.reason)});
  done(uac_result(r.code, r.response));
}

bool UacService::poll() {
  const int64_t t = now();
  (void)dataplane_alive(t);
  bool did = false;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (t < it->second.deadline_ms) {
      ++it;
      continue;
    }
    const MiCompletion done = std::move(it->second.done);
    it = pending_.erase(it);
    done(uac_result(408, {}));  // no final came back: what tm says when nothing answers
    did = true;
  }
  return did;
}

}  // namespace sipd::control
