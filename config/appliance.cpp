#include "config/appliance.h"

#include <libconfig.h++>

#include <cctype>

#include "config/listen.h"

namespace sipd::config {
namespace {

// "tcp:PORT" or "udp:PORT" (the protocol in any case), PORT 1-65535.
bool parse_tap_port(std::string_view text, TapPort& out) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  std::string proto(text.substr(0, colon));
  for (char& c : proto) c = char(std::tolower(uint8_t(c)));
  const std::string_view digits = text.substr(colon + 1);
  if ((proto != "tcp" && proto != "udp") || digits.empty() || digits.size() > 5) return false;
  unsigned v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = TapPort{proto == "tcp", uint16_t(v)};
  return true;
}

// port.tap_allow: an array (or list) of "tcp:PORT" / "udp:PORT" strings.
bool load_tap_allow(const std::string& path, const libconfig::Setting& port, Appliance& a,
                    std::string& error) {
  if (!port.exists("tap_allow")) return true;
  const libconfig::Setting& list = port["tap_allow"];
  const auto at = [&path](const libconfig::Setting& s) {
    return path + ":" + std::to_string(s.getSourceLine());
  };
  if (!list.isArray() && !list.isList()) {
    error = at(list) + ": port: tap_allow must be a list of \"tcp:PORT\" and \"udp:PORT\" strings";
    return false;
  }
  for (int i = 0; i < list.getLength(); ++i) {
    const libconfig::Setting& entry = list[i];
    // An element of an array may carry no line of its own: the list's is the next best.
    const std::string where = entry.getSourceLine() ? at(entry) : at(list);
    TapPort p;
    if (entry.getType() != libconfig::Setting::TypeString ||
        !parse_tap_port(static_cast<const char*>(entry), p)) {
      const std::string shown = entry.getType() == libconfig::Setting::TypeString
                                    ? "\"" + std::string(static_cast<const char*>(entry)) + "\""
                                    : "entry " + std::to_string(i + 1);
      error = where + ": port: tap_allow: " + shown +
              " is not \"tcp:PORT\" or \"udp:PORT\" with a port from 1 to 65535";
      return false;
    }
    if (!p.tcp && p.port == a.sip_port) {
      error = where + ": port: tap_allow: \"udp:" + std::to_string(p.port) +
              "\" is the SIP port, which the dataplane takes itself";
      return false;
    }
    a.tap_allow.push_back(p);
  }
  return true;
}

}  // namespace

