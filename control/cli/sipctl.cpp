// sipctl: the operator's command line for sipd. For now it checks and dry-runs routing scripts:
//
//   sipctl config check FILE [--appliance APPLIANCE.conf]
//                                every error with FILE:LINE:COL and a caret, or a one-line summary; with
//                                the appliance settings, listen= lines must name the appliance's address
//   sipctl config test FILE [--src IP:PORT] --message MSG [[--src IP:PORT] --message MSG2 ...]
//                          [--answer FUNCTION=N ...] [--advance MS]
//                                runs the messages (bytes as on the wire; a response answers the request
//                                sipd last sent) through the dataplane's own proxy and transaction code and
//                                prints every log line, every function called and what it returned, every
//                                datagram that would leave, and what became of each message. Functions this
//                                build has no body for are stood in for (answering N, 1 by default) and
//                                labelled. No network.
//   sipctl config push FILE [--json] [--socket PATH | --appliance APPLIANCE.conf]
//                                compiles FILE in the running sipd-control and, when it compiles, every
//                                worker switches to it between two bursts (transactions keep the script
//                                they started with); waits until they have, then says how long it took.
//                                A script with errors changes nothing: every error, FILE:LINE:COL
//   sipctl config show [--json] [--socket PATH | --appliance APPLIANCE.conf]
//                                the running script's file, its generation and what each worker runs
//   sipctl mi CMD [ARG... | NAME=VALUE...] [--socket PATH | --appliance APPLIANCE.conf]
//                                any MI command (OpenSIPS's names: log_level, ps, which, help...); its
//                                arguments as opensips-cli sends them, the result printed as JSON
//   sipctl debug LEVEL | ps | uptime [--json] [--socket PATH | --appliance APPLIANCE.conf]
//                                log_level (and xlog_level) for every process, the process list, the
//                                uptime, for people
//   sipctl stats [GROUP | NAME] [--json] [--socket PATH | --appliance APPLIANCE.conf]
//                                statistics with OpenSIPS's names (MI get_statistics): all, one group
//                                (core, sl, tm, usrloc, registrar, net, dataplane) or one statistic
//   sipctl ul show [AOR] [--json] [--socket PATH | --appliance APPLIANCE.conf]
//                                the registered contacts (every AOR, or one) from the running sipd-control,
//                                as a table, or with --json the management interface's answer as is
//                                (OpenSIPS's ul_dump / ul_show_contact shapes)
//   sipctl ul rm AOR [--socket PATH | --appliance APPLIANCE.conf]
//                                removes the AOR and all its contacts (OpenSIPS's ul_rm)
//
// The ul commands and config push/show talk JSON-RPC to sipd-control's management socket (control.socket in
// the appliance settings, /run/sipd/control.sock by default). Exit status: 0 when the script is valid or the
// command did what it says, 1 when the script has errors, sipd-control is not running or answers an error, 2
// on a usage error.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/appliance.h"
#include "config/checker.h"
#include "config/parser.h"
#include "config/source.h"
#include "control/cli/dry_run.h"
#include "control/mi/json.h"

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: sipctl config check FILE [--appliance APPLIANCE.conf]\n"
      "         check a routing script: prints every error, or a summary of its routes and modules\n"
      "       sipctl config test FILE [--src IP:PORT] --message MSG [[--src IP:PORT] --message MSG ...]\n"
      "                          [--answer FUNCTION=N ...] [--advance MS]\n"
      "         dry-run the script over messages: log lines, calls and results, every datagram sipd\n"
      "         would send, what became of each message\n"
      "       sipctl config push FILE [--json] [--socket PATH | --appliance APPLIANCE.conf]\n"
      "         compile FILE in the running sipd-control and switch every worker to it\n"
      "       sipctl config show [--json] [--socket PATH | --appliance APPLIANCE.conf]\n"
      "         the running script, its generation and what each worker runs\n"
      "       sipctl mi CMD [ARG... | NAME=VALUE...] [--socket PATH | --appliance APPLIANCE.conf]\n"
      "         any MI command, its arguments as opensips-cli sends them; the result as JSON\n"
      "       sipctl debug LEVEL | ps | uptime [--json] [--socket PATH | --appliance APPLIANCE.conf]\n"
      "         set every process's log level (-3..4), list sipd's processes, say how long it has run\n"
      "       sipctl stats [GROUP | NAME] [--json] [--socket PATH | --appliance APPLIANCE.conf]\n"
      "         statistics as OpenSIPS names them: all, a group (core, tm, usrloc...) or one\n"
      "       sipctl ul show [AOR] [--json] [--socket PATH | --appliance APPLIANCE.conf]\n"
      "         the registered contacts of every AOR (or of one), from the running sipd-control\n"
      "       sipctl ul rm AOR [--socket PATH | --appliance APPLIANCE.conf]\n"
      "         remove an AOR and all its contacts\n");
  return 2;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

