#include "control/cli/dry_run.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "config/checker.h"
#include "config/program.h"
#include "config/registry.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/sip/message.h"
#include "dataplane/tm/tm.h"

// Performance notes: none; this is the operator's tool. It uses the worker's proxy and transaction layer
// as they are, so what it prints is what the dataplane would do with the same messages.

namespace sipd::cli {
namespace {

constexpr sip::Endpoint kDefaultLocal{0xC6120001u, 5060};  // 198.18.0.1:5060, the testbed's address
constexpr uint64_t kStepMs = 10;                           // the fake clock moves this much per message

std::string escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else
      out += c;
  }
  return out;
}

std::string endpoint_text(const sip::Endpoint& e) {
  char ip[16];
  return std::string(sip::format_ipv4(e.ip, ip)) + ":" + std::to_string(e.port);
}

bool parse_endpoint(const std::string& text, sip::Endpoint& out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  char* end = nullptr;
  const long port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (!end || *end || port <= 0 || port > 65535) return false;
  out.port = uint16_t(port);
  return sip::parse_ipv4(text.substr(0, colon), out.ip);
}

std::string_view first_line(std::string_view bytes) { return bytes.substr(0, bytes.find("\r\n")); }

std::string level_name(int level) {
  switch (level) {
    case -3:
      return "L_ALERT";
    case -2:
      return "L_CRIT";
    case -1:
      return "L_ERR";
    case 1:
      return "L_WARN";
    case 2:
      return "L_NOTICE";
    case 3:
      return "L_INFO";
    case 4:
      return "L_DBG";
    default:
      return std::to_string(level);
  }
}

struct Datagram {
  sip::Endpoint to;
  std::string bytes;
};

// The whole run: the proxy and its transaction layer, with this as their sender, observer and the
// stand-in for what lies outside.
class Run final : public proxy::Sender, public proxy::Proxy::Observer {
 public:
  Run(const config::Program& program, const proxy::Settings& settings, const DryRunOptions& options)
      : options_(options), proxy_(program, settings, *this) {
    layer_ = std::make_unique<tm::Layer>(proxy::tm_settings(program, 64, 0), proxy_, proxy_, now_);
    proxy_.attach(layer_.get());
    proxy_.set_time(now_);
    proxy_.set_observer(this);
    proxy_.vm().bind_unbound(stand_in, this);
    // What the control process answers, and the reads of its location table: a dry run has neither.
    for (const std::string_view name : config::control_answers()) bind_stand_in(name);
    for (const std::string_view name : {"lookup", "registered", "is_registered"}) bind_stand_in(name);
    if (program.find_route(config::RouteKind::Startup, "") >= 0) {
      std::printf("=== startup_route ===\n");
      proxy_.run_startup();
    }
  }

  // One message from `from`; prints what happened.
  void message(std::string bytes, const sip::Endpoint& from) {
    const size_t before = sent_.size();
    const proxy::Counters c0 = proxy_.counters();
    const tm::Counters t0 = layer_->counters();
    proxy_.handle(from, bytes);
    tick(kStepMs);
    verdict(c0, t0, before);
  }

  // The clock runs on: timers fire (retransmissions, timeouts, the ends of transactions).
  void advance(uint64_t ms) {
    for (uint64_t done = 0; done < ms; done += 100) tick(std::min<uint64_t>(100, ms - done));
  }

