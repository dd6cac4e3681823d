// The routing-script parser on the tutorial's snippets (../shared/seed/opensips-tutorial.zh.txt): the
// configuration blocks parse into globals, modules and modparams; the script examples into routes; and
// the snippets the page mangled give their FILE:LINE:COL errors. Names are not checked here (the checker
// arrives with the rest of issue 3).
#include "config/parser.h"

#include <gtest/gtest.h>

#include <string>

namespace sipd::config {
namespace {

struct Parsed {
  SourceFile file;
  Diagnostics diags;
  Script script;
  std::string rendered;
};

std::unique_ptr<Parsed> parse(const std::string& text, const std::string& name = "opensips.cfg") {
  auto p = std::make_unique<Parsed>(Parsed{SourceFile(name, text), {}, {}, {}});
  p->script = parse_script(p->file, p->diags);
  p->rendered = p->diags.render(p->file);
  return p;
}

std::string route_body(const std::string& statements) { return "route {\n" + statements + "\n}\n"; }

TEST(parser, GlobalParameterBlock) {
  const auto p = parse(
      "debug=3 # set the debug leve to 3\nlog_stderror=no # log to syslog\nlog_facility=LoG_LoCAL0\n"
      "fork=yes\nchildren=4\ntcp_children=6\ndisable_tcp=no\ndisable_tls=no\nport=5060\n"
      "listen=udp:192.168.152.148:5060\nlisten=tcp:192.168.152.148:5061\nlisten=tls:192.168.152.148:5062\n"
      "alias=\"mydomain.sip\" # to set alias hostnames\nauto_aliases=no\ndisable_dns_failover = yes\n"
      "server_signature = yes\nsip_warning=yes\nmpath=\"/usr/lib64/opensips/modules/\"\n");
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  ASSERT_EQ(p->script.globals.size(), 18u);
  EXPECT_EQ(p->script.globals[0].names[0], "debug");
  EXPECT_EQ(p->script.globals[0].value.text, "3");
  EXPECT_EQ(p->script.globals[2].value.text, "LoG_LoCAL0");
  EXPECT_EQ(p->script.globals[9].value.text, "udp:192.168.152.148:5060");
  EXPECT_EQ(p->script.globals[12].value.kind, Tok::String);
  EXPECT_EQ(p->script.globals[12].value.text, "mydomain.sip");
  EXPECT_EQ(p->script.globals[14].value.text, "yes");
}

TEST(parser, DaemonBlockNamesBothSpellings) {
  const auto p = parse(
      "gid/group=sip # unix group\nuid/user=sip # unix user\nwdir=\"/\"\n"
      "chroot=\"/usr/local/opensips-1.6\"\n");
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  ASSERT_EQ(p->script.globals.size(), 4u);
  EXPECT_EQ(p->script.globals[0].names, (std::vector<std::string>{"gid", "group"}));
  EXPECT_EQ(p->script.globals[0].value.text, "sip");
  EXPECT_EQ(p->script.globals[3].value.text, "/usr/local/opensips-1.6");
}

TEST(parser, ModuleBlock) {
  const auto p = parse(
      "mpath=\"/usr/lib64/opensips/modules/\"\nloadmodule \"signaling.so\"\nloadmodule \"sl.so\"\n"
      "loadmodule \"tm.so\"\nmodparam(\"tm\", \"fr_timer\", 5)\nmodparam(\"tm\", \"fr_inv_timer\", 30)\n"
      "modparam(\"tm\", \"restart_fr_on_each_reply\", 0)\nmodparam(\"tm\", \"onreply_avp_mode\", 1)\n"
      "loadmodule \"mi_fifo.so\"\nmodparam(\"mi_fifo\", \"fifo_name\", \"/tmp/opensips_fifo\")\n"
      "modparam(\"mi_fifo\", \"fifo_mode\", 0666)\n");
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  ASSERT_EQ(p->script.modules.size(), 4u);
  EXPECT_EQ(p->script.modules[1].path, "sl.so");
  ASSERT_EQ(p->script.modparams.size(), 6u);
  EXPECT_EQ(p->script.modparams[0].module, "tm");
  EXPECT_EQ(p->script.modparams[0].param, "fr_timer");
  EXPECT_EQ(p->script.modparams[0].value->number, 5);
  EXPECT_EQ(p->script.modparams[4].value->text, "/tmp/opensips_fifo");
  EXPECT_EQ(p->script.modparams[5].value->number, 0666);
}

TEST(parser, ConditionsFromTheTutorial) {
  const auto p =
      parse(route_body("if(af==INET6) {\nlog(\"Message received over Ipv6 link\\n\");\n};\n"
                       "if(is_method(\"INVITE\") && from_uri=~\".*@opensips.org\")\n{\nlog(\"the caller is "
                       "from opensips.org\\n\");\n};"));
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  ASSERT_EQ(p->script.routes.size(), 1u);
  const StmtList& body = p->script.routes[0].body;
  ASSERT_EQ(body.size(), 2u);
  ASSERT_EQ(body[0]->kind, StmtKind::If);
  const Expr& c0 = *body[0]->expr;
  EXPECT_EQ(c0.kind, ExprKind::Binary);
  EXPECT_EQ(c0.op, Tok::Eq);
  EXPECT_EQ(c0.args[0]->text, "af");
  EXPECT_EQ(c0.args[1]->text, "INET6");
  const Expr& c1 = *body[1]->expr;
  EXPECT_EQ(c1.op, Tok::AndAnd);
  EXPECT_EQ(c1.args[0]->kind, ExprKind::Call);
  EXPECT_EQ(c1.args[0]->text, "is_method");
  EXPECT_EQ(c1.args[1]->op, Tok::Match);
  EXPECT_EQ(c1.args[1]->args[1]->text, ".*@opensips.org");
}

TEST(parser, ScriptVariablesAndArithmetic) {
  const auto p =
      parse(route_body("$var(b)=1;\n$var(b)=\"1\";\n$var(b)=\"$fu\"+\"$tu\";\n$var(b)=1+2;\n$var(c)=7%3|1&3^"
                       "2;\n$var(d) = ~1;\n"
                       "$var(e)=\"a=1;b=2;c=3\"{param.value,c};\n$var(f)=$ru{uri.user}{s.len};\n$avp(i:700)=$"
                       "avp(s:blacklist);"));
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  const StmtList& body = p->script.routes[0].body;
  ASSERT_EQ(body.size(), 9u);
  for (const StmtPtr& s : body) EXPECT_EQ(s->kind, StmtKind::Assign);
  EXPECT_EQ(body[3]->expr->op, Tok::Plus);
  EXPECT_EQ(body[4]->expr->op, Tok::BitXor);  // | ^ & share one level, left to right: ((7%3|1)&3)^2
  EXPECT_EQ(body[6]->expr->transforms, (std::vector<std::string>{"param.value,c"}));
  EXPECT_EQ(body[7]->expr->transforms, (std::vector<std::string>{"uri.user", "s.len"}));
  EXPECT_EQ(body[8]->target->text, "$avp(i:700)");
}

TEST(parser, IfElseAndExit) {
  const auto p = parse(route_body("if ( t_check_trans() ) {\nt_relay();\nexit;\n} else {\nexit;\n}"));
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  const Stmt& s = *p->script.routes[0].body[0];
  ASSERT_EQ(s.kind, StmtKind::If);
  ASSERT_EQ(s.body.size(), 2u);
  EXPECT_EQ(s.body[1]->kind, StmtKind::Exit);
  ASSERT_EQ(s.else_body.size(), 1u);
  EXPECT_EQ(s.else_body[0]->kind, StmtKind::Exit);
}

TEST(parser, SwitchOnRetcode) {
  const auto p = parse(
      route_body("switch($retcode)\n{\ncase -1:\nlog(\"process INVITE requests here\\n\");\nbreak;\ncase 1:\n"
                 "log(\"process REGISTER requests here\\n\");\nbreak;\ncase 2:\ncase 3:\n"
                 "log(\"process SUBSCRIBE and NoTIFY requests here\\n\");\nbreak;\ndefault:\n"
                 "log(\"process other requests here\\n\");\n}"));
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  const Stmt& s = *p->script.routes[0].body[0];
  ASSERT_EQ(s.kind, StmtKind::Switch);
  ASSERT_EQ(s.cases.size(), 5u);
  EXPECT_EQ(s.cases[0].value->kind, ExprKind::Unary);
  EXPECT_EQ(s.cases[2].body.size(), 0u);  // case 2 falls through to case 3
  EXPECT_EQ(s.cases[3].body.size(), 2u);
  EXPECT_TRUE(s.cases[4].is_default);
}

TEST(parser, RouteKindsAndNames) {
  const auto p = parse(
      "route { route(1); route(relay); }\nroute[1] { return(-1); }\nroute[relay] { t_relay(); }\n"
      "onreply_route[2] { }\nfailure_route[missed] { }\nbranch_route[3] { }\nlocal_route { }\nerror_route { "
      "}\n");
  ASSERT_TRUE(p->diags.ok()) << p->rendered;
  ASSERT_EQ(p->script.routes.size(), 8u);
  EXPECT_EQ(p->script.routes[1].name, "1");
  EXPECT_EQ(p->script.routes[2].name, "relay");
  EXPECT_EQ(p->script.routes[3].kind, RouteKind::Reply);
  EXPECT_EQ(p->script.routes[4].kind, RouteKind::Failure);
  EXPECT_EQ(p->script.routes[4].name, "missed");
  EXPECT_EQ(p->script.routes[6].kind, RouteKind::Local);
  EXPECT_EQ(p->script.routes[7].kind, RouteKind::Error);
}

// The tutorial's route[1] snippet lost a '{' after two of its ifs, so a '}' closes the route early and
// the rest of the block stands outside any route.
TEST(parser, UnbalancedBracesOfTheSubrouteSnippet) {
  const auto p = parse(
      "route[1]{\nif(is_method(\"INVITE\"))\n{\nreturn(-1);\n};\nif(is_method(\"REGISTER\"))\nreturn(1);\n}\n"
      "if(is_method(\"SUBSCRIBE\"))\nreturn(2);\n}\nif(is_method(\"NoTIFY\"))\nreturn(3);\n}\nreturn(-2);\n}"
      "\n",
      "subroute.cfg");
  ASSERT_GE(p->diags.error_count(), 1u) << p->rendered;
  const Diagnostic& first = p->diags.all()[0];
  EXPECT_EQ(first.pos.line, 9u);
  EXPECT_EQ(first.pos.column, 1u);
  EXPECT_NE(p->rendered.find("subroute.cfg:9:1: error:"), std::string::npos) << p->rendered;
  EXPECT_NE(p->rendered.find("the '}' at line 8, column 1 closed the route above"), std::string::npos)
      << p->rendered;
  EXPECT_LE(p->diags.error_count(), 4u) << p->rendered;  // one stray block is not one error per token
}

// The tutorial's global block broke a comment over two lines: "each UDpaddress" is left on its own.
TEST(parser, CommentBrokenOverTwoLines) {
  const auto p =
      parse("fork=yes # Run as a daemon\nchildren=4 # open 4 child process for\neach UDpaddress\nport=5060\n",
            "globals.cfg");
  ASSERT_EQ(p->diags.error_count(), 1u) << p->rendered;
  EXPECT_EQ(p->diags.all()[0].pos.line, 3u);
  EXPECT_EQ(p->diags.all()[0].pos.column, 1u);
  EXPECT_NE(p->rendered.find("globals.cfg:3:1: error: expected a global parameter"), std::string::npos)
      << p->rendered;
  EXPECT_EQ(p->script.globals.size(), 3u);  // fork, children and port still parsed
}

// The tutorial's identity block lost a closing quote.
TEST(parser, UnclosedQuoteInServerHeader) {
  const auto p = parse(
      "server_header=\"Server: My openSIpS\n#default is \"openSIpS (<version> (<arch>/<os>))\"\n"
      "server_signature = yes\nuser_agent_header=\"User-Agent: My openSIpS\n",
      "identity.cfg");
  ASSERT_EQ(p->diags.error_count(), 2u) << p->rendered;
  EXPECT_EQ(p->diags.all()[0].pos.line, 1u);
  EXPECT_EQ(p->diags.all()[0].pos.column, 15u);
  EXPECT_EQ(p->diags.all()[1].pos.line, 4u);
  EXPECT_EQ(p->diags.all()[1].pos.column, 19u);
  EXPECT_EQ(p->script.globals.size(), 3u);
}

TEST(parser, EveryErrorOfAFileInOneRun) {
  const auto p =
      parse(route_body("t_relay()\n$var(x) = ;\nif (is_method(\"INVITE\") {\n  drop();\n}\nforward();"));
  ASSERT_EQ(p->diags.error_count(), 3u) << p->rendered;
  EXPECT_EQ(p->diags.all()[0].pos.line, 2u);  // missing ';', reported right after t_relay()
  EXPECT_EQ(p->diags.all()[0].pos.column, 10u);
  EXPECT_EQ(p->diags.all()[1].pos.line, 3u);  // no value after '='
  EXPECT_EQ(p->diags.all()[2].pos.line, 4u);  // missing ')', the body still parsed
  ASSERT_EQ(p->script.routes.size(), 1u);
  EXPECT_EQ(p->script.routes[0].body.size(), 3u);  // t_relay(), the if, forward()
}

TEST(parser, MisplacedKeywords) {
  EXPECT_FALSE(parse(route_body("else { drop(); }"))->diags.ok());
  EXPECT_FALSE(parse(route_body("case 1: drop();"))->diags.ok());
  EXPECT_FALSE(parse("route { drop();\n")->diags.ok());                 // '{' never closed
  EXPECT_FALSE(parse("route[] { }")->diags.ok());                       // empty route name
  EXPECT_FALSE(parse("modparam(\"tm\" \"fr_timer\", 5)")->diags.ok());  // missing comma
  EXPECT_FALSE(parse("loadmodule tm.so")->diags.ok());                  // unquoted module
  EXPECT_FALSE(parse(route_body("\"x\" = 1;"))->diags.ok());            // assignment to a literal
}

TEST(parser, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "route {";
  for (int i = 0; i < 5000; ++i) deep += "if (1) {";
  const auto p = parse(deep);
  EXPECT_FALSE(p->diags.ok());
  std::string expr = "route { $var(x) = ";
  for (int i = 0; i < 5000; ++i) expr += "(";
  expr += "1;}";
  EXPECT_FALSE(parse(expr)->diags.ok());
  std::string flat = "route { $var(x) = 1";
  for (int i = 0; i < 5000; ++i) flat += " + 1";
  flat += "; }";
  EXPECT_TRUE(parse(flat)->diags.ok());
}

}  // namespace
}  // namespace sipd::config