int config_check(const char* path, const char* appliance_path) {
  std::string text;
  if (!sipd::config::read_file(path, text)) {
    std::fprintf(stderr, "sipctl: cannot read %s\n", path);
    return 2;
  }
  const sipd::config::SourceFile file(path, std::move(text));
  sipd::config::Diagnostics diags;
  const sipd::config::CheckSummary summary = sipd::config::compile_check(file, diags);
  if (appliance_path) {
    sipd::config::Appliance appliance;
    std::string error;
    if (!sipd::config::load_appliance(appliance_path, appliance, error)) {
      std::fprintf(stderr, "sipctl: %s\n", error.c_str());
      return 2;
    }
    sipd::config::Diagnostics ignored;  // compile_check has reported the script's own errors
    const sipd::config::Script ast = sipd::config::parse_script(file, ignored);
    sipd::config::check_against_appliance(file, ast, appliance, diags);
  }
  std::fputs(diags.render(file).c_str(), stderr);
  if (!diags.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", path, diags.error_count());
    return 1;
  }
  std::printf("%s: OK: %zu route(s) (%s); %zu module(s) (%s)\n", path, summary.routes.size(),
              join(summary.routes).c_str(), summary.modules.size(), join(summary.modules).c_str());
  return 0;
}

// ---- talking to sipd-control ---------------------------------------------------------------------------

using sipd::control::Json;

constexpr const char* kDefaultSocket = "/run/sipd/control.sock";
constexpr int kAnswerWaitMs = 30000;  // a dump of a large table takes a while to build and send

// One JSON-RPC call over the management socket. 0 with the result, or 1 with a message for people.
int mi_call(const std::string& path, const char* method, Json params, Json& result, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    error = "bad socket path '" + path + "'";
    return 1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return 1;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
      error = "sipd-control is not running (no socket at " + path + ")";
    else if (e == EACCES || e == EPERM)
      error =
          "cannot connect to " + path + ": " + std::strerror(e) + " (run as root or in the socket's group)";
    else
      error = "cannot connect to " + path + ": " + std::strerror(e);
    return 1;
  }
  Json request = Json::object();
  request.set("jsonrpc", "2.0");
  request.set("method", method);
  request.set("params", std::move(params));
  request.set("id", 1);
  const std::string text = request.dump() + "\n";
  for (size_t at = 0; at < text.size();) {
    const ssize_t n = ::send(fd, text.data() + at, text.size() - at, MSG_NOSIGNAL);
    if (n <= 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("sending to sipd-control: ") + std::strerror(errno);
      ::close(fd);
      return 1;
    }
    at += size_t(n);
  }
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAnswerWaitMs);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, int(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      error = "sipd-control did not answer within " + std::to_string(kAnswerWaitMs / 1000) + " s";
      ::close(fd);
      return 1;
    }
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("reading from sipd-control: ") + std::strerror(errno);
      ::close(fd);
      return 1;
    }
    if (n == 0) break;
    answer.append(buf, size_t(n));
  }
  ::close(fd);
  sipd::control::JsonLimits limits;
  limits.max_bytes = answer.size();  // answers are ours: only requests are bounded
  Json response;
  std::string why;
  if (!Json::parse(answer, response, why, limits)) {
    error = "sipd-control sent an answer that is not JSON (" + why + ")";
    return 1;
  }
  if (const Json* e = response.find("error")) {
    error = std::string(e->find("message") ? e->find("message")->as_string() : "error");
    if (const Json* data = e->find("data"); data && data->is_string())
      error += ": " + std::string(data->as_string());
    return 1;
  }
  const Json* r = response.find("result");
  if (!r) {
    error = "sipd-control's answer has neither a result nor an error";
    return 1;
  }
  result = *r;
  return 0;
}

