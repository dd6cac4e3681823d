// The routing-script lexer: every token kind, the dialect's pseudo-variables and transformations, raw
// global values, and the positioned errors the tutorial's mangled snippets need (unclosed quote, unclosed
// comment, stray characters).
#include "config/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sipd::config {
namespace {

struct Lexed {
  std::vector<Token> tokens;
  Diagnostics diags;
  std::string rendered;
};

Lexed lex(const std::string& text, const std::string& name = "test.cfg") {
  SourceFile file(name, text);
  Lexed out;
  Lexer lexer(file, out.diags);
  for (Token t = lexer.next(); t.kind != Tok::End; t = lexer.next()) out.tokens.push_back(t);
  out.rendered = out.diags.render(file);
  return out;
}

std::vector<Tok> kinds(const Lexed& l) {
  std::vector<Tok> k;
  for (const Token& t : l.tokens) k.push_back(t.kind);
  return k;
}

TEST(lexer, TutorialConditionTokens) {
  const Lexed l = lex("if(is_method(\"INVITE\") && from_uri=~\".*@opensips.org\")\n{\nlog(\"x\\n\");\n};");
  ASSERT_TRUE(l.diags.ok()) << l.rendered;
  const std::vector<Tok> want = {Tok::Ident,  Tok::LParen, Tok::Ident,  Tok::LParen, Tok::String,
                                 Tok::RParen, Tok::AndAnd, Tok::Ident,  Tok::Match,  Tok::String,
                                 Tok::RParen, Tok::LBrace, Tok::Ident,  Tok::LParen, Tok::String,
                                 Tok::RParen, Tok::Semi,   Tok::RBrace, Tok::Semi};
  EXPECT_EQ(kinds(l), want);
  EXPECT_EQ(l.tokens[4].text, "INVITE");
  EXPECT_EQ(l.tokens[9].text, ".*@opensips.org");
  EXPECT_EQ(l.tokens[14].text, "x\n");
}

TEST(lexer, Operators) {
  const Lexed l = lex("== != <= >= =~ !~ && || += -= = < > ! + - * / % | & ^ ~ : , [ ]");
  ASSERT_TRUE(l.diags.ok()) << l.rendered;
  const std::vector<Tok> want = {
      Tok::Eq,     Tok::Ne,         Tok::Le,          Tok::Ge,     Tok::Match,    Tok::NoMatch, Tok::AndAnd,
      Tok::OrOr,   Tok::PlusAssign, Tok::MinusAssign, Tok::Assign, Tok::Lt,       Tok::Gt,      Tok::Not,
      Tok::Plus,   Tok::Minus,      Tok::Star,        Tok::Slash,  Tok::Percent,  Tok::BitOr,   Tok::BitAnd,
      Tok::BitXor, Tok::BitNot,     Tok::Colon,       Tok::Comma,  Tok::LBracket, Tok::RBracket};
  EXPECT_EQ(kinds(l), want);
}

TEST(lexer, Numbers) {
  const Lexed l = lex("5 0666 0x1F 0 -1");
  ASSERT_TRUE(l.diags.ok()) << l.rendered;
  ASSERT_EQ(l.tokens.size(), 6u);
  EXPECT_EQ(l.tokens[0].number, 5);
  EXPECT_EQ(l.tokens[1].number, 0666);  // modparam("mi_fifo", "fifo_mode", 0666) is octal
  EXPECT_EQ(l.tokens[2].number, 31);
  EXPECT_EQ(l.tokens[3].number, 0);
  EXPECT_EQ(l.tokens[4].kind, Tok::Minus);
  EXPECT_FALSE(lex("099").diags.ok());
  EXPECT_FALSE(lex("99999999999999999999999").diags.ok());
}

TEST(lexer, PseudoVariables) {
  const Lexed l =
      lex("$ru $var(b) $avp(i:700) $avp(s:blacklist) $hdr(Via) $(hdr(Via)[1]) $T_branch_idx $$ $avp(x)[2]");
  ASSERT_TRUE(l.diags.ok()) << l.rendered;
  std::vector<std::string> texts;
  for (const Token& t : l.tokens) {
    EXPECT_EQ(t.kind, Tok::PVar) << t.text;
    texts.push_back(t.text);
  }
  const std::vector<std::string> want = {"$ru",       "$var(b)",        "$avp(i:700)",   "$avp(s:blacklist)",
                                         "$hdr(Via)", "$(hdr(Via)[1])", "$T_branch_idx", "$$",
                                         "$avp(x)[2]"};
  EXPECT_EQ(texts, want);
}

TEST(lexer, TransformationsGlueToValues) {
  const Lexed l = lex("$var(x){s.substr,0,3}{s.len} \"a=1;b=2;c=3\"{param.value,c} $ru {x} if($var(a)){");
  ASSERT_TRUE(l.diags.ok()) << l.rendered;
  ASSERT_GE(l.tokens.size(), 6u);
  EXPECT_EQ(l.tokens[0].kind, Tok::PVar);
  EXPECT_EQ(l.tokens[1].kind, Tok::Transform);
  EXPECT_EQ(l.tokens[1].text, "s.substr,0,3");
  EXPECT_EQ(l.tokens[2].kind, Tok::Transform);
  EXPECT_EQ(l.tokens[2].text, "s.len");
  EXPECT_EQ(l.tokens[3].kind, Tok::String);
  EXPECT_EQ(l.tokens[4].kind, Tok::Transform);
  EXPECT_EQ(l.tokens[4].text, "param.value,c");
  EXPECT_EQ(l.tokens[5].kind, Tok::PVar);
  EXPECT_EQ(l.tokens[6].kind, Tok::LBrace);      // "$ru {x}": a space, so a block, not a transformation
  EXPECT_EQ(l.tokens.back().kind, Tok::LBrace);  // "if($var(a)){": after ')' a brace opens a block
}

TEST(lexer, CommentsAreSkipped) {
  const Lexed l = lex("# a comment\nroute { /* a\nblock comment */ drop(); } # trailing");
  ASSERT_TRUE(l.diags.ok()) << l.rendered;
  const std::vector<Tok> want = {Tok::Ident,  Tok::LBrace, Tok::Ident, Tok::LParen,
                                 Tok::RParen, Tok::Semi,   Tok::RBrace};
  EXPECT_EQ(kinds(l), want);
}

TEST(lexer, RawGlobalValues) {
  SourceFile file(
      "g.cfg",
      "listen=udp:192.168.152.148:5060\nlog_facility=LOG_LOCAL0 # syslog\nalias=\"mydomain.sip\" # x\n");
  Diagnostics diags;
  Lexer lexer(file, diags);
  std::vector<std::string> values;
  for (int i = 0; i < 3; ++i) {
    const Token name = lexer.next();
    ASSERT_EQ(name.kind, Tok::Ident);
    ASSERT_EQ(lexer.next().kind, Tok::Assign);
    const Token v = lexer.raw_value();
    values.push_back(v.text);
    EXPECT_TRUE(lexer.newline_ahead());
  }
  EXPECT_EQ(values, (std::vector<std::string>{"udp:192.168.152.148:5060", "LOG_LOCAL0", "mydomain.sip"}));
  EXPECT_TRUE(diags.ok());
}

// The tutorial's mangled snippet: server_header="Server: My openSIpS  (the closing quote is missing).
TEST(lexer, UnclosedQuoteIsReportedWhereItOpens) {
  SourceFile file("identity.cfg",
                  "server_header=\"Server: My openSIpS\n#default is \"openSIpS\"\nserver_signature = yes\n");
  Diagnostics diags;
  Lexer lexer(file, diags);
  lexer.next();
  lexer.next();
  lexer.raw_value();
  ASSERT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(diags.all()[0].pos.line, 1u);
  EXPECT_EQ(diags.all()[0].pos.column, 15u);
  const std::string r = diags.render(file);
  EXPECT_NE(r.find("identity.cfg:1:15: error: unterminated string"), std::string::npos) << r;
  EXPECT_NE(r.find("\n                ^\n"), std::string::npos) << r;  // caret under the quote
  // Lexing goes on: the next line's tokens still come.
  EXPECT_EQ(lexer.next().text, "server_signature");
}

TEST(lexer, UnclosedBlockComment) {
  const Lexed l = lex("debug=3\n/* uncomment the next line\nfork=yes\n");
  ASSERT_EQ(l.diags.error_count(), 1u);
  EXPECT_EQ(l.diags.all()[0].pos.line, 2u);
  EXPECT_EQ(l.diags.all()[0].pos.column, 1u);
  EXPECT_NE(l.rendered.find("test.cfg:2:1: error: unterminated comment"), std::string::npos) << l.rendered;
}

TEST(lexer, StrayCharactersAreReportedAndSkipped) {
  const Lexed l = lex("route {\n  drop(); @ `\n}\n");
  EXPECT_EQ(l.diags.error_count(), 2u);
  EXPECT_EQ(l.diags.all()[0].pos.line, 2u);
  EXPECT_EQ(l.diags.all()[0].pos.column, 11u);
  EXPECT_NE(l.rendered.find("unexpected character '@'"), std::string::npos) << l.rendered;
  EXPECT_EQ(l.tokens.back().kind, Tok::RBrace);
}

TEST(lexer, ColumnsCountCharactersNotBytes) {
  const Lexed l = lex("# 中文註解\nlog(\"設定\") @");
  ASSERT_EQ(l.diags.error_count(), 1u);
  EXPECT_EQ(l.diags.all()[0].pos.line, 2u);
  EXPECT_EQ(l.diags.all()[0].pos.column, 11u);
}

TEST(lexer, BadPseudoVariables) {
  EXPECT_FALSE(lex("$ 1").diags.ok());
  EXPECT_FALSE(lex("$var(x").diags.ok());
  EXPECT_FALSE(lex("$(hdr(Via)").diags.ok());
  EXPECT_FALSE(lex("$var(x){s.len").diags.ok());
}

// The whole tutorial lexes without crashing; its mangled snippets produce errors, its comments none.
TEST(lexer, WholeTutorialDoesNotCrash) {
  FILE* f = std::fopen(SIPD_SEED "/opensips-tutorial.zh.txt", "rb");
  ASSERT_NE(f, nullptr);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  const Lexed l = lex(text, "tutorial.txt");
  EXPECT_GT(l.tokens.size(), 500u);
}

}  // namespace
}  // namespace sipd::config