  // Where the last request sipd sent went, and its Via lines, for a response that answers it.
  const Datagram* last_request(std::string_view call_id) const {
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      sip::Message m;
      if (m.parse(it->bytes) == sip::Defect::None && m.is_request() &&
          (call_id.empty() || m.first_value(sip::HeaderId::CallId) == call_id))
        return &*it;
    }
    return nullptr;
  }

  // proxy::Sender
  void send(const sip::Endpoint& to, std::string_view bytes) override {
    sent_.push_back({to, std::string(bytes)});
    std::printf("--- sent to %s at %llu ms ---\n%.*s%s", endpoint_text(to).c_str(),
                static_cast<unsigned long long>(now_), int(bytes.size()), bytes.data(),
                bytes.ends_with("\n") ? "" : "\n");
  }

  // Observer
  void logged(int level, std::string_view text) override {
    while (text.ends_with('\n')) text.remove_suffix(1);
    std::printf("log[%s]: %.*s\n", level_name(level).c_str(), int(text.size()), text.data());
  }
  void called(const config::FunctionSpec& fn, std::span<const engine::Value> args, int64_t result,
              engine::VmState& st) override {
    if (fn.impl != config::Impl::Worker || fn.name == "lookup" || fn.name == "registered" ||
        fn.name == "is_registered")
      return;                                           // the stand-in has said it
    if (fn.name == "xlog" || fn.name == "log") return;  // its line is printed
    std::printf("call: %s = %s\n", shown(fn, args, st).c_str(), result_text(result).c_str());
  }

 private:
  static std::string shown(const config::FunctionSpec& fn, std::span<const engine::Value> args,
                           engine::VmState& st) {
    std::string s = std::string(fn.name) + "(";
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string a = escaped(engine::to_text(st, args[i]));
      s += (i ? ", " : "") + (args[i].kind == engine::Value::Kind::Str ? "\"" + a + "\"" : a);
    }
    return s + ")";
  }

  static std::string result_text(int64_t r) {
    return r == engine::Host::kSuspend ? "suspended" : std::to_string(r);
  }

  void bind_stand_in(std::string_view name) {
    const engine::BodyEntry e{name, stand_in};
    (void)proxy_.vm().bind(std::span(&e, 1), this);
  }

  // A function this build has no body for, or whose answer lies outside a dry run (the control process, its
  // location table): it answers what --answer says (1 by default), and says so.
  static int64_t stand_in(engine::Call& c) {
    Run& run = *static_cast<Run*>(c.self);
    const auto it = run.options_.answers.find(std::string(c.fn.name));
    const int64_t answer = it == run.options_.answers.end() ? 1 : it->second;
    const std::string module(c.fn.modules.substr(0, c.fn.modules.find('|')));
    const std::string why = c.fn.impl == config::Impl::Worker
                                ? std::string(c.fn.name) + "() (" + module +
                                      ") reads the location table, which a dry run does not have"
                            : c.fn.impl == config::Impl::Control && config::answered_by_control(c.fn.name)
                                ? std::string(c.fn.name) + "() (" + module +
                                      ") is answered by the control process, which a dry run does not have"
                                : config::unimplemented_message(c.fn);
    std::printf("stand-in: %s = %lld: %s; the dry run answers %lld (--answer %.*s=N to change it)\n",
                shown(c.fn, c.args, c.st).c_str(), static_cast<long long>(answer), why.c_str(),
                static_cast<long long>(answer), int(c.fn.name.size()), c.fn.name.data());
    return answer;
  }

  void tick(uint64_t ms) {
    now_ += ms;
    proxy_.set_time(now_);
    layer_->advance(now_);
    while (proxy_.run_timers(now_))
      std::printf("(a timer_route ran at %llu ms)\n", static_cast<unsigned long long>(now_));
  }

  // What became of the message, from what the proxy and the transaction layer counted meanwhile.
  void verdict(const proxy::Counters& c0, const tm::Counters& t0, size_t before) const {
    const proxy::Counters& c = proxy_.counters();
    const tm::Counters& t = layer_->counters();
    std::string v;
    auto add = [&](const std::string& what) { v += (v.empty() ? "" : "; ") + what; };
    if (c.parse_errors > c0.parse_errors) add("the message core answered it before the script ran");
    if (c.dropped[size_t(proxy::Drop::ParseError)] > c0.dropped[size_t(proxy::Drop::ParseError)])
      add("the message core dropped it (a malformed response)");
    if (c.forwarded > c0.forwarded) add("forwarded statelessly");
    if (c.relayed > c0.relayed)
      add("relayed statefully (" + std::to_string(t.branches - t0.branches) + " branch(es))");
    if (c.replies_sent > c0.replies_sent) add("answered " + codes(before));
    if (c.responses_relayed > c0.responses_relayed) add("the response went back by Via, statelessly");
    if (t.responses_forwarded > t0.responses_forwarded && c.replies_sent == c0.replies_sent)
      add("the transaction passed the response upstream");
    if (t.responses_absorbed > t0.responses_absorbed) add("the transaction absorbed the response");
    if (t.retransmissions_absorbed > t0.retransmissions_absorbed)
      add("a retransmission: the transaction answered it again");
    if (t.acks_absorbed > t0.acks_absorbed || c.acks_absorbed > c0.acks_absorbed)
      add("the ACK of a final answer: absorbed");
    if (t.cancels > t0.cancels) add("a CANCEL of a pending INVITE: answered 200 and the branches cancelled");
    static constexpr std::pair<proxy::Drop, const char*> kDrops[] = {
        {proxy::Drop::NotOurVia, "dropped: a response whose top Via is not sipd's"},
        {proxy::Drop::NoNextVia, "dropped: a response with no Via to go back to"},
        {proxy::Drop::Broadcast, "dropped: the destination is a broadcast or multicast address"},
        {proxy::Drop::NoDestination, "dropped: the destination is not an IPv4 address over UDP"},
        {proxy::Drop::Script, "the script ended without forwarding, relaying or replying"},
        {proxy::Drop::ScriptError, "the run failed"},
        {proxy::Drop::BuildFailed, "dropped: the edited message could not be built"},
    };
    for (const auto& [d, text] : kDrops)
      if (c.dropped[size_t(d)] > c0.dropped[size_t(d)]) add(text);
    if (c.suspensions > c0.suspensions) add("the script waited for an answer");
    std::printf("verdict: %s\n", v.empty() ? "nothing left sipd" : v.c_str());
  }

  std::string codes(size_t from) const {
    std::string out;
    for (size_t i = from; i < sent_.size(); ++i) {
      const std::string_view line = first_line(sent_[i].bytes);
      if (line.starts_with("SIP/2.0 ")) out += (out.empty() ? "" : ", ") + std::string(line.substr(8));
    }
    return out.empty() ? "(no reply left)" : out;
  }

  const DryRunOptions& options_;
  proxy::Proxy proxy_;
  std::unique_ptr<tm::Layer> layer_;
  uint64_t now_ = 1000;
  std::vector<Datagram> sent_;
};