// What a terminal can show: control characters (a User-Agent is the client's to choose) become '?'.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (uint8_t(c) < 0x20 || c == 0x7F) c = '?';
  return out;
}

std::string text_of(const Json* v) {
  if (!v) return "";
  if (v->is_string()) return printable(v->as_string());
  return v->dump();
}

// The table for people: one line per contact, then its received address and Path when it has them.
void print_contacts(const std::vector<const Json*>& aors) {
  struct Row {
    std::string aor, contact, expires, q, user_agent, received, path;
  };
  std::vector<Row> rows;
  size_t contacts = 0;
  for (const Json* aor : aors) {
    const std::string name = text_of(aor->find("AOR"));
    const Json* list = aor->find("Contacts");
    if (!list) continue;
    for (const Json& c : list->items()) {
      ++contacts;
      rows.push_back({name, text_of(c.find("Contact")), text_of(c.find("Expires")), text_of(c.find("Q")),
                      text_of(c.find("User-agent")), text_of(c.find("Received")), text_of(c.find("Path"))});
    }
  }
  size_t w_aor = 3, w_contact = 7, w_expires = 11, w_q = 1;
  for (const Row& r : rows) {
    w_aor = std::max(w_aor, r.aor.size());
    w_contact = std::max(w_contact, r.contact.size());
    w_expires = std::max(w_expires, r.expires.size());
    w_q = std::max(w_q, r.q.size());
  }
  const auto line = [&](const std::string& aor, const std::string& contact, const std::string& expires,
                        const std::string& q, const std::string& user_agent) {
    std::string out;
    const auto cell = [&](const std::string& text, size_t width) {
      out += text;
      out.append(width + 2 - std::min(width, text.size()), ' ');
    };
    cell(aor, w_aor);
    cell(contact, w_contact);
    cell(expires, w_expires);
    cell(q, w_q);
    out += user_agent;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::puts(out.c_str());
  };
  if (!rows.empty()) {
    line("AOR", "CONTACT", "EXPIRES (s)", "Q", "USER-AGENT");
    for (const Row& r : rows) {
      line(r.aor, r.contact, r.expires, r.q, r.user_agent);
      if (!r.received.empty()) std::printf("%*s  received %s\n", int(w_aor), "", r.received.c_str());
      if (!r.path.empty()) std::printf("%*s  path %s\n", int(w_aor), "", r.path.c_str());
    }
  }
  std::printf("%zu AOR(s), %zu contact(s)\n", aors.size(), contacts);
}

int ul_show(const std::string& socket, const char* aor, bool json) {
  Json result;
  std::string error;
  const int rc =
      aor ? mi_call(socket, "ul_show_contact", Json(Json::Array{Json("location"), Json(aor)}), result, error)
          : mi_call(socket, "ul_dump", Json(), result, error);
  if (rc != 0) {
    std::fprintf(stderr, "sipctl: %s%s%s\n", error.c_str(), aor ? ": " : "", aor ? aor : "");
    return rc;
  }
  if (json) {
    std::printf("%s\n", result.dump().c_str());
    return 0;
  }
  std::vector<const Json*> aors;
  if (aor) {
    aors.push_back(&result);
  } else if (const Json* domains = result.find("Domains")) {
    for (const Json& d : domains->items())
      if (const Json* list = d.find("AORs"))
        for (const Json& a : list->items()) aors.push_back(&a);
  }
  print_contacts(aors);
  return 0;
}

