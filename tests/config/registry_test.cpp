// The registry: look-ups by name and alias across both OpenSIPS generations, "did you mean" suggestions,
// the hash compiled programs carry, and consistency checks over every table.
#include "config/registry.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sipd::config {
namespace {

std::vector<std::string_view> function_names() {
  std::vector<std::string_view> names;
  for (const FunctionSpec& f : registry().functions) names.push_back(f.name);
  return names;
}

TEST(registry, ModuleByNamePathAndSuffix) {
  ASSERT_NE(find_module("tm"), nullptr);
  EXPECT_EQ(find_module("tm.so"), find_module("tm"));
  const ModuleSpec* tm = find_module("/usr/lib64/opensips/modules/tm.so");
  ASSERT_NE(tm, nullptr);
  EXPECT_EQ(tm->name, "tm");
  for (std::string_view m :
       {"signaling", "sl",      "maxfwd",    "rr",   "registrar", "usrloc",    "mi_fifo",   "avpops",
        "sipmsgops", "textops", "uri",       "acc",  "proto_udp", "proto_tcp", "proto_tls", "dispatcher",
        "auth",      "auth_db", "nathelper", "pike", "gflags",    "cfgutils",  "db_sqlite", "db_mysql"}) {
    EXPECT_NE(find_module(m), nullptr) << m;
  }
  EXPECT_EQ(find_module("rtpproxy.so"), nullptr);
  EXPECT_EQ(find_module(""), nullptr);
  EXPECT_EQ(find_module(".so"), nullptr);
}

TEST(registry, ModparamByNameAndAlias) {
  const ModParamSpec* fr = find_modparam("tm", "fr_timeout");
  ASSERT_NE(fr, nullptr);
  EXPECT_EQ(find_modparam("tm", "fr_timer"), fr);
  EXPECT_EQ(fr->default_value, "5");
  const ModParamSpec* inv = find_modparam("tm", "fr_inv_timer");
  ASSERT_NE(inv, nullptr);
  EXPECT_EQ(inv->name, "fr_inv_timeout");
  EXPECT_EQ(inv->default_value, "120");
  EXPECT_EQ(find_modparam("tm", "restart_fr_on_each_reply")->default_value, "1");
  EXPECT_EQ(find_modparam("tm", "onreply_avp_mode")->default_value, "0");
  EXPECT_EQ(find_modparam("tm", "T1_timer")->default_value, "500");
  EXPECT_EQ(find_modparam("tm", "T2_timer")->default_value, "4000");
  EXPECT_NE(find_modparam("tm.so", "fr_timer"), nullptr);
  EXPECT_NE(find_modparam("mi_fifo", "fifo_name"), nullptr);
  EXPECT_NE(find_modparam("mi_fifo", "fifo_mode"), nullptr);
  EXPECT_NE(find_modparam("usrloc", "nat_bflag"), nullptr);
  EXPECT_NE(find_modparam("rr", "append_fromtag"), nullptr);
  // A parameter belongs to its module only.
  EXPECT_EQ(find_modparam("sl", "fr_timeout"), nullptr);
  EXPECT_EQ(find_modparam("tm", "no_such_param"), nullptr);
}

TEST(registry, GlobalByNameAndAlias) {
  const GlobalSpec* level = find_global("log_level");
  ASSERT_NE(level, nullptr);
  EXPECT_EQ(find_global("debug"), level);
  ASSERT_NE(find_global("uid"), nullptr);
  EXPECT_EQ(find_global("uid"), find_global("user"));
  EXPECT_EQ(find_global("gid"), find_global("group"));
  for (std::string_view owned : {"fork", "children", "tcp_children", "udp_workers", "tcp_workers"}) {
    const GlobalSpec* g = find_global(owned);
    ASSERT_NE(g, nullptr) << owned;
    EXPECT_TRUE(g->appliance_owned) << owned;
  }
  EXPECT_FALSE(find_global("listen")->appliance_owned);
  for (std::string_view name : {"log_stderror",
                                "log_facility",
                                "disable_tcp",
                                "disable_tls",
                                "port",
                                "wdir",
                                "chroot",
                                "server_header",
                                "server_signature",
                                "user_agent_header",
                                "alias",
                                "auto_aliases",
                                "disable_dns_failover",
                                "disable_dns_blacklist",
                                "dns_try_ipv6",
                                "sip_warning",
                                "mpath",
                                "tls_verify_server",
                                "tls_verify_client",
                                "tls_require_client_certificate",
                                "tls_method",
                                "tls_certificate",
                                "tls_private_key",
                                "tls_ca_list",
                                "memlog",
                                "dns",
                                "rev_dns",
                                "check_via",
                                "tos",
                                "mhomed"}) {
    EXPECT_NE(find_global(name), nullptr) << name;
  }
  EXPECT_EQ(find_global("no_such_global"), nullptr);
  EXPECT_EQ(find_global(""), nullptr);
}

TEST(registry, FunctionsOfBothGenerations) {
  const FunctionSpec* sl = find_function("sl_send_reply");
  const FunctionSpec* send = find_function("send_reply");
  ASSERT_NE(sl, nullptr);
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(sl->effect, Effect::Action);
  EXPECT_EQ(send->effect, Effect::Action);
  EXPECT_EQ(sl->args[0], ArgType::Reply);
  EXPECT_TRUE(function_in_module(*sl, "sl"));
  EXPECT_TRUE(function_in_module(*send, "signaling"));
  EXPECT_FALSE(function_in_module(*send, "sl"));

  const FunctionSpec* is_method = find_function("is_method");
  ASSERT_NE(is_method, nullptr);
  EXPECT_TRUE(function_in_module(*is_method, "textops"));
  EXPECT_TRUE(function_in_module(*is_method, "sipmsgops"));
  EXPECT_TRUE(function_in_module(*is_method, "sipmsgops.so"));
  EXPECT_FALSE(function_in_module(*is_method, "tm"));
  EXPECT_FALSE(function_in_module(*is_method, "textop"));
  const FunctionSpec* has_totag = find_function("has_totag");
  ASSERT_NE(has_totag, nullptr);
  EXPECT_TRUE(function_in_module(*has_totag, "uri"));
  EXPECT_TRUE(function_in_module(*has_totag, "sipmsgops"));

  const FunctionSpec* forward = find_function("forward");
  ASSERT_NE(forward, nullptr);
  EXPECT_TRUE(function_in_module(*forward, "tm"));  // core: whatever is loaded
  EXPECT_EQ(forward->effect, Effect::Action);
  EXPECT_EQ(find_function("drop")->effect, Effect::Action);
  EXPECT_EQ(find_function("route")->args[0], ArgType::Route);
  EXPECT_EQ(find_function("t_on_failure")->args[0], ArgType::Route);
  EXPECT_EQ(find_function("subst")->args[0], ArgType::Subst);
  EXPECT_EQ(find_function("t_check_status")->args[0], ArgType::Regex);
  EXPECT_EQ(find_function("save")->effect, Effect::Suspend);
  EXPECT_EQ(find_function("lookup")->effect, Effect::Local);  // a read of the table on the worker
  EXPECT_EQ(find_function("avp_db_load")->effect, Effect::Suspend);
  EXPECT_EQ(find_function("www_authorize")->effect, Effect::Suspend);
  EXPECT_EQ(find_function("avp_delete")->effect, Effect::Local);
  EXPECT_NE(find_function("is_gflag"), nullptr);
  EXPECT_EQ(find_function("no_such_function"), nullptr);
}

TEST(registry, RouteTypes) {
  const FunctionSpec* relay = find_function("t_relay");
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ(relay->routes & kRouteReply, 0);
  EXPECT_NE(relay->routes & kRouteRequest, 0);
  EXPECT_NE(relay->routes & kRouteFailure, 0);
  EXPECT_EQ(relay->min_args, 0);
  EXPECT_EQ(relay->max_args, 2);
  EXPECT_EQ(find_function("t_was_cancelled")->routes & kRouteRequest, 0);
  EXPECT_EQ(find_function("loose_route")->routes, kRouteRequest);
  EXPECT_EQ(find_function("xlog")->routes, kRouteAny);
}

TEST(registry, RouteMaskNames) {
  EXPECT_EQ(route_mask_names(kRouteAny), "any route");
  EXPECT_EQ(route_mask_names(kRouteRequest), "route");
  EXPECT_EQ(route_mask_names(kRouteRequest | kRouteFailure), "route, failure_route");
  EXPECT_EQ(route_mask_names(kRouteReply | kRouteBranch | kRouteLocal | kRouteError),
            "onreply_route, branch_route, local_route, error_route");
  EXPECT_EQ(route_mask_names(0), "");
}

TEST(registry, PseudoVariablesTransformsKeywords) {
  for (std::string_view pv :
       {"ru",         "rU", "rd", "rp",  "fu", "fU",        "fd",        "fn",           "ft",
        "tu",         "tU", "td", "tn",  "tt", "ci",        "cs",        "rm",           "rs",
        "rr",         "si", "sp", "Ri",  "Rp", "pr",        "proto",     "ml",           "du",
        "mf",         "bf", "sf", "ua",  "ct", "retcode",   "rc",        "T_branch_idx", "T_reply_code",
        "time",       "Ts", "pp", "pid", "rb", "br",        "bF",        "fs",           "oU",
        "ou",         "od", "op", "au",  "ar", "an",        "adu",       "cl",           "cT",
        "di",         "dd", "dp", "dP",  "ds", "err.class", "err.level", "err.info",     "err.rcode",
        "err.rreason"}) {
    EXPECT_NE(find_pvar(pv), nullptr) << pv;
  }
  EXPECT_TRUE(find_pvar("ru")->writable);
  EXPECT_TRUE(find_pvar("du")->writable);
  EXPECT_FALSE(find_pvar("si")->writable);
  EXPECT_FALSE(find_pvar("ci")->writable);
  EXPECT_TRUE(find_pvar("var")->takes_arg);
  EXPECT_TRUE(find_pvar("avp")->takes_arg);
  EXPECT_TRUE(find_pvar("hdr")->takes_arg);
  EXPECT_FALSE(find_pvar("hdr")->writable);
  EXPECT_EQ(find_pvar("T_branch_idx")->module, "tm");
  EXPECT_EQ(find_pvar("RU"), nullptr);  // case matters: $rU and $ru differ
  EXPECT_EQ(find_pvar("$"), nullptr);   // $$ is the lexer's

  ASSERT_NE(find_transform("s", "substr"), nullptr);
  EXPECT_EQ(find_transform("s", "substr")->min_args, 2);
  EXPECT_EQ(find_transform("s", "len")->max_args, 0);
  EXPECT_NE(find_transform("uri", "user"), nullptr);
  EXPECT_EQ(find_transform("param", "value")->min_args, 1);
  EXPECT_EQ(find_transform("uri", "len"), nullptr);

  for (std::string_view k :
       {"af", "proto", "method", "status", "retcode", "uri", "from_uri", "to_uri", "src_ip", "dst_ip",
        "myself", "INET", "INET6", "UDP", "TCP", "TLS", "null", "NULL"}) {
    EXPECT_TRUE(is_keyword(k)) << k;
  }
  EXPECT_FALSE(is_keyword("forward"));
  EXPECT_FALSE(is_keyword(""));
}

TEST(registry, Closest) {
  std::vector<std::string_view> names = function_names();
  EXPECT_EQ(closest("t_rely", names), "t_relay");
  EXPECT_EQ(closest("T_RELAY", names), "t_relay");
  EXPECT_EQ(closest("sl_send_reploy", names), "sl_send_reply");
  EXPECT_EQ(closest("zzzzzz", names), "");
  EXPECT_EQ(closest("t_rely", {}), "");
  // Ties go to the first candidate.
  EXPECT_EQ(closest("ab", {"ax", "ay"}), "ax");
  // The threshold grows with the name: max(2, len/3).
  EXPECT_EQ(closest("abcdefghijkl", {"abcdefghixxx"}), "abcdefghixxx");
  EXPECT_EQ(closest("abcdefghijkl", {"abcdefgxxxxx"}), "");
}

// Every name the tutorial's snippets and OpenSIPS 3.x's residential script (the DESIGN.md yardstick) use.
TEST(registry, TutorialAndResidentialScriptNamesResolve) {
  for (std::string_view g : {"debug", "log_level", "xlog_level", "log_stderror", "log_facility", "fork",
                             "children", "tcp_children", "auto_aliases", "listen", "port", "mpath",
                             "disable_tcp", "disable_tls", "user", "group", "uid", "gid"}) {
    EXPECT_NE(find_global(g), nullptr) << g;
  }
  const std::pair<std::string_view, std::string_view> params[] = {
      {"tm", "fr_timer"},
      {"tm", "fr_inv_timer"},
      {"tm", "fr_timeout"},
      {"tm", "fr_inv_timeout"},
      {"tm", "restart_fr_on_each_reply"},
      {"tm", "onreply_avp_mode"},
      {"rr", "append_fromtag"},
      {"mi_fifo", "fifo_name"},
      {"mi_fifo", "fifo_mode"},
      {"usrloc", "nat_bflag"},
      {"usrloc", "working_mode_preset"},
      {"registrar", "tcp_persistent_flag"},
      {"registrar", "max_contacts"},
      {"acc", "early_media"},
      {"acc", "report_cancels"},
      {"acc", "detect_direction"},
  };
  for (const auto& [module, name] : params) EXPECT_NE(find_modparam(module, name), nullptr) << name;
  for (std::string_view f : {"mf_process_maxfwd_header",
                             "send_reply",
                             "sl_send_reply",
                             "has_totag",
                             "is_method",
                             "t_check_trans",
                             "t_relay",
                             "exit",
                             "loose_route",
                             "do_accounting",
                             "route",
                             "is_myself",
                             "xlog",
                             "record_route",
                             "append_hf",
                             "save",
                             "sl_reply_error",
                             "lookup",
                             "t_reply",
                             "t_on_branch",
                             "t_on_reply",
                             "t_on_failure",
                             "t_was_cancelled",
                             "t_check_status",
                             "forward",
                             "drop",
                             "seturi",
                             "setflag",
                             "isflagset",
                             "strip",
                             "prefix",
                             "rewritehostport",
                             "log",
                             "setbflag",
                             "setsflag",
                             "avp_db_load",
                             "avp_db_store",
                             "avp_db_delete",
                             "avp_db_query",
                             "avp_delete",
                             "avp_pushto",
                             "avp_check",
                             "avp_copy",
                             "avp_printf",
                             "avp_subst",
                             "avp_op",
                             "is_avp_set",
                             "avp_print",
                             "set_gflag",
                             "is_gflag",
                             "reset_gflag"}) {
    EXPECT_NE(find_function(f), nullptr) << f;
  }
  EXPECT_NE(find_function("t_check_trans")->routes & kRouteRequest, 0);
}

TEST(registry, HashIsStable) {
  uint64_t h = registry_hash();
  EXPECT_EQ(h, registry_hash());
  EXPECT_NE(h, 0u);
}

TEST(registry, FunctionTableIsConsistent) {
  std::set<std::string_view> seen;
  for (const FunctionSpec& f : registry().functions) {
    EXPECT_TRUE(seen.insert(f.name).second) << "duplicate function " << f.name;
    EXPECT_LE(f.min_args, f.max_args) << f.name;
    EXPECT_LE(f.max_args, 6) << f.name;
    EXPECT_NE(f.routes, 0) << f.name;
    EXPECT_EQ(f.routes & ~kRouteAny, 0) << f.name;
    ASSERT_FALSE(f.modules.empty()) << f.name;
    if (f.modules == "core") continue;
    std::string_view rest = f.modules;
    while (true) {
      size_t bar = rest.find('|');
      std::string_view m = rest.substr(0, bar);
      EXPECT_NE(find_module(m), nullptr) << f.name << " names unknown module '" << m << "'";
      EXPECT_TRUE(function_in_module(f, m)) << f.name;
      if (bar == std::string_view::npos) break;
      rest.remove_prefix(bar + 1);
    }
  }
}

TEST(registry, OtherTablesAreConsistent) {
  std::set<std::pair<std::string_view, std::string_view>> params;
  for (const ModParamSpec& p : registry().modparams) {
    EXPECT_NE(find_module(p.module), nullptr) << p.module << "." << p.name;
    EXPECT_TRUE(params.insert({p.module, p.name}).second) << "duplicate " << p.module << "." << p.name;
    if (!p.alias.empty()) {
      EXPECT_TRUE(params.insert({p.module, p.alias}).second) << p.alias;
    }
  }
  std::set<std::string_view> globals;
  for (const GlobalSpec& g : registry().globals) {
    EXPECT_TRUE(globals.insert(g.name).second) << "duplicate global " << g.name;
    if (!g.alias.empty()) {
      EXPECT_TRUE(globals.insert(g.alias).second) << "duplicate global " << g.alias;
    }
  }
  std::set<std::string_view> pvars;
  for (const PVarSpec& p : registry().pvars) {
    EXPECT_TRUE(pvars.insert(p.name).second) << "duplicate pvar " << p.name;
    EXPECT_TRUE(p.module == "core" || find_module(p.module) != nullptr) << p.name;
  }
  std::set<std::pair<std::string_view, std::string_view>> transforms;
  for (const TransformSpec& t : registry().transforms) {
    EXPECT_TRUE(transforms.insert({t.klass, t.name}).second) << t.klass << "." << t.name;
    EXPECT_LE(t.min_args, t.max_args) << t.klass << "." << t.name;
  }
  std::set<std::string_view> keywords;
  for (std::string_view k : registry().keywords) EXPECT_TRUE(keywords.insert(k).second) << k;
  std::set<std::string_view> modules;
  for (const ModuleSpec& m : registry().modules) EXPECT_TRUE(modules.insert(m.name).second) << m.name;
}

}  // namespace
}  // namespace sipd::config