bool load_appliance(const std::string& path, Appliance& out, std::string& error) {
  libconfig::Config cfg;
  try {
    cfg.readFile(path.c_str());
  } catch (const libconfig::FileIOException&) {
    error = path + ": cannot read the file";
    return false;
  } catch (const libconfig::ParseException& e) {
    error = std::string(e.getFile() ? e.getFile() : path.c_str()) + ":" + std::to_string(e.getLine()) + ": " +
            e.getError();
    return false;
  }
  Appliance a;
  a.path = path;
  try {
    const libconfig::Setting& root = cfg.getRoot();
    if (root.exists("eal")) {
      const libconfig::Setting& eal = root["eal"];
      for (int i = 0; i < eal.getLength(); ++i) a.eal.emplace_back(static_cast<const char*>(eal[i]));
    }
    if (root.exists("port")) {
      const libconfig::Setting& port = root["port"];
      port.lookupValue("address", a.address);
      unsigned prefix = a.prefix_len, sip = a.sip_port, mtu = a.mtu;
      port.lookupValue("prefix", prefix);
      port.lookupValue("gateway", a.gateway);
      port.lookupValue("sip_port", sip);
      port.lookupValue("mtu", mtu);
      port.lookupValue("tap", a.tap);
      port.lookupValue("ipv6", a.ipv6);
      if (prefix > 32 || sip == 0 || sip > 65535 || mtu < 576 || mtu > 9000) {
        error = path + ":" + std::to_string(port.getSourceLine()) +
                ": port: prefix must be 0-32, sip_port 1-65535, mtu 576-9000";
        return false;
      }
      a.prefix_len = uint8_t(prefix);
      a.sip_port = uint16_t(sip);
      a.mtu = uint16_t(mtu);
      if (!load_tap_allow(path, port, a, error)) return false;
    }
    if (root.exists("workers")) {
      unsigned us = a.idle_sleep_us;
      root["workers"].lookupValue("idle_sleep_us", us);
      a.idle_sleep_us = us;
    }
    if (root.exists("pools")) {
      unsigned n = a.mbufs, size = a.mbuf_size, transactions = a.transactions;
      root["pools"].lookupValue("transactions", transactions);
      if (transactions < 1 || transactions > (1u << 22)) {
        error = path + ":" + std::to_string(root["pools"].getSourceLine()) +
                ": pools: transactions must be 1-4194304";
        return false;
      }
      a.transactions = transactions;
      unsigned share = a.transactions_per_source_percent;
      root["pools"].lookupValue("transactions_per_source_percent", share);
      if (share > 100) {
        error = path + ":" + std::to_string(root["pools"].getSourceLine()) +
                ": pools: transactions_per_source_percent must be 0-100";
        return false;
      }
      a.transactions_per_source_percent = share;
      unsigned waiting = a.waiting_transactions, high = a.overload_high_percent, low = a.overload_low_percent;
      root["pools"].lookupValue("waiting_transactions", waiting);
      root["pools"].lookupValue("overload_high_percent", high);
      root["pools"].lookupValue("overload_low_percent", low);
      if (waiting > (1u << 24) || high > 100 || low > 100 || (high && low >= high)) {
        error = path + ":" + std::to_string(root["pools"].getSourceLine()) +
                ": pools: waiting_transactions must be 0-16777216, overload_high_percent and "
                "overload_low_percent 0-100 with low below high";
        return false;
      }
      a.waiting_transactions = waiting;
      unsigned errors = a.error_replies_per_source;
      root["pools"].lookupValue("error_replies_per_source", errors);
      if (errors > 1000000) {
        error = path + ":" + std::to_string(root["pools"].getSourceLine()) +
                ": pools: error_replies_per_source must be 0-1000000";
        return false;
      }
      a.error_replies_per_source = errors;
      a.overload_high_percent = high;
      a.overload_low_percent = low;
      root["pools"].lookupValue("mbufs", n);
      root["pools"].lookupValue("mbuf_size", size);
      if (size < 2048 || size > 65000) {
        error = path + ":" + std::to_string(root["pools"].getSourceLine()) +
                ": pools: mbuf_size must be 2048-65000";
        return false;
      }
      a.mbufs = n;
      a.mbuf_size = size;
    }
    root.lookupValue("script", a.script);
    root.lookupValue("counters", a.counters);
    if (root.exists("control")) {
      const libconfig::Setting& c = root["control"];
      c.lookupValue("shm", a.shm_name);
      c.lookupValue("socket", a.control_socket);
      c.lookupValue("state_dir", a.state_dir);
      c.lookupValue("database", a.database);
      unsigned wait = a.answer_wait_ms;
      c.lookupValue("answer_wait_ms", wait);
      if (wait < 10 || wait > 60000 || a.shm_name.empty() || a.shm_name.find('/') != std::string::npos) {
        error = path + ":" + std::to_string(c.getSourceLine()) +
                ": control: answer_wait_ms must be 10-60000 and shm a name without '/'";
        return false;
      }
      a.answer_wait_ms = wait;
      unsigned lines = a.log_lines_per_second;
      c.lookupValue("log_lines_per_second", lines);
      if (lines < 1 || lines > 1000000) {
        error = path + ":" + std::to_string(c.getSourceLine()) +
                ": control: log_lines_per_second must be 1-1000000";
        return false;
      }
      a.log_lines_per_second = lines;
      unsigned per_source = a.tcp_connections_per_source;
      c.lookupValue("tcp_connections_per_source", per_source);
      if (per_source > 1000000) {
        error = path + ":" + std::to_string(c.getSourceLine()) +
                ": control: tcp_connections_per_source must be 0-1000000";
        return false;
      }
      a.tcp_connections_per_source = per_source;
    }
    if (root.exists("location")) {
      const libconfig::Setting& l = root["location"];
      unsigned aors = a.location_aors, bindings = a.location_bindings;
      l.lookupValue("max_aors", aors);
      l.lookupValue("max_bindings", bindings);
      if (aors < 1 || bindings < 1 || aors > (1u << 24) || bindings > (1u << 24)) {
        error = path + ":" + std::to_string(l.getSourceLine()) +
                ": location: max_aors and max_bindings must be 1-16777216";
        return false;
      }
      a.location_aors = aors;
      a.location_bindings = bindings;
    }
    if (a.database.empty()) a.database = a.state_dir + "/sipd.db";
  } catch (const libconfig::SettingException& e) {
    error = path + ": " + e.getPath() + ": " + e.what();
    return false;
  }
  out = std::move(a);
  return true;
}

void check_against_appliance(const SourceFile& file, const Script& script, const Appliance& appliance,
                             Diagnostics& diags) {
  for (const GlobalParam& g : script.globals) {
    const std::string& name = g.names.front();
    if (name != "listen" && name != "socket") continue;
    // [proto:]host[:port]; the proto is a word without dots.
    ListenSpec l;
    std::string why;
    if (!parse_listen(g.value.text, l, why)) continue;  // the script's checker has said why
    const std::string_view host = l.host, proto = l.proto;
    const std::string port = l.port ? std::to_string(l.port) : "";
    const std::string where = name + "=" + g.value.text;
    if (host != appliance.address && host != "*") {
      diags.error(file.pos(g.offset), where + ": " + std::string(host) +
                                          " is not an address of this appliance (" + appliance.path +
                                          " gives the port " + appliance.address + ")");
    } else if (proto == "udp" && !port.empty() && port != std::to_string(appliance.sip_port)) {
      diags.error(file.pos(g.offset), where + ": the dataplane takes SIP over UDP on port " +
                                          std::to_string(appliance.sip_port) + " (" + appliance.path + ")");
    }
  }
}

}  // namespace sipd::config