int ul_rm(const std::string& socket, const char* aor) {
  // What is about to go, so the operator is told what was removed.
  Json shown;
  std::string error;
  if (mi_call(socket, "ul_show_contact", Json(Json::Array{Json("location"), Json(aor)}), shown, error) != 0) {
    std::fprintf(stderr, "sipctl: %s: %s\n", error.c_str(), aor);
    return 1;
  }
  Json ok;
  if (mi_call(socket, "ul_rm", Json(Json::Array{Json("location"), Json(aor)}), ok, error) != 0) {
    std::fprintf(stderr, "sipctl: %s: %s\n", error.c_str(), aor);
    return 1;
  }
  const Json* contacts = shown.find("Contacts");
  std::printf("removed %s and its %zu contact(s)\n", text_of(shown.find("AOR")).c_str(),
              contacts ? contacts->size() : 0);
  if (contacts)
    for (const Json& c : contacts->items()) std::printf("  %s\n", text_of(c.find("Contact")).c_str());
  return 0;
}

// What the commands that talk to sipd-control take besides their own word: one free argument (an AOR, a
// file), --json, and where the socket is.
struct ControlArgs {
  const char* word = nullptr;
  bool json = false;
  std::string socket = kDefaultSocket;
};

bool parse_control_args(int argc, char** argv, int from, ControlArgs& out, std::string& error) {
  const char* appliance_path = nullptr;
  bool socket_given = false;
  for (int i = from; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--json") {
      out.json = true;
    } else if ((arg == "--socket" || arg == "--appliance") && i + 1 < argc) {
      if (arg == "--socket") {
        out.socket = argv[++i];
        socket_given = true;
      } else {
        appliance_path = argv[++i];
      }
    } else if (!arg.empty() && arg[0] != '-' && !out.word) {
      out.word = argv[i];
    } else {
      return false;
    }
  }
  if (socket_given && appliance_path) return false;
  if (appliance_path) {
    sipd::config::Appliance appliance;
    if (!sipd::config::load_appliance(appliance_path, appliance, error)) return true;
    out.socket = appliance.control_socket;
  }
  return true;
}

// 0 when argv[from..] are ControlArgs; else what the command exits with (2: usage, or settings that do not
// load), said on stderr.
int control_args(int argc, char** argv, int from, ControlArgs& out) {
  std::string error;
  if (!parse_control_args(argc, argv, from, out, error)) return usage();
  if (error.empty()) return 0;
  std::fprintf(stderr, "sipctl: %s\n", error.c_str());
  return 2;
}

// One MI command for the commands below: false after saying on stderr why it failed ("sipctl: WHY", or
// "sipctl: CONTEXT: WHY").
bool ask(const ControlArgs& a, const char* method, Json params, Json& result, const char* context = nullptr) {
  std::string error;
  if (mi_call(a.socket, method, std::move(params), result, error) == 0) return true;
  if (context)
    std::fprintf(stderr, "sipctl: %s: %s\n", context, error.c_str());
  else
    std::fprintf(stderr, "sipctl: %s\n", error.c_str());
  return false;
}

// The answer as JSON for scripts (--json), else as `print` shows it to people.
void show(const ControlArgs& a, const Json& result, void (*print)(const Json&)) {
  if (a.json)
    std::printf("%s\n", result.dump().c_str());
  else
    print(result);
}

// sipctl ul show|rm ...: 2 on a usage error.
int ul_command(int argc, char** argv) {
  const std::string_view verb = argv[2];
  ControlArgs a;
  if (const int rc = control_args(argc, argv, 3, a)) return rc;
  if (verb == "show") return ul_show(a.socket, a.word, a.json);
  if (verb == "rm" && a.word && !a.json) return ul_rm(a.socket, a.word);
  return usage();
}