// A reply file answers the request sipd relayed: it gets that request's Via lines, as a callee copies
// them, so it matches the branch sipd made (the file's own Via lines are replaced).
std::string as_answer(const std::string& response, const Datagram& request) {
  sip::Message req, rsp;
  if (req.parse(request.bytes) != sip::Defect::None || rsp.parse(response) != sip::Defect::None)
    return response;
  std::string vias;
  for (size_t i = 0; i < req.header_count(); ++i)
    if (req.header(i).id == sip::HeaderId::Via) vias += std::string(req.view(req.header(i).line));
  std::string out(rsp.view(rsp.start_line_span()));
  out += "\r\n" + vias;
  for (size_t i = 0; i < rsp.header_count(); ++i)
    if (rsp.header(i).id != sip::HeaderId::Via) out += std::string(rsp.view(rsp.header(i).line));
  out += "\r\n";
  out += rsp.body();
  return out;
}

}  // namespace

int dry_run(const DryRunOptions& opt) {
  std::string script_text;
  if (!config::read_file(opt.script_path, script_text)) {
    std::fprintf(stderr, "sipctl: cannot read %s\n", opt.script_path.c_str());
    return 2;
  }
  std::vector<std::string> messages;
  for (const DryRunMessage& m : opt.messages) {
    std::string bytes;
    if (!config::read_file(m.path, bytes)) {
      std::fprintf(stderr, "sipctl: cannot read %s\n", m.path.c_str());
      return 2;
    }
    // A file written with bare line feeds gets the CRLFs SIP needs.
    if (bytes.find("\r\n") == std::string::npos) {
      std::string crlf;
      for (char c : bytes) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
      bytes = std::move(crlf);
    }
    messages.push_back(std::move(bytes));
  }
  if (opt.proto != "udp") {
    std::fprintf(stderr, "sipctl: --proto %s: this build takes SIP over UDP only\n", opt.proto.c_str());
    return 2;
  }
  const config::SourceFile file(opt.script_path, script_text);
  config::Diagnostics diags;
  config::Program program =
      config::compile_source(file, diags, nullptr, config::CheckOptions{.refuse_unimplemented = false});
  std::fputs(diags.render(file).c_str(), stderr);
  if (!diags.ok()) return 1;
  if (program.routes.empty() || program.routes[0].kind != config::RouteKind::Request ||
      !program.routes[0].name.empty()) {
    std::fprintf(stderr, "%s: the script has no main route\n", opt.script_path.c_str());
    return 1;
  }
  // sipd's address: the script's first IPv4 listen=, else the testbed's.
  proxy::Settings settings;
  settings.local = kDefaultLocal;
  for (size_t i = 0; i < program.local_hosts.size(); ++i) {
    uint32_t ip = 0;
    if (!sip::parse_ipv4(program.local_hosts[i], ip)) continue;
    settings.local.ip = ip;
    if (i < program.local_ports.size()) settings.local.port = program.local_ports[i];
    break;
  }
  settings.server_header = std::string(program.modparam("", "server_header"));
  char ip[16];
  program.local_hosts.emplace_back(sip::format_ipv4(settings.local.ip, ip));
  program.local_ports.push_back(settings.local.port);
  std::printf("sipd at %s\n", endpoint_text(settings.local).c_str());

  Run run(program, settings, opt);
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string bytes = messages[i];
    sip::Endpoint from{0xC6120002u, 5060};  // 198.18.0.2:5060 unless --src says otherwise
    sip::Message peek;
    const bool parsed = peek.parse(bytes) == sip::Defect::None;
    if (!opt.messages[i].src.empty()) {
      if (!parse_endpoint(opt.messages[i].src, from)) {
        std::fprintf(stderr, "sipctl: --src takes IP:PORT (IPv4), not %s\n", opt.messages[i].src.c_str());
        return 2;
      }
    } else if (parsed && peek.is_response()) {
      // A response comes from where sipd sent the request it answers, with that request's Via lines.
      if (const Datagram* req = run.last_request(peek.first_value(sip::HeaderId::CallId))) {
        from = req->to;
        bytes = as_answer(bytes, *req);
        std::printf("(%s answers the request sipd sent to %s: it carries that request's Via lines)\n",
                    opt.messages[i].path.c_str(), endpoint_text(from).c_str());
      }
    }
    std::printf("=== %zu: %s from %s ===\n", i + 1, std::string(first_line(bytes)).c_str(),
                endpoint_text(from).c_str());
    run.message(std::move(bytes), from);
  }
  if (opt.advance_ms) {
    std::printf("=== the clock runs on %u ms ===\n", opt.advance_ms);
    run.advance(opt.advance_ms);
  }
  return 0;
}

}  // namespace sipd::cli
