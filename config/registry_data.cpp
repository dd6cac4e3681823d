// The registry's tables: every module, script function, module parameter, global, pseudo-variable,
// transformation and keyword the routing language knows.
//
// Names, argument counts, route types and defaults follow OpenSIPS: the modules' export tables (cmds/params)
// and their documentation, 1.x and 3.x. Where the generations differ, the argument counts and route masks
// are the union of both (a 1.x script and a 3.x script must both check), and a parameter's 1.x spelling is
// its alias. Adding a function, parameter or variable touches this file only; registry_hash() changes with
// it, so compiled programs from before are refused.
#include <array>
#include <string_view>

#include "config/registry.h"

namespace sipd::config {
namespace {

constexpr uint16_t kReq = kRouteRequest;
constexpr uint16_t kRpl = kRouteReply;
constexpr uint16_t kFail = kRouteFailure;
constexpr uint16_t kBr = kRouteBranch;
constexpr uint16_t kLoc = kRouteLocal;
constexpr uint16_t kErr = kRouteError;
constexpr uint16_t kAll = kRouteMessage;  // every route with a SIP message
// Routes without one too (startup, timer, event): functions that do not touch a message.
constexpr uint16_t kAny = kRouteAny;
// The five "message" routes most module functions allow (everything but error_route).
constexpr uint16_t kMsg = kReq | kRpl | kFail | kBr | kLoc;

constexpr ModuleSpec kModules[] = {
    {"signaling"},
    {"sl"},
    {"tm"},
    {"maxfwd"},
    {"rr"},
    {"registrar"},
    {"usrloc"},
    {"mi_fifo"},      // served by sipd-control
    {"mi_datagram"},  // served by sipd-control
    {"httpd"},        // sipd-control's HTTP (mi_http on it)
    {"mi_http"},
    {"prometheus"},  // sipd-control's /metrics on httpd
    {"avpops"},
    {"sipmsgops"},
    {"textops"},
    {"uri"},
    {"acc"},
    {"proto_udp"},
    {"proto_tcp"},  // sipd-control's listeners (control/tcp); the dataplane routes what they frame
    {"proto_tls"},  // sipd-control's TLS listeners and connections (control/tls, OpenSSL 3)
    {"tls_mgm"},    // their TLS domains: certificates, trust, versions, verification
    {"dispatcher", "its destination sets and probing are not implemented in this build"},
    {"auth", "digest authentication is not implemented in this build"},
    {"auth_db", "credentials are looked up by the control process, which this build does not have yet"},
    {"nathelper", "its NAT tests, rewrites and pinging are not implemented in this build"},
    {"pike"},  // a worker's table of sources (dataplane/proxy/pike.h); pike_list/pike_rm in sipd-control
    {"gflags"},
    {"cfgutils"},
    {"db_sqlite", "databases are reached by the control process, which this build does not have yet"},
    {"db_mysql", "databases are reached by the control process, which this build does not have yet"},
    {"uac_redirect"},
    // 1.x scripts load xlog.so; its functions are core in 3.x (and here).
    {"xlog"},
};

namespace functions {
using enum ArgType;
using E = Effect;
// Where each function's body is in this build: W on the worker (the engine's or the proxy's), C answered
// by the control process (which this build does not have yet), N none: a script calling it is refused.
constexpr Impl W = Impl::Worker;
constexpr Impl C = Impl::Control;
constexpr Impl N = Impl::None;

// clang-format off
constexpr FunctionSpec kFunctions[] = {
    // ---- core ------------------------------------------------------------------------------------------
    {"forward",                "core", 0, 2, {Any, Any},             kReq | kFail | kBr, E::Action, W},
    {"forward_tcp",            "core", 0, 2, {Any, Any},             kReq | kFail | kBr, E::Action, W},
    {"forward_tls",            "core", 0, 2, {Any, Any},             kReq | kFail | kBr, E::Action, W},
    {"drop",                   "core", 0, 0, {},                     kAny, E::Action, W},
    {"exit",                   "core", 0, 0, {},                     kAny, E::Local, W},
    {"route",                  "core", 1, 6, {Route, Any, Any, Any, Any, Any}, kAny, E::Local, W},
    {"log",                    "core", 1, 2, {Any, String},          kAny, E::Local, W},
    {"xlog",                   "core", 1, 2, {Any, String},          kAny, E::Local, W},
    {"xdbg",                   "core", 1, 1, {String},               kAny, E::Local, W},
    {"seturi",                 "core", 1, 1, {String},               kAll, E::Local, W},
    {"rewriteuri",             "core", 1, 1, {String},               kAll, E::Local, W},
    {"sethost",                "core", 1, 1, {String},               kAll, E::Local, W},
    {"rewritehost",            "core", 1, 1, {String},               kAll, E::Local, W},
    {"sethostport",            "core", 1, 1, {String},               kAll, E::Local, W},
    {"rewritehostport",        "core", 1, 1, {String},               kAll, E::Local, W},
    {"setuser",                "core", 1, 1, {String},               kAll, E::Local, W},
    {"rewriteuser",            "core", 1, 1, {String},               kAll, E::Local, W},
    {"setuserpass",            "core", 1, 1, {String},               kAll, E::Local, W},
    {"rewriteuserpass",        "core", 1, 1, {String},               kAll, E::Local, W},
    {"setport",                "core", 1, 1, {String},               kAll, E::Local, W},
    {"rewriteport",            "core", 1, 1, {String},               kAll, E::Local, W},
    {"revert_uri",             "core", 0, 0, {},                     kAll, E::Local, W},
    {"prefix",                 "core", 1, 1, {String},               kAll, E::Local, W},
    {"strip",                  "core", 1, 1, {Int},                  kAll, E::Local, W},
    {"strip_tail",             "core", 1, 1, {Int},                  kAll, E::Local, W},
    {"setflag",                "core", 1, 1, {Flag},                 kAll, E::Local, W},
    {"resetflag",              "core", 1, 1, {Flag},                 kAll, E::Local, W},
    {"isflagset",              "core", 1, 1, {Flag},                 kAll, E::Local, W},
    // 1.x: ([branch_idx,] flag); 3.x: (flag[, branch_idx]).
    {"setbflag",               "core", 1, 2, {Flag, Any},            kAll, E::Local, W},
    {"resetbflag",             "core", 1, 2, {Flag, Any},            kAll, E::Local, W},
    {"isbflagset",             "core", 1, 2, {Flag, Any},            kAll, E::Local, W},
    {"setsflag",               "core", 1, 1, {Flag},                 kAny, E::Local, W},
    {"resetsflag",             "core", 1, 1, {Flag},                 kAny, E::Local, W},
    {"issflagset",             "core", 1, 1, {Flag},                 kAny, E::Local, W},
    {"is_myself",              "core", 1, 2, {String, Int},          kAll, E::Local, W},
    {"force_rport",            "core", 0, 0, {},                     kAll, E::Local, N},
    {"add_local_rport",        "core", 0, 0, {},                     kAll, E::Local, N},
    {"force_tcp_alias",        "core", 0, 1, {Int},                  kAll, E::Local, W},
    {"setdsturi",              "core", 1, 1, {String},               kAll, E::Local, W},
    {"resetdsturi",            "core", 0, 0, {},                     kAll, E::Local, W},
    {"isdsturiset",            "core", 0, 0, {},                     kAll, E::Local, W},
    {"force_send_socket",      "core", 1, 1, {String},               kAll, E::Local, N},
    {"set_advertised_address", "core", 1, 1, {String},               kAll, E::Local, N},
    {"set_advertised_port",    "core", 1, 1, {String},               kAll, E::Local, N},
    {"append_branch",          "core", 0, 2, {String, String},       kAll, E::Local, W},
    {"remove_branch",          "core", 1, 1, {Int},                  kAll, E::Local, N},
    {"serialize_branches",     "core", 1, 2, {Int, Int},             kAll, E::Local, N},
    {"next_branches",          "core", 0, 0, {},                     kAll, E::Local, N},
    {"pv_printf",              "core", 2, 2, {PVar, String},         kAny, E::Local, W},
    {"get_timestamp",          "core", 2, 2, {PVar, PVar},           kAny, E::Local, W},
    // avpops in 1.x, core in 3.x.
    {"avp_print",              "core", 0, 0, {},                     kAny, E::Local, W},

    // ---- sl / signaling -------------------------------------------------------------------------------
    {"sl_send_reply",    "sl|signaling", 2, 2, {Reply, String},      kReq | kFail | kErr, E::Action, W},
    {"sl_reply_error",   "sl",           0, 0, {},                   kReq, E::Action, W},
    {"send_reply",       "signaling",    2, 2, {Reply, String},      kReq | kFail | kErr, E::Action, W},

    // ---- tm -------------------------------------------------------------------------------------------
    // t_relay: 1.x ([flags]) or (proto:host:port[, flags]); 3.x ([flags][, proxy]). Not in onreply_route.
    {"t_relay",            "tm", 0, 2, {Any, Any},                   kReq | kFail, E::Action, W},
    {"t_reply",            "tm", 2, 2, {Reply, String},              kReq | kFail, E::Action, W},
    {"t_reply_with_body",  "tm", 3, 3, {Reply, String, String},      kReq, E::Action, N},
    {"t_replicate",        "tm", 1, 2, {String, Any},                kReq, E::Action, N},
    {"t_newtran",          "tm", 0, 0, {},                           kReq, E::Local, W},
    {"t_check_trans",      "tm", 0, 0, {},                           kReq | kBr, E::Local, W},
    {"t_on_failure",       "tm", 1, 1, {Route},                      kMsg, E::Local, W},
    {"t_on_reply",         "tm", 1, 1, {Route},                      kMsg, E::Local, W},
    {"t_on_branch",        "tm", 1, 1, {Route},                      kReq | kRpl | kFail | kBr, E::Local, W},
    {"t_check_status",     "tm", 1, 1, {Regex},                      kReq | kRpl | kFail | kBr, E::Local, W},
    {"get_redirects",      "uac_redirect", 0, 2, {Any, String},      kFail, E::Local, W},
    {"t_was_cancelled",    "tm", 0, 0, {},                           kRpl | kFail, E::Local, W},
    {"t_local_replied",    "tm", 1, 1, {String},                     kReq | kRpl | kFail | kBr, E::Local, N},
    {"t_flush_flags",      "tm", 0, 0, {},                           kReq | kBr, E::Local, N},
    {"t_cancel_branch",    "tm", 0, 1, {String},                     kRpl, E::Local, N},
    {"t_add_hdrs",         "tm", 1, 1, {String},                     kReq, E::Local, N},

    // ---- maxfwd ---------------------------------------------------------------------------------------
    {"mf_process_maxfwd_header", "maxfwd", 1, 1, {Int},              kReq, E::Local, W},
    {"is_maxfwd_lt",             "maxfwd", 1, 1, {Int},              kReq | kFail | kBr, E::Local, N},

    // ---- rr -------------------------------------------------------------------------------------------
    {"loose_route",          "rr", 0, 0, {},                         kReq, E::Local, W},
    {"record_route",         "rr", 0, 1, {String},                   kReq | kFail | kBr, E::Local, W},
    {"record_route_preset",  "rr", 1, 2, {String, String},           kReq | kFail | kBr, E::Local, N},
    {"add_rr_param",         "rr", 1, 1, {String},                   kReq | kFail | kBr, E::Local, N},
    {"check_route_param",    "rr", 1, 1, {Regex},                    kReq, E::Local, N},
    {"is_direction",         "rr", 1, 1, {String},                   kReq, E::Local, N},

    // ---- registrar: save() is answered by the control process (the table's only writer); lookup() and
    // registered() read the table where it lives, in the shared segment, on the worker --------------------
    // save: 1.x (domain[, flags]); 3.x (domain[, flags][, aor][, ownership_tag]).
    {"save",                 "registrar", 1, 4, {String, String, String, String}, kReq | kRpl, E::Suspend, C},
    {"lookup",               "registrar", 1, 3, {String, String, String},   kReq | kRpl | kFail, E::Local, W},
    {"registered",           "registrar", 1, 2, {String, String},           kReq | kFail, E::Local, W},
    {"is_registered",        "registrar", 1, 2, {String, String},           kMsg, E::Local, W},
    {"add_sock_hdr",         "registrar", 1, 1, {String},                   kMsg, E::Local, N},

    // ---- textops / sipmsgops (1.x textops functions moved to sipmsgops in 2.x) -------------------------
    {"is_method",        "textops|sipmsgops", 1, 1, {String},        kMsg, E::Local, W},
    {"is_present_hf",    "textops|sipmsgops", 1, 1, {String},        kMsg, E::Local, W},
    {"append_hf",        "textops|sipmsgops", 1, 2, {String, String}, kMsg, E::Local, W},
    {"insert_hf",        "textops|sipmsgops", 1, 2, {String, String}, kMsg, E::Local, W},
    // 2.x: remove_hf(name, flags), "r" the name a regular expression, "g" a glob; 3.x: remove_hf_re/_glob.
    {"remove_hf",        "textops|sipmsgops", 1, 2, {String, String}, kMsg, E::Local, W},
    {"append_to_reply",  "textops|sipmsgops", 1, 1, {String},        kReq | kFail | kBr | kErr, E::Local, W},
    {"append_urihf",     "textops|sipmsgops", 2, 2, {String, String}, kReq | kFail | kBr, E::Local, W},
    {"append_time",      "textops|sipmsgops", 0, 0, {},              kReq | kFail | kBr | kLoc, E::Local, W},
    {"has_body",         "textops|sipmsgops", 0, 1, {String},        kMsg, E::Local, W},
    {"is_privacy",       "textops|sipmsgops", 1, 1, {String},        kMsg, E::Local, W},
    {"has_totag",        "uri|sipmsgops",     0, 0, {},              kMsg, E::Local, W},
    {"is_uri_user_e164", "uri|sipmsgops",     1, 1, {Any},           kReq | kFail | kLoc, E::Local, W},
    {"search",             "textops", 1, 1, {Regex},                 kMsg, E::Local, W},
    {"search_body",        "textops", 1, 1, {Regex},                 kMsg, E::Local, W},
    {"search_append",      "textops", 2, 2, {Regex, String},         kMsg, E::Local, W},
    {"search_append_body", "textops", 2, 2, {Regex, String},         kMsg, E::Local, W},
    {"replace",            "textops", 2, 2, {Regex, String},         kMsg, E::Local, W},
    {"replace_all",        "textops", 2, 2, {Regex, String},         kMsg, E::Local, W},
    {"replace_body",       "textops", 2, 2, {Regex, String},         kMsg, E::Local, W},
    {"replace_body_all",   "textops", 2, 2, {Regex, String},         kMsg, E::Local, W},
    {"subst",              "textops", 1, 1, {Subst},                 kMsg, E::Local, W},
    {"subst_uri",          "textops", 1, 1, {Subst},                 kReq | kRpl | kFail | kBr, E::Local, W},
    {"subst_user",         "textops", 1, 1, {Subst},                 kReq | kRpl | kFail | kBr, E::Local, W},
    {"subst_body",         "textops", 1, 1, {Subst},                 kMsg, E::Local, W},
    {"filter_body",        "textops", 1, 1, {String},                kMsg, E::Local, W},
    {"remove_hf_re",        "sipmsgops", 1, 1, {Regex},              kMsg, E::Local, W},
    {"remove_hf_glob",      "sipmsgops", 1, 1, {String},             kMsg, E::Local, W},
    {"has_body_part",       "sipmsgops", 0, 1, {String},             kMsg, E::Local, W},
    {"ruri_has_param",      "sipmsgops", 1, 2, {String, String},     kReq | kFail | kBr | kLoc, E::Local, W},
    {"ruri_add_param",      "sipmsgops", 1, 1, {String},             kReq | kFail | kBr | kLoc, E::Local, W},
    {"ruri_del_param",      "sipmsgops", 1, 1, {String},             kReq | kFail | kBr | kLoc, E::Local, W},
    {"ruri_tel2sip",        "sipmsgops", 0, 0, {},                   kReq | kFail | kBr | kLoc, E::Local, W},
    {"change_reply_status", "sipmsgops", 2, 2, {Reply, String},      kRpl, E::Local, W},
    {"sipmsg_validate",     "sipmsgops", 0, 2, {String, PVar},       kReq | kRpl | kFail | kBr, E::Local, W},
    {"is_audio_on_hold",    "sipmsgops", 0, 0, {},                   kMsg, E::Local, W},

    // ---- uri ------------------------------------------------------------------------------------------
    {"is_user",        "uri", 1, 1, {String},                        kReq | kLoc, E::Local, N},
    {"uri_param",      "uri", 1, 2, {String, String},                kReq | kLoc, E::Local, W},
    {"add_uri_param",  "uri", 1, 1, {String},                        kReq, E::Local, W},
    {"tel2sip",        "uri", 0, 0, {},                              kReq, E::Local, W},
    // 1.x uri_db, merged into uri in 1.9 (db_check_* in 2.x+): database look-ups.
    {"check_to",       "uri", 0, 0, {},                              kReq, E::Suspend, C},
    {"check_from",     "uri", 0, 0, {},                              kReq, E::Suspend, C},
    {"does_uri_exist", "uri", 0, 0, {},                              kReq, E::Suspend, C},

    // ---- avpops ---------------------------------------------------------------------------------------
    {"avp_db_load",   "avpops", 2, 4, {Any, PVar, Any, Any},          kAny, E::Suspend, C},
    {"avp_db_store",  "avpops", 2, 3, {Any, PVar, Any},               kAny, E::Suspend, C},
    {"avp_db_delete", "avpops", 2, 3, {Any, PVar, Any},               kAny, E::Suspend, C},
    {"avp_db_query",  "avpops", 1, 3, {String, PVar, Any},            kAny, E::Suspend, C},
    {"avp_delete",    "avpops", 1, 1, {PVar},                         kAny, E::Local, W},
    {"avp_pushto",    "avpops", 2, 2, {PVar, PVar},                    kMsg, E::Local, W},
    {"avp_check",     "avpops", 2, 2, {PVar, String},                    kAny, E::Local, W},
    {"avp_copy",      "avpops", 2, 2, {PVar, PVar},                    kAny, E::Local, W},
    {"avp_printf",    "avpops", 2, 2, {PVar, String},                 kAny, E::Local, W},
    {"avp_subst",     "avpops", 2, 2, {PVar, Subst},                  kAny, E::Local, W},
    {"avp_op",        "avpops", 2, 2, {PVar, String},                    kAny, E::Local, W},
    {"is_avp_set",    "avpops", 1, 1, {PVar},                         kAny, E::Local, W},

    // ---- acc ------------------------------------------------------------------------------------------
    {"acc_log_request", "acc", 1, 1, {String},                       kReq | kFail | kBr | kLoc, E::Local, W},
    {"acc_db_request",  "acc", 2, 2, {String, String},               kReq | kFail | kBr | kLoc, E::Suspend, C},
    {"do_accounting",   "acc", 1, 3, {String, String, String},       kReq | kFail | kBr | kLoc, E::Local, W},
    {"drop_accounting", "acc", 0, 2, {String, String},               kReq | kFail | kBr | kLoc, E::Local, W},

    // ---- dispatcher -----------------------------------------------------------------------------------
    {"ds_select_dst",    "dispatcher", 2, 5, {Any, Any, Any, Any, Any}, kReq | kFail, E::Local, N},
    {"ds_select_domain", "dispatcher", 2, 5, {Any, Any, Any, Any, Any}, kReq | kFail, E::Local, N},
    {"ds_next_dst",      "dispatcher", 0, 1, {Any},                  kReq | kFail, E::Local, N},
    {"ds_next_domain",   "dispatcher", 0, 1, {Any},                  kReq | kFail, E::Local, N},
    {"ds_mark_dst",      "dispatcher", 0, 2, {Any, Any},             kReq | kFail, E::Local, N},
    {"ds_is_in_list",    "dispatcher", 2, 5, {Any, Any, Any, Any, Any}, kMsg, E::Local, N},
    {"ds_count",         "dispatcher", 3, 3, {Any, Any, PVar},       kReq | kFail | kBr | kLoc, E::Local, N},

    // ---- auth / auth_db -------------------------------------------------------------------------------
    {"www_challenge",       "auth", 1, 3, {String, String, String},  kReq, E::Action, N},
    {"proxy_challenge",     "auth", 1, 3, {String, String, String},  kReq, E::Action, N},
    {"consume_credentials", "auth", 0, 0, {},                        kReq, E::Local, N},
    {"is_rpid_user_e164",   "auth", 0, 0, {},                        kReq, E::Local, N},
    {"append_rpid_hf",      "auth", 0, 2, {String, String},          kReq | kFail | kBr, E::Local, N},
    {"pv_www_authorize",    "auth", 1, 1, {String},                  kReq, E::Local, N},
    {"pv_proxy_authorize",  "auth", 1, 1, {String},                  kReq, E::Local, N},
    {"www_authorize",       "auth_db", 2, 2, {String, String},       kReq, E::Suspend, C},
    {"proxy_authorize",     "auth_db", 2, 2, {String, String},       kReq, E::Suspend, C},

    // ---- nathelper ------------------------------------------------------------------------------------
    {"fix_nated_contact",  "nathelper", 0, 1, {String},              kReq | kRpl | kBr | kLoc, E::Local, N},
    // 3.x takes named flags ("private-contact,diff-ip-src-via"), 2.x a number.
    {"fix_nated_sdp",      "nathelper", 1, 3, {Any, String, String}, kMsg, E::Local, N},
    {"nat_uac_test",       "nathelper", 1, 1, {Any},                 kMsg, E::Local, N},
    {"fix_nated_register", "nathelper", 0, 0, {},                    kReq, E::Local, N},
    {"add_rcv_param",      "nathelper", 0, 1, {Int},                 kReq, E::Local, N},

    // ---- pike -----------------------------------------------------------------------------------------
    {"pike_check_req", "pike", 0, 0, {},                             kReq, E::Local, W},

    // ---- gflags (still its own module in 3.x) ---------------------------------------------------------
    {"set_gflag",   "gflags", 1, 1, {Int},                           kAny, E::Local, W},
    {"reset_gflag", "gflags", 1, 1, {Int},                           kAny, E::Local, W},
    {"is_gflag",    "gflags", 1, 1, {Int},                           kAny, E::Local, W},

    // ---- cfgutils -------------------------------------------------------------------------------------
    {"rand_event",      "cfgutils", 0, 1, {Int},                     kAny, E::Local, W},
    {"rand_set_prob",   "cfgutils", 1, 1, {Int},                     kAny, E::Local, W},
    {"rand_reset_prob", "cfgutils", 0, 0, {},                        kAny, E::Local, W},
    {"rand_get_prob",   "cfgutils", 0, 0, {},                        kAny, E::Local, W},
    {"sleep",           "cfgutils", 1, 1, {Int},                     kAny, E::Local, N},
    {"usleep",          "cfgutils", 1, 1, {Int},                     kAny, E::Local, N},

    // ---- the rest of these modules' functions in OpenSIPS 3.x (their export tables), with no body in this
    // build yet: a script that calls one is told so by name, not "unknown function" -----------------------
    {"send", "core", 1, 2, {String, String},                       kAny, E::Local, N},
    {"use_blacklist", "core", 1, 1, {String},                      kAny, E::Local, N},
    {"unuse_blacklist", "core", 1, 1, {String},                    kAny, E::Local, N},
    {"cache_store", "core", 3, 4, {String, String, String, Int},   kAny, E::Local, N},
    {"cache_remove", "core", 2, 2, {String, String},               kAny, E::Local, N},
    {"cache_fetch", "core", 3, 3, {String, String, PVar},          kAny, E::Local, N},
    {"cache_counter_fetch", "core", 3, 3, {String, String, PVar},  kAny, E::Local, N},
    {"cache_add", "core", 4, 5, {String, String, Int, Int, PVar},  kAny, E::Local, N},
    {"cache_sub", "core", 4, 5, {String, String, Int, Int, PVar},  kAny, E::Local, N},
    {"cache_raw_query", "core", 2, 3, {String, String, String},    kAny, E::Local, N},
    {"raise_event", "core", 1, 3, {String, PVar, PVar},            kAny, E::Local, N},
    {"subscribe_event", "core", 2, 3, {String, String, Int},       kAny, E::Local, N},
    {"construct_uri", "core", 3, 6, {String, String, String, String, String, PVar}, kAny, E::Local, N},
    {"script_trace", "core", 0, 3, {Int, String, String},          kAny, E::Local, N},
    {"assert", "core", 2, 2, {Any, String},                        kAny, E::Local, N},
    {"t_write_req", "tm", 2, 2, {String, String},                  kReq | kFail | kBr, E::Local, N},
    {"t_write_unix", "tm", 2, 2, {String, String},                 kReq | kFail | kBr, E::Local, N},
    {"t_new_request", "tm", 4, 6, {String, String, String, String, String, String}, kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"t_add_cancel_reason", "tm", 1, 1, {String},                  kReq, E::Local, N},
    {"t_inject_branches", "tm", 1, 2, {String, String},            kReq | kRpl, E::Local, N},
    {"t_wait_for_new_branches", "tm", 0, 1, {Int},                 kReq, E::Local, N},
    {"t_anycast_replicate", "tm", 0, 0, {},                        kReq, E::Local, N},
    {"t_wait_no_more_branches", "tm", 0, 0, {},                    kMsg, E::Local, N},
    {"t_reply_by_callid", "tm", 2, 4, {Int, String, String, Int},  kReq, E::Local, N},
    {"t_get_branch_idx_by_attr", "tm", 1, 5, {String, String, Int, PVar, Int}, kRpl | kFail | kBr, E::Local, N},
    {"remove", "registrar", 2, 5, {String, String, String, String, String}, kReq | kRpl, E::Suspend, C},
    {"is_contact_registered", "registrar", 1, 4, {String, String, String, String}, kReq | kRpl | kFail | kBr | kLoc, E::Suspend, C},
    {"is_ip_registered", "registrar", 2, 3, {String, String, PVar}, kReq | kRpl | kFail | kBr | kLoc, E::Suspend, C},
    {"pn_process_purr", "registrar", 1, 1, {String},               kMsg, E::Suspend, C},
    {"remove_body_part", "sipmsgops", 0, 2, {String, String},      kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"add_body_part", "sipmsgops", 2, 3, {String, String, String}, kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_exists", "sipmsgops", 1, 2, {String, String},          kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_exists_re", "sipmsgops", 1, 1, {String},               kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_delete", "sipmsgops", 1, 2, {String, String},          kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_delete_re", "sipmsgops", 1, 1, {String},               kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_delete_except_re", "sipmsgops", 1, 1, {String},        kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_move_up", "sipmsgops", 1, 2, {String, String},         kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_move_up_re", "sipmsgops", 1, 1, {String},              kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_move_down", "sipmsgops", 1, 2, {String, String},       kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"codec_move_down_re", "sipmsgops", 1, 1, {String},            kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"stream_exists", "sipmsgops", 1, 2, {String, String},         kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"stream_delete", "sipmsgops", 1, 2, {String, String},         kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"list_hdr_has_option", "sipmsgops", 2, 2, {String, String},   kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"list_hdr_add_option", "sipmsgops", 2, 2, {String, String},   kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"list_hdr_remove_option", "sipmsgops", 2, 2, {String, String}, kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"append_body_to_reply", "sipmsgops", 1, 1, {String},          kMsg, E::Local, N},
    {"get_updated_body_part", "sipmsgops", 1, 2, {String, PVar},   kMsg, E::Local, N},
    {"get_glob_headers_values", "sipmsgops", 3, 3, {String, PVar, PVar}, kMsg, E::Local, N},
    {"sip_to_json", "sipmsgops", 1, 1, {PVar},                     kMsg, E::Local, N},
    {"replace_body_atonce", "textops", 2, 2, {String, String},     kReq | kRpl | kFail | kBr | kLoc, E::Local, N},
    {"acc_aaa_request", "acc", 1, 1, {String},                     kReq | kFail | kBr | kLoc, E::Local, N},
    {"acc_evi_request", "acc", 1, 1, {String},                     kReq | kFail | kBr | kLoc, E::Local, N},
    {"acc_new_leg", "acc", 0, 0, {},                               kReq | kFail | kBr | kLoc, E::Local, N},
    {"acc_load_ctx_from_dlg", "acc", 0, 0, {},                     kAny, E::Local, N},
    {"acc_unload_ctx_from_dlg", "acc", 0, 0, {},                   kAny, E::Local, N},
    {"ds_push_script_attrs", "dispatcher", 3, 5, {String, String, Int, Int, String}, kAny, E::Local, N},
    {"ds_get_script_attrs", "dispatcher", 3, 4, {String, Int, String, PVar}, kAny, E::Local, N},
    {"db_does_uri_exist", "auth_db|uri", 0, 2, {String, String},   kReq | kFail | kLoc, E::Suspend, C},
    {"db_is_to_authorized", "auth_db", 1, 1, {String},             kReq, E::Suspend, C},
    {"db_is_from_authorized", "auth_db", 1, 1, {String},           kReq, E::Suspend, C},
    {"db_get_auth_id", "auth_db", 4, 4, {String, String, PVar, PVar}, kReq | kFail | kLoc, E::Suspend, C},
    {"abort", "cfgutils", 0, 0, {},                                kAny, E::Local, N},
    {"pkg_status", "cfgutils", 0, 0, {},                           kAny, E::Local, N},
    {"shm_status", "cfgutils", 0, 0, {},                           kAny, E::Local, N},
    {"set_count", "cfgutils", 2, 2, {PVar, PVar},                  kAny, E::Local, N},
    {"set_select_weight", "cfgutils", 1, 1, {PVar},                kAny, E::Local, N},
    {"get_accurate_time", "cfgutils", 2, 3, {PVar, PVar, PVar},    kAny, E::Local, N},
    {"get_static_lock", "cfgutils", 1, 1, {String},                kAny, E::Local, N},
    {"release_static_lock", "cfgutils", 1, 1, {String},            kAny, E::Local, N},
    {"get_dynamic_lock", "cfgutils", 1, 1, {String},               kAny, E::Local, N},
    {"release_dynamic_lock", "cfgutils", 1, 1, {String},           kAny, E::Local, N},
    {"check_time_rec", "cfgutils", 1, 2, {String, Int},            kAny, E::Local, N},
    {"ts_usec_delta", "cfgutils", 4, 6, {Int, Int, Int, Int, PVar, PVar}, kAny, E::Local, N},
    {"strings_share_lock", "cfgutils", 2, 2, {String, String},     kAny, E::Local, N},
    {"set_deny_filter", "uac_redirect", 2, 2, {String, String},    kFail, E::Local, N},
    {"set_accept_filter", "uac_redirect", 2, 2, {String, String},  kFail, E::Local, N},
};

// clang-format on
}  // namespace functions

namespace modparams {
using enum ValueType;

// clang-format off
constexpr ModParamSpec kModParams[] = {
    // ---- sl -------------------------------------------------------------------------------------------
    {"sl", "enable_stats", "", Int, "1"},

    // ---- tm -------------------------------------------------------------------------------------------
    {"tm", "fr_timeout",               "fr_timer",     Int, "5"},
    {"tm", "fr_inv_timeout",           "fr_inv_timer", Int, "120"},
    {"tm", "wt_timer",                 "", Int, "5"},
    {"tm", "delete_timer",             "", Int, "2"},
    {"tm", "T1_timer",                 "", Int, "500"},
    {"tm", "T2_timer",                 "", Int, "4000"},
    {"tm", "ruri_matching",            "", Int, "1"},
    {"tm", "via1_matching",            "", Int, "1"},
    {"tm", "restart_fr_on_each_reply", "", Int, "1"},
    {"tm", "tw_append",                "", String, ""},
    {"tm", "enable_stats",             "", Int, "1"},
    {"tm", "pass_provisional_replies", "", Int, "0"},
    {"tm", "syn_branch",               "", Int, "1"},
    {"tm", "onreply_avp_mode",         "", Int, "0"},
    {"tm", "disable_6xx_block",        "", Int, "0"},
    {"tm", "minor_branch_flag",        "", Any, ""},
    {"tm", "timer_partitions",         "", Int, "1"},
    {"tm", "auto_100trying",           "", Int, "1"},

    // ---- maxfwd ---------------------------------------------------------------------------------------
    {"maxfwd", "max_limit", "", Int, "256"},

    // ---- rr -------------------------------------------------------------------------------------------
    {"rr", "append_fromtag",   "", Int, "1"},
    {"rr", "enable_double_rr", "", Int, "1"},
    {"rr", "enable_full_lr",   "", Int, "0"},
    {"rr", "add_username",     "", Int, "0"},

    // ---- registrar ------------------------------------------------------------------------------------
    {"registrar", "default_expires",     "", Int, "3600"},
    {"registrar", "default_q",           "", Int, "0"},
    {"registrar", "case_sensitive",      "", Int, "1"},
    {"registrar", "tcp_persistent_flag", "", Any, ""},
    {"registrar", "realm_prefix",        "", String, ""},
    {"registrar", "min_expires",         "", Int, "60"},
    {"registrar", "max_expires",         "", Int, "0"},
    {"registrar", "received_param",      "", String, "received"},
    {"registrar", "received_avp",        "", String, ""},
    {"registrar", "max_contacts",        "", Int, "0"},
    {"registrar", "retry_after",         "", Int, "0"},
    {"registrar", "sock_hdr_name",       "", String, ""},
    {"registrar", "mcontact_avp",        "", String, ""},
    {"registrar", "attr_avp",            "", String, ""},
    {"registrar", "gruu_secret",         "", String, ""},
    {"registrar", "disable_gruu",        "", Int, "1"},
    {"registrar", "append_branches",     "", Int, "1"},
    {"registrar", "method_filtering",    "", Int, "0"},
    {"registrar", "use_path",            "", Int, "0"},
    {"registrar", "path_mode",           "", Int, "2"},
    {"registrar", "path_use_received",   "", Int, "0"},
    // 3.x push notifications (RFC 8599).
    {"registrar", "pn_enable",           "", Int, "0"},
    {"registrar", "pn_providers",        "", String, ""},
    {"registrar", "pn_refresh_timeout",  "", Int, "0"},
    {"registrar", "pn_ct_match_params",  "", String, "pn-provider, pn-prid, pn-param"},
    {"registrar", "pn_pnsreg_interval",  "", Int, "130"},
    {"registrar", "pn_trigger_interval", "", Int, "120"},
    {"registrar", "pn_skip_pn_interval", "", Int, "0"},

    // ---- usrloc ---------------------------------------------------------------------------------------
    {"usrloc", "db_url",            "", String, ""},
    {"usrloc", "db_mode",           "", Int, "0"},
    {"usrloc", "timer_interval",    "", Int, "60"},
    {"usrloc", "use_domain",        "", Int, "0"},
    {"usrloc", "desc_time_order",   "", Int, "0"},
    {"usrloc", "matching_mode",     "", Int, "0"},
    {"usrloc", "cseq_delay",        "", Int, "20"},
    {"usrloc", "hash_size",         "", Int, "9"},
    {"usrloc", "nat_bflag",         "", Any, ""},
    {"usrloc", "working_mode_preset", "", String, ""},
    {"usrloc", "user_column",       "", String, "username"},
    {"usrloc", "domain_column",     "", String, "domain"},
    {"usrloc", "contact_column",    "", String, "contact"},
    {"usrloc", "expires_column",    "", String, "expires"},
    {"usrloc", "q_column",          "", String, "q"},
    {"usrloc", "callid_column",     "", String, "callid"},
    {"usrloc", "cseq_column",       "", String, "cseq"},
    {"usrloc", "flags_column",      "", String, "flags"},
    {"usrloc", "cflags_column",     "", String, "cflags"},
    {"usrloc", "user_agent_column", "", String, "user_agent"},
    {"usrloc", "received_column",   "", String, "received"},
    {"usrloc", "path_column",       "", String, "path"},
    {"usrloc", "socket_column",     "", String, "socket"},
    {"usrloc", "methods_column",    "", String, "methods"},

    // ---- mi_fifo --------------------------------------------------------------------------------------
    {"mi_fifo", "fifo_name",    "", String, ""},
    {"mi_fifo", "fifo_mode",    "", Int, "0660"},
    {"mi_fifo", "fifo_group",   "", Any, ""},
    {"mi_fifo", "fifo_user",    "", Any, ""},
    {"mi_fifo", "reply_dir",    "", String, "/tmp/"},
    {"mi_fifo", "reply_indent", "", String, "\t"},

    // ---- mi_datagram ----------------------------------------------------------------------------------
    {"mi_datagram", "socket_name",       "", String, ""},
    {"mi_datagram", "unix_socket_mode",  "", Int, "0660"},
    {"mi_datagram", "unix_socket_user",  "", Any, ""},
    {"mi_datagram", "unix_socket_group", "", Any, ""},

    // ---- httpd, mi_http --------------------------------------------------------------------------------
    {"httpd",   "ip",   "", String, ""},
    {"httpd",   "port", "", Int, "8888"},
    {"mi_http", "root", "", String, "mi"},
    {"prometheus", "root",         "", String, "metrics"},
    {"prometheus", "prefix",       "", String, "opensips"},
    {"prometheus", "delimiter",    "", String, "_"},
    {"prometheus", "group_prefix", "", String, ""},
    {"prometheus", "group_label",  "", String, "group"},
    {"prometheus", "group_mode",   "", Int, "0"},
    {"prometheus", "statistics",   "", String, ""},
    {"prometheus", "labels",       "", String, ""},

    // ---- uri (its database checks: db_check_to/from, db_does_uri_exist) -------------------------------
    {"uri", "db_url",            "", String, ""},
    {"uri", "db_table",          "", String, "subscriber"},
    {"uri", "use_uri_table",     "", Int, "0"},
    {"uri", "use_domain",        "", Int, "0"},
    {"uri", "user_column",       "", String, "username"},
    {"uri", "domain_column",     "", String, "domain"},
    {"uri", "uriuser_column",    "", String, "uri_user"},
    {"uri", "use_sip_uri_host",  "", Int, "0"},
    {"uri", "aaa_url",           "", String, ""},
    {"uri", "service_type",      "", Int, "0"},

    // ---- avpops ---------------------------------------------------------------------------------------
    {"avpops", "db_url",           "avp_url", String, ""},
    {"avpops", "avp_table",        "", String, ""},
    {"avpops", "use_domain",       "", Int, "0"},
    {"avpops", "uuid_column",      "", String, "uuid"},
    {"avpops", "attribute_column", "", String, "attribute"},
    {"avpops", "value_column",     "", String, "value"},
    {"avpops", "type_column",      "", String, "type"},
    {"avpops", "username_column",  "", String, "username"},
    {"avpops", "domain_column",    "", String, "domain"},
    {"avpops", "db_scheme",        "", String, ""},

    // ---- acc (1.x flag parameters; 3.x does_accounting() and extra_fields/leg_fields) -----------------
    {"acc", "early_media",             "", Int, "0"},
    {"acc", "report_cancels",          "", Int, "0"},
    {"acc", "report_ack",              "", Int, "0"},
    {"acc", "detect_direction",        "", Int, "0"},
    {"acc", "failed_transaction_flag", "", Any, ""},
    {"acc", "multi_leg_info",          "", String, ""},
    {"acc", "log_flag",                "", Any, ""},
    {"acc", "log_missed_flag",         "", Any, ""},
    {"acc", "log_level",               "", Int, "2"},
    {"acc", "log_facility",            "", String, "LOG_DAEMON"},
    {"acc", "log_extra",               "", String, ""},
    {"acc", "extra_fields",            "", String, ""},
    {"acc", "leg_fields",              "", String, ""},
    {"acc", "db_flag",                 "", Any, ""},
    {"acc", "db_missed_flag",          "", Any, ""},
    {"acc", "db_extra",                "", String, ""},
    {"acc", "db_url",                  "", String, ""},
    {"acc", "db_table_acc",            "", String, "acc"},
    {"acc", "db_table_missed_calls",   "", String, "missed_calls"},
    {"acc", "acc_method_column",       "", String, "method"},
    {"acc", "acc_from_tag_column",     "", String, "from_tag"},
    {"acc", "acc_to_tag_column",       "", String, "to_tag"},
    {"acc", "acc_callid_column",       "", String, "callid"},
    {"acc", "acc_sip_code_column",     "", String, "sip_code"},
    {"acc", "acc_sip_reason_column",   "", String, "sip_reason"},
    {"acc", "acc_time_column",         "", String, "time"},

    // ---- proto_* --------------------------------------------------------------------------------------
    {"proto_udp", "udp_port",                        "", Int, "5060"},
    {"proto_tcp", "tcp_port",                        "", Int, "5060"},
    {"proto_tcp", "tcp_send_timeout",                "", Int, "100"},
    {"proto_tcp", "tcp_max_msg_chunks",              "", Int, "32"},
    {"proto_tcp", "tcp_crlf_pingpong",               "", Int, "1"},
    {"proto_tcp", "tcp_crlf_drop",                   "", Int, "0"},
    {"proto_tcp", "tcp_async",                       "", Int, "1"},
    {"proto_tcp", "tcp_async_max_postponed_chunks",  "", Int, "32"},
    {"proto_tcp", "tcp_async_local_connect_timeout", "", Int, "100"},
    {"proto_tcp", "tcp_async_local_write_timeout",   "", Int, "10"},
    {"tls_mgm",   "server_domain",                   "", Any, ""},
    {"tls_mgm",   "client_domain",                   "", Any, ""},
    {"tls_mgm",   "certificate",                     "", Any, ""},
    {"tls_mgm",   "private_key",                     "", Any, ""},
    {"tls_mgm",   "ca_list",                         "", Any, ""},
    {"tls_mgm",   "ca_dir",                          "", Any, ""},
    {"tls_mgm",   "crl_dir",                         "", Any, ""},
    {"tls_mgm",   "crl_check_all",                   "", Any, ""},
    {"tls_mgm",   "dh_params",                       "", Any, ""},
    {"tls_mgm",   "ec_curve",                        "", Any, ""},
    {"tls_mgm",   "verify_cert",                     "", Any, ""},
    {"tls_mgm",   "require_cert",                    "", Any, ""},
    {"tls_mgm",   "tls_method",                      "", Any, ""},
    {"tls_mgm",   "ciphers_list",                    "", Any, ""},
    {"tls_mgm",   "match_ip_address",                "", Any, ""},
    {"tls_mgm",   "match_sip_domain",                "", Any, ""},
    {"proto_tls", "tls_port",                        "", Int, "5061"},
    {"proto_tls", "tls_send_timeout",                "", Int, "100"},
    {"proto_tls", "tls_handshake_timeout",           "", Int, "100"},
    {"proto_tls", "tls_max_msg_chunks",              "", Int, "4"},
    {"proto_tls", "tls_crlf_pingpong",               "", Int, "1"},
    {"proto_tls", "tls_crlf_drop",                   "", Int, "0"},

    // ---- dispatcher -----------------------------------------------------------------------------------
    {"dispatcher", "list_file",             "", String, "/etc/opensips/dispatcher.list"},
    {"dispatcher", "flags",                 "", Int, "0"},
    {"dispatcher", "force_dst",             "", Int, "0"},
    {"dispatcher", "use_default",           "", Int, "0"},
    {"dispatcher", "partition",             "", String, ""},
    {"dispatcher", "db_url",                "", String, ""},
    {"dispatcher", "table_name",            "", String, "dispatcher"},
    {"dispatcher", "setid_col",             "", String, "setid"},
    {"dispatcher", "destination_col",       "", String, "destination"},
    {"dispatcher", "socket_col",            "", String, "socket"},
    {"dispatcher", "state_col",             "", String, "state"},
    {"dispatcher", "weight_col",            "", String, "weight"},
    {"dispatcher", "priority_col",          "", String, "priority"},
    {"dispatcher", "attrs_col",             "", String, "attrs"},
    {"dispatcher", "dst_avp",               "", String, ""},
    {"dispatcher", "grp_avp",               "", String, ""},
    {"dispatcher", "cnt_avp",               "", String, ""},
    {"dispatcher", "sock_avp",              "", String, ""},
    {"dispatcher", "attrs_avp",             "", String, ""},
    {"dispatcher", "hash_pvar",             "", String, ""},
    {"dispatcher", "setid_pvar",            "", String, ""},
    // Spelled so by OpenSIPS.
    {"dispatcher", "ds_probing_threshhold", "", Int, "3"},
    {"dispatcher", "ds_ping_method",        "", String, "OPTIONS"},
    {"dispatcher", "ds_ping_from",          "", String, "sip:dispatcher@localhost"},
    {"dispatcher", "ds_ping_interval",      "", Int, "0"},
    {"dispatcher", "ds_probing_mode",       "", Int, "0"},
    {"dispatcher", "options_reply_codes",   "", String, ""},
    {"dispatcher", "ds_probing_sock",       "", String, ""},
    {"dispatcher", "ds_define_blacklist",   "", String, ""},

    // ---- auth -----------------------------------------------------------------------------------------
    {"auth", "secret",              "", String, ""},
    {"auth", "nonce_expire",        "", Int, "30"},
    {"auth", "rpid_prefix",         "", String, ""},
    {"auth", "rpid_suffix",         "", String, ";party=calling;id-type=subscriber;screen=yes"},
    {"auth", "realm_prefix",        "", String, ""},
    {"auth", "rpid_avp",            "", String, "$avp(rpid)"},
    {"auth", "username_spec",       "", String, ""},
    {"auth", "password_spec",       "", String, ""},
    {"auth", "calculate_ha1",       "", Int, "0"},
    {"auth", "disable_nonce_check", "", Int, "0"},

    // ---- auth_db --------------------------------------------------------------------------------------
    {"auth_db", "db_url",            "", String, "mysql://opensipsro:opensipsro@localhost/opensips"},
    {"auth_db", "user_column",       "", String, "username"},
    {"auth_db", "domain_column",     "", String, "domain"},
    {"auth_db", "password_column",   "", String, "ha1"},
    {"auth_db", "password_column_2", "", String, "ha1b"},
    {"auth_db", "calculate_ha1",     "", Int, "0"},
    {"auth_db", "use_domain",        "", Int, "0"},
    {"auth_db", "load_credentials",  "", String, "rpid"},
    {"auth_db", "skip_version_check", "", Int, "0"},

    // ---- nathelper ------------------------------------------------------------------------------------
    {"nathelper", "natping_interval",  "", Int, "0"},
    {"nathelper", "ping_nated_only",   "", Int, "0"},
    {"nathelper", "nortpproxy_str",    "", String, "a=nortpproxy:yes"},
    {"nathelper", "received_avp",      "", String, ""},
    {"nathelper", "force_socket",      "", String, ""},
    {"nathelper", "sipping_from",      "", String, ""},
    {"nathelper", "sipping_method",    "", String, "OPTIONS"},
    {"nathelper", "sipping_bflag",     "", Any, ""},
    {"nathelper", "natping_processes", "", Int, "1"},
    {"nathelper", "natping_socket",    "", String, ""},
    {"nathelper", "natping_tcp",       "", Int, "0"},
    {"nathelper", "ping_threshold",    "", Int, "3"},
    {"nathelper", "remove_on_timeout_bflag", "", Any, ""},
    {"nathelper", "max_pings_lost",    "", Int, "3"},

    // ---- pike -----------------------------------------------------------------------------------------
    {"pike", "sampling_time_unit",    "", Int, "2"},
    {"pike", "reqs_density_per_unit", "", Int, "30"},
    {"pike", "remove_latency",        "", Int, "120"},
    {"pike", "pike_log_level",        "", Int, "1"},
    {"pike", "check_route",           "", String, ""},

    // ---- gflags / cfgutils ----------------------------------------------------------------------------
    {"gflags",   "initial",             "", Int, "0"},
    {"cfgutils", "initial_probability", "", Int, "10"},
    {"cfgutils", "hash_file",           "", String, ""},
    {"cfgutils", "shvset",              "", String, ""},
    {"cfgutils", "varset",              "", String, ""},

    // ---- databases and the 1.x xlog module ------------------------------------------------------------
    {"db_mysql",  "ping_interval",        "", Int, "300"},
    {"db_mysql",  "timeout_interval",     "", Int, "2"},
    {"db_mysql",  "exec_query_threshold", "", Int, "0"},
    {"db_mysql",  "max_db_queries",       "", Int, "2"},
    {"db_sqlite", "alloc_limit",          "", Int, "10"},
    {"db_sqlite", "load_extension",       "", String, ""},
    {"xlog",      "buf_size",             "", Int, "4096"},
    {"xlog",      "force_color",          "", Int, "0"},
};

// Core parameters (name, the other generation's spelling, type, appliance-owned).
constexpr GlobalSpec kGlobals[] = {
    {"log_level",                      "debug", Int},
    {"log_stderror",                   "", Bool},
    {"log_stdout",                     "", Bool},
    // 3.2+ split log_stderror into stderror_enabled/syslog_enabled and renamed the syslog settings.
    {"log_facility",                   "syslog_facility", Any},
    {"log_name",                       "syslog_name", String},
    {"stderror_enabled",               "", Bool},
    {"syslog_enabled",                 "", Bool},
    {"debug_mode",                     "", Bool},
    {"xlog_level",                     "", Int},
    {"memlog",                         "", Int},
    {"memdump",                        "", Int},
    {"fork",                           "", Bool, true},
    {"udp_workers",                    "children", Int, true},
    {"tcp_workers",                    "tcp_children", Int, true},
    {"timer_workers",                  "", Int, true},
    {"auto_scaling_profile",           "", Any, true},
    {"auto_scaling_cycle",             "", Int, true},
    {"tcp_accept_aliases",             "", Bool},
    {"disable_tcp",                    "", Bool},
    {"disable_tls",                    "", Bool},
    {"listen",                         "socket", Any},
    {"port",                           "", Int},
    {"alias",                          "", Any},
    {"auto_aliases",                   "", Bool},
    {"advertised_address",             "", Any},
    {"advertised_port",                "", Int},
    {"user",                           "uid", Any},
    {"group",                          "gid", Any},
    {"wdir",                           "", String},
    {"chroot",                         "", String},
    {"mpath",                          "", String},
    {"server_header",                  "", String},
    {"server_signature",               "", Bool},
    {"user_agent_header",              "", String},
    {"sip_warning",                    "", Bool},
    {"check_via",                      "", Bool},
    {"dns",                            "", Bool},
    {"rev_dns",                        "", Bool},
    {"dns_try_ipv6",                   "", Bool},
    {"dns_try_naptr",                  "", Bool},
    {"dns_retr_time",                  "", Int},
    {"dns_retr_no",                    "", Int},
    {"dns_servers_no",                 "", Int},
    {"dns_use_search_list",            "", Bool},
    {"disable_dns_failover",           "", Bool},
    {"disable_dns_blacklist",          "", Bool},
    {"disable_stateless_fwd",          "", Bool},
    {"disable_503_translation",        "", Bool},
    {"disable_core_dump",              "", Bool},
    {"open_files_limit",               "", Int},
    {"tos",                            "", Any},
    {"mhomed",                         "", Bool},
    {"maxbuffer",                      "", Int},
    {"max_while_loops",                "", Int},
    {"reply_to_via",                   "", Bool},
    {"tcp_connect_timeout",            "", Int},
    {"tcp_connection_lifetime",        "", Int},
    {"tcp_max_connections",            "", Int},
    {"xlog_buf_size",                  "", Int},
    {"xlog_force_color",               "", Bool},
    {"xlog_default_level",             "", Int},
    {"db_default_url",                 "", String},
    {"tls_verify_server",              "", Bool},
    {"tls_verify_client",              "", Bool},
    {"tls_require_client_certificate", "", Bool},
    {"tls_method",                     "", Any},
    {"tls_certificate",                "", String},
    {"tls_private_key",                "", String},
    {"tls_ca_list",                    "", String},
    {"tls_ciphers_list",               "", String},
    {"tls_handshake_timeout",          "", Int},
    {"tls_send_timeout",               "", Int},
};
// clang-format on
}  // namespace modparams

// Pseudo-variables (name without '$', takes an argument, writable, module).
// clang-format off
constexpr PVarSpec kPVars[] = {
    // Script, AVP and header access.
    {"var", true, true, "core"},       {"avp", true, true, "core"},      {"hdr", true, false, "core"},
    {"hdrcnt", true, false, "core"},
    // Request-URI (writable), destination URI, original R-URI.
    {"ru", false, true, "core"},       {"ruri", false, true, "core"},    {"rU", false, true, "core"},
    {"rd", false, true, "core"},       {"rp", false, true, "core"},      {"rP", false, false, "core"},
    {"ru_q", false, true, "core"},     {"du", false, true, "core"},      {"duri", false, true, "core"},
    {"dd", false, true, "core"},       {"dp", false, true, "core"},      {"dP", false, false, "core"},
    {"ds", false, false, "core"},      {"ou", false, false, "core"},     {"ouri", false, false, "core"},
    {"oU", false, false, "core"},      {"od", false, false, "core"},     {"op", false, false, "core"},
    {"oP", false, false, "core"},
    // From / To.
    {"fu", false, true, "core"},      {"fU", false, true, "core"},     {"fd", false, true, "core"},
    {"fn", false, false, "core"},      {"ft", false, false, "core"},     {"tu", false, true, "core"},
    {"tU", false, true, "core"},      {"td", false, true, "core"},     {"tn", false, false, "core"},
    {"tt", false, false, "core"},
    // Other headers and the message.
    {"ci", false, false, "core"},      {"cs", false, false, "core"},     {"cl", false, false, "core"},
    {"ct", false, false, "core"},      {"cT", false, false, "core"},     {"ua", false, false, "core"},
    {"rm", false, false, "core"},      {"rs", false, false, "core"},     {"rr", false, false, "core"},
    {"rb", false, false, "core"},      {"mb", false, false, "core"},     {"ml", false, false, "core"},
    {"mi", false, false, "core"},      {"di", false, false, "core"},     {"dir", false, false, "core"},
    {"dip", false, false, "core"},     {"ai", false, false, "core"},     {"pu", false, false, "core"},
    {"pU", false, false, "core"},      {"pd", false, false, "core"},     {"pn", false, false, "core"},
    {"re", false, false, "core"},      {"rt", false, false, "core"},     {"path", false, false, "core"},
    // Authorization credentials.
    {"au", false, false, "core"},      {"ad", false, false, "core"},     {"aU", false, false, "core"},
    {"ar", false, false, "core"},      {"an", false, false, "core"},     {"adu", false, false, "core"},
    {"Au", false, false, "core"},
    // Transport.
    {"si", false, false, "core"},      {"sp", false, false, "core"},     {"Ri", false, false, "core"},
    {"Rp", false, false, "core"},      {"pr", false, false, "core"},     {"proto", false, false, "core"},
    {"fs", false, true, "core"},       {"src_ip", false, false, "core"}, {"af", false, false, "core"},
    // Flags and branches ($br, $bR, $bF, $mF, $sf, $sF are 1.x).
    {"mf", false, false, "core"},      {"mF", false, false, "core"},     {"bf", false, false, "core"},
    {"bF", false, false, "core"},      {"sf", false, false, "core"},     {"sF", false, false, "core"},
    {"br", false, true, "core"},       {"bR", false, false, "core"},
    // 3.x: $branch (assigning adds a branch), $branch.fields(name), $branch.flag(name).
    {"branch", true, true, "core", true},   {"branch.fields", true, true, "core"}, {"branch.flag", true, true, "core"},
    // Script state, time, process.
    {"retcode", false, false, "core"}, {"rc", false, false, "core"},     {"param", true, false, "core"},
    {"argv", true, false, "core"},     {"time", true, false, "core"},    {"Tf", false, false, "core"},
    {"Ts", false, false, "core"},      {"Tsm", false, false, "core"},    {"TS", false, false, "core"},
    {"pp", false, false, "core"},
    // Not an OpenSIPS name: DESIGN.md spells the process id so; $pp is OpenSIPS's.
    {"pid", false, false, "core"},
    {"log_level", false, true, "core"}, {"cfg_line", false, false, "core"}, {"cfg_file", false, false, "core"},
    {"C", true, false, "core"},         {"xlog_level", false, true, "core"},
    // 3.x: the receiving and sending sockets, $socket_in(ip|port|proto|advertised_ip|advertised_port|tag|
    // anycast|af); contacts one by one; message flags by name; header names by position.
    {"socket_in", true, false, "core", true}, {"socket_out", true, true, "core", true},
    {"ct.fields", true, false, "core"},       {"msg.flag", true, true, "core"},
    {"hdr_name", false, false, "core"},
    // Error information.
    {"err.class", false, false, "core"}, {"err.level", false, false, "core"},
    {"err.info", false, false, "core"},  {"err.rcode", false, false, "core"},
    {"err.rreason", false, false, "core"},
    // Modules.
    {"T_branch_idx", false, false, "tm"},     {"T_reply_code", false, false, "tm"},
    {"T_ruri", false, false, "tm"},           {"T_id", false, false, "tm"},
    {"T_fr_timeout", false, true, "tm"},      {"T_fr_inv_timeout", false, true, "tm"},
    {"T_branch_last_reply_code", false, false, "tm"},
    {"bavp", true, true, "tm"},               {"sig_local_totag", false, false, "signaling"},
    {"acc_extra", true, true, "acc"},         {"RANDOM", false, false, "cfgutils"},
    {"shv", true, true, "cfgutils"},
};


// Core keywords and values. Protocol and address-family names in both cases, as OpenSIPS's lexer takes them.
constexpr std::string_view kKeywords[] = {
    "af",      "proto",    "method",   "status",  "retcode", "uri",     "from_uri", "to_uri",
    "src_ip",  "src_port", "dst_ip",   "dst_port", "snd_ip", "snd_port", "snd_proto", "snd_af",
    "myself",  "max_len",  "msg:len",
    "INET",    "INET6",    "UDP",      "TCP",     "TLS",     "SCTP",    "WS",       "WSS",
    "inet",    "inet6",    "udp",      "tcp",     "tls",     "sctp",    "ws",       "wss",
    "null",    "NULL",     "yes",      "no",       "true",    "false",   "on",      "off",
};

// Events (OpenSIPS 3.x's core and module events). sipd raises none of them yet.
constexpr EventSpec kEvents[] = {
    {"E_CORE_THRESHOLD", "core"},       {"E_CORE_PKG_THRESHOLD", "core"},     {"E_CORE_SHM_THRESHOLD", "core"},
    {"E_CORE_PROC_AUTO_SCALE", "core"}, {"E_CORE_TCP_DISCONNECT", "core"},    {"E_CORE_SR_STATUS_CHANGED", "core"},
    {"E_CORE_LOG", "core"},             {"E_UL_AOR_INSERT", "usrloc"},        {"E_UL_AOR_DELETE", "usrloc"},
    {"E_UL_CONTACT_INSERT", "usrloc"},  {"E_UL_CONTACT_UPDATE", "usrloc"},    {"E_UL_CONTACT_DELETE", "usrloc"},
    {"E_UL_CONTACT_REFRESH", "usrloc"}, {"E_UL_LATENCY_UPDATE", "usrloc"},    {"E_PIKE_BLOCKED", "pike"},
    {"E_DLG_STATE_CHANGED", "dialog"},  {"E_DISPATCHER_STATUS", "dispatcher"}, {"E_RTPPROXY_STATUS", "rtpproxy"},
    {"E_ACC_CDR", "acc"},               {"E_ACC_EVENT", "acc"},               {"E_ACC_MISSED_EVENT", "acc"},
    {"E_REGISTRAR_REGISTRATION", "registrar"},
};
// clang-format on

}  // namespace

const Registry& registry() {
  static const Registry kRegistry{
      kModules,
      functions::kFunctions,
      modparams::kModParams,
      modparams::kGlobals,
      kPVars,
      transform_table(),
      kKeywords,
      kEvents,
  };
  return kRegistry;
}

}  // namespace sipd::config