// What each worker runs, for people.
void print_status(const Json& status) {
  std::printf("script %s, generation %s: %s", text_of(status.find("file")).c_str(),
              text_of(status.find("generation")).c_str(), text_of(status.find("state")).c_str());
  if (const Json* l = status.find("latency_us"))
    std::printf(" (%.1f ms from publishing it to the last worker switched)", double(l->as_int()) / 1000);
  std::printf("\n");
  if (const Json* m = status.find("message")) std::printf("  %s\n", text_of(m).c_str());
  if (const Json* workers = status.find("workers"))
    for (const Json& w : workers->items()) {
      std::printf("  worker %s runs generation %s", text_of(w.find("worker")).c_str(),
                  text_of(w.find("runs")).c_str());
      if (const Json* r = w.find("refused")) std::printf("; refused the newest: %s", text_of(r).c_str());
      std::printf("\n");
    }
}

// sipctl config push FILE: the push, then config_status until every worker has answered (or control gives
// up on them). 0 when every worker runs it, 1 when the script has errors or a worker refused it.
int config_push(const ControlArgs& a) {
  std::string text;
  if (!sipd::config::read_file(a.word, text)) {
    std::fprintf(stderr, "sipctl: cannot read %s\n", a.word);
    return 1;
  }
  char* resolved = ::realpath(a.word, nullptr);  // reload_routes re-reads it from control's directory
  const std::string file = resolved ? resolved : a.word;
  std::free(resolved);
  Json params = Json::object();
  params.set("file", file);
  params.set("text", text);
  Json status;
  if (!ask(a, "config_push", std::move(params), status)) return 1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(12);
  while (status.find("state") && status.find("state")->as_string() == "installing" &&
         std::chrono::steady_clock::now() < deadline) {
    ::usleep(5000);
    if (!ask(a, "config_status", Json(), status)) return 1;
  }
  show(a, status, print_status);
  return status.find("state") && status.find("state")->as_string() == "installed" ? 0 : 1;
}

int config_show(const ControlArgs& a) {
  Json status;
  if (!ask(a, "config_status", Json(), status)) return 1;
  show(a, status, print_status);
  return 0;
}

// sipctl mi CMD [ARGS...]: one MI command, its arguments as opensips-cli builds them (all name=value: named;
// else positional strings), its result printed as JSON. 1 when control answers an error.
int mi_command(int argc, char** argv) {
  ControlArgs a;
  std::vector<std::string> args;
  const char* command = argv[2];
  int i = 3;
  for (; i < argc && std::string_view(argv[i]).rfind("--", 0) != 0; ++i) args.emplace_back(argv[i]);
  if (const int rc = control_args(argc, argv, i, a)) return rc;
  if (a.word) return usage();
  bool named = !args.empty();
  for (const std::string& arg : args) named = named && arg.find('=') != std::string::npos && arg[0] != '=';
  Json params = named ? Json::object() : Json::array();
  for (const std::string& arg : args) {
    if (named)
      params.set(arg.substr(0, arg.find('=')), arg.substr(arg.find('=') + 1));
    else
      params.push(arg);
  }
  Json result;
  if (!ask(a, command, std::move(params), result, command)) return 1;
  std::printf("%s\n", result.dump().c_str());
  return 0;
}

// sipctl debug LEVEL | ps | uptime: the MI commands people type most, for people.
int shortcut_command(int argc, char** argv) {
  const std::string_view verb = argv[1];
  ControlArgs a;
  if (const int rc = control_args(argc, argv, 2, a)) return rc;
  Json params = Json::array();
  const char* method = verb == "debug" ? "log_level" : verb == "ps" ? "ps" : "uptime";
  if (verb == "debug") {
    if (!a.word) return usage();
    params.push(std::string(a.word));
  } else if (a.word) {
    return usage();
  }
  Json result;
  if (!ask(a, method, std::move(params), result)) return 1;
  // The tutorial's `debug` was every log line, xlog's included (1.x filtered xlog by it): with OpenSIPS 3's
  // separate xlog_level, sipctl debug sets both.
  Json xlog;
  if (verb == "debug" && !ask(a, "xlog_level", Json(Json::Array{Json(std::string(a.word))}), xlog)) return 1;
  if (a.json) {
    std::printf("%s\n", result.dump().c_str());
  } else if (verb == "debug") {
    std::printf("log level %s for sipd-control and every worker (xlog level %s)\n",
                text_of(result.find("New global log level")).c_str(),
                text_of(xlog.find("New xLog level")).c_str());
  } else if (verb == "ps") {
    std::printf("%-4s %-8s %s\n", "ID", "PID", "TYPE");
    if (const Json* list = result.find("Processes"))
      for (const Json& p : list->items())
        std::printf("%-4s %-8s %s\n", text_of(p.find("ID")).c_str(), text_of(p.find("PID")).c_str(),
                    text_of(p.find("Type")).c_str());
  } else {
    std::printf("up %s since %s\n", text_of(result.find("Up time")).c_str(),
                text_of(result.find("Up since")).c_str());
  }
  return 0;
}

// sipctl stats [GROUP | NAME]: MI's get_statistics, for people a table of group:name and value. A word is a
// group when there is one of that name ("core", "tm:"), else a statistic's name.
// sipctl stats runtime: per worker, where the sampled turns' cycles went, as VPP's `show runtime` shows
// it: each stage's calls, vectors (frames or messages it handled) and cycles, per call and per message (a
// message is one the proxy parsed), and what the sum makes of one core.
void print_runtime(const Json& r) {
  struct Figures {
    uint64_t hz = 0, turns = 0;
    std::map<std::string, std::array<uint64_t, 3>> stages;  // calls, vectors, cycles
  };
  std::map<int, Figures> workers;
  for (const Json::Member& m : r.members()) {
    const std::string_view key = std::string_view(m.first).substr(m.first.find(':') + 1);
    const size_t dash = key.find('-');
    if (dash == std::string_view::npos) continue;
    Figures& f = workers[std::atoi(std::string(key.substr(0, dash)).c_str())];
    const std::string_view counter = key.substr(dash + 1);
    const uint64_t v = uint64_t(m.second.as_int());
    if (counter == "tsc_hz") {
      f.hz = v;
    } else if (counter == "turns") {
      f.turns = v;
    } else {
      const size_t us = counter.rfind('_');
      const std::string_view what = counter.substr(us + 1);
      const size_t i = what == "calls" ? 0 : what == "vectors" ? 1 : 2;
      f.stages[std::string(counter.substr(0, us))][i] = v;
    }
  }
  static constexpr std::string_view kOrder[] = {"rx", "net",    "steer", "proxy", "parse",
                                                "tm", "script", "build", "tx",    "loop"};
  for (const auto& [worker, f] : workers) {
    const auto parse = f.stages.find("parse");
    const uint64_t messages = parse == f.stages.end() ? 0 : parse->second[1];
    std::printf("worker %d: %llu sampled turns with work, %llu messages in them, TSC %.2f GHz\n", worker,
                static_cast<unsigned long long>(f.turns), static_cast<unsigned long long>(messages),
                double(f.hz) / 1e9);
    std::printf("  %-8s %14s %14s %12s %12s %12s\n", "stage", "calls", "vectors", "vectors/call",
                "cycles/call", "cycles/msg");
    uint64_t total = 0;
    for (std::string_view name : kOrder) {
      const auto it = f.stages.find(std::string(name));
      if (it == f.stages.end()) continue;
      const auto& [calls, vectors, cycles] = it->second;
      total += cycles;
      std::printf("  %-8s %14llu %14llu %12.2f %12.0f %12.0f\n", std::string(name).c_str(),
                  static_cast<unsigned long long>(calls), static_cast<unsigned long long>(vectors),
                  calls ? double(vectors) / double(calls) : 0.0, calls ? double(cycles) / double(calls) : 0.0,
                  messages ? double(cycles) / double(messages) : 0.0);
    }
    if (messages && total) {
      const double per_message = double(total) / double(messages);
      std::printf("  %-8s %14s %14s %12s %12s %12.0f  = %.3f M messages/s per core\n", "total", "", "", "",
                  "", per_message, f.hz ? double(f.hz) / per_message / 1e6 : 0.0);
    }
  }
}

int stats_command(int argc, char** argv) {
  ControlArgs a;
  if (const int rc = control_args(argc, argv, 2, a)) return rc;
  std::string item = a.word ? a.word : "all";
  if (item != "all" && !item.ends_with(':')) item += ':';
  Json result;
  std::string error;
  int rc =
      mi_call(a.socket, "get_statistics", Json(Json::Array{Json(Json::Array{Json(item)})}), result, error);
  if (rc != 0 && a.word && !std::string_view(a.word).ends_with(':') && error == "Statistics Not Found")
    rc = mi_call(a.socket, "get_statistics", Json(Json::Array{Json(Json::Array{Json(a.word)})}), result,
                 error);
  if (rc != 0) {
    std::fprintf(stderr, "sipctl: %s%s%s\n", error.c_str(), a.word ? ": " : "", a.word ? a.word : "");
    return 1;
  }
  if (item == "runtime:") {
    show(a, result, print_runtime);
    return 0;
  }
  show(a, result, [](const Json& r) {
    size_t width = 0;
    for (const Json::Member& m : r.members()) width = std::max(width, m.first.size());
    for (const Json::Member& m : r.members())
      std::printf("%-*s %s\n", int(width), m.first.c_str(), text_of(&m.second).c_str());
  });
  return 0;
}

int config_control_command(int argc, char** argv) {
  const std::string_view verb = argv[2];
  ControlArgs a;
  if (const int rc = control_args(argc, argv, 3, a)) return rc;
  if (verb == "push" && a.word) return config_push(a);
  if (verb == "show" && !a.word) return config_show(a);
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string_view(argv[1]) == "ul") return ul_command(argc, argv);
  if (argc >= 3 && std::string_view(argv[1]) == "mi") return mi_command(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "stats") return stats_command(argc, argv);
  if (argc >= 2 && (std::string_view(argv[1]) == "debug" || std::string_view(argv[1]) == "ps" ||
                    std::string_view(argv[1]) == "uptime"))
    return shortcut_command(argc, argv);
  if (argc >= 3 && std::string_view(argv[1]) == "config" &&
      (std::string_view(argv[2]) == "push" || std::string_view(argv[2]) == "show"))
    return config_control_command(argc, argv);
  if ((argc == 4 || (argc == 6 && std::string_view(argv[4]) == "--appliance")) &&
      std::string_view(argv[1]) == "config" && std::string_view(argv[2]) == "check")
    return config_check(argv[3], argc == 6 ? argv[5] : nullptr);
  if (argc >= 4 && std::string_view(argv[1]) == "config" && std::string_view(argv[2]) == "test") {
    sipd::cli::DryRunOptions opt;
    opt.script_path = argv[3];
    std::string src;  // --src applies to the --message options after it
    for (int i = 4; i < argc; i += 2) {
      if (i + 1 >= argc) return usage();
      const std::string_view flag = argv[i];
      const std::string value = argv[i + 1];
      if (flag == "--message") {
        opt.messages.push_back({value, src});
      } else if (flag == "--src") {
        src = value;
      } else if (flag == "--proto") {
        opt.proto = value;
      } else if (flag == "--advance") {
        opt.advance_ms = unsigned(std::strtoul(value.c_str(), nullptr, 10));
      } else if (flag == "--answer") {
        const size_t eq = value.find('=');
        if (eq == std::string::npos || eq == 0) return usage();
        opt.answers[value.substr(0, eq)] = std::strtol(value.c_str() + eq + 1, nullptr, 10);
      } else {
        return usage();
      }
    }
    if (opt.messages.empty()) return usage();
    // A --src after the last --message (the older `--message MSG --src IP:PORT` order) gives their source
    // to the messages before it that have none.
    if (!src.empty() && std::string_view(argv[argc - 2]) == "--src")
      for (sipd::cli::DryRunMessage& m : opt.messages)
        if (m.src.empty()) m.src = src;
    return sipd::cli::dry_run(opt);
  }
  return usage();
}
