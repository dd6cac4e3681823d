// The management interface: the JSON value (parse/write, malformed and hostile input), the JSON-RPC
// command table, usrloc's MI commands on fake bindings, and the server over a real UNIX socket.
#include "control/mi/mgmt.h"
#include "control/daemon/ul_commands.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

namespace sipd::control {
namespace {

// ---- JSON ------------------------------------------------------------------------------------------

Json parsed(std::string_view text) {
  Json v;
  std::string error;
  EXPECT_TRUE(Json::parse(text, v, error)) << text << ": " << error;
  return v;
}

bool rejects(std::string_view text, std::string* why = nullptr, const JsonLimits& limits = {}) {
  Json v;
  std::string error;
  const bool ok = Json::parse(text, v, error, limits);
  if (why) *why = error;
  return !ok && !error.empty();
}

TEST(Json, ParsesAndWritesBackTheSameDocument) {
  const std::string text =
      R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location","alice@example.org"],"id":2,)"
      R"("n":[0,-1,9223372036854775807,-9223372036854775808,1.5,-2.5e-07,true,false,null],"o":{},"a":[]})";
  const Json v = parsed(text);
  EXPECT_EQ(v.dump(), text);
  EXPECT_EQ(parsed(v.dump()), v);
  EXPECT_EQ(v.find("method")->as_string(), "ul_show_contact");
  EXPECT_EQ(v.find("params")->items()[1].as_string(), "alice@example.org");
  EXPECT_EQ(v.find("n")->items()[2].as_int(), INT64_MAX);
  EXPECT_EQ(v.find("n")->items()[3].as_int(), INT64_MIN);
  EXPECT_DOUBLE_EQ(v.find("n")->items()[4].as_double(), 1.5);
  EXPECT_EQ(v.find("missing"), nullptr);
  // Whitespace anywhere between tokens.
  EXPECT_EQ(parsed(" \r\n\t{ \"a\" :\n[ 1 , 2 ] }\n"), parsed(R"({"a":[1,2]})"));
}

TEST(Json, NumbersKeepIntegersExactAndFallBackToDouble) {
  EXPECT_TRUE(parsed("42").is_int());
  EXPECT_TRUE(parsed("-0").is_int());
  EXPECT_FALSE(parsed("1e3").is_int());
  EXPECT_EQ(parsed("1e3").as_int(), 1000);  // a whole double reads as an integer
  const Json big = parsed("9223372036854775808");
  EXPECT_FALSE(big.is_int());
  EXPECT_DOUBLE_EQ(big.as_double(), 9223372036854775808.0);
  EXPECT_EQ(Json(uint64_t(18446744073709551615ull)).dump(), "18446744073709551616.0");
  EXPECT_EQ(Json(2.0).dump(), "2.0");  // a double stays a double through a round trip
  EXPECT_FALSE(parsed(Json(2.0).dump()).is_int());
  EXPECT_EQ(Json(0.1).dump(), "0.1");
  EXPECT_EQ(Json(1.0 / 0.0).dump(), "null");
  EXPECT_EQ(parsed("\"x\"").as_int(7), 7);  // typed reads fall back, never throw
}

TEST(Json, StringEscapesBothWays) {
  EXPECT_EQ(parsed(R"("a\"b\\c\/d\b\f\n\r\t")").as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parsed(R"("\u0041\u00e9\u20ac")").as_string(), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(parsed(R"("\ud83d\ude00")").as_string(), "\xf0\x9f\x98\x80");  // a surrogate pair
  EXPECT_EQ(parsed(R"("\u0000")").as_string(), std::string(1, '\0'));
  EXPECT_EQ(parsed("\"caf\xc3\xa9\"").as_string(), "caf\xc3\xa9");  // raw UTF-8 kept as is
  // Writing: control characters escaped, UTF-8 kept, bytes that are not UTF-8 become U+FFFD.
  EXPECT_EQ(Json(std::string("a\x01\x1f\x7f\"\\\n", 7)).dump(), R"("a\u0001\u001f\u007f\"\\\n")");
  EXPECT_EQ(Json("caf\xc3\xa9 \xe2\x82\xac").dump(), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(Json("Latin-1 caf\xe9!").dump(), R"("Latin-1 caf\ufffd!")");
  EXPECT_EQ(Json("\xc3").dump(), R"("\ufffd")");  // truncated sequence
  const std::string nul("a\0b", 3);
  EXPECT_EQ(parsed(Json(nul).dump()).as_string(), nul);
}

TEST(Json, RejectsMalformedInputWithAReason) {
  const char* bad[] = {
      "",
      " ",
      "{",
      "}",
      "[",
      "[1,",
      "[1,]",
      "[1 2]",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\" 1}",
      "{\"a\":1,}",
      "{1:2}",
      "{'a':1}",
      "01",
      "1.",
      ".5",
      "+1",
      "-",
      "1e",
      "1e+",
      "0x10",
      "1e999",
      "NaN",
      "Infinity",
      "tru",
      "nul",
      "falsey",
      "\"abc",
      "\"\\x\"",
      "\"\\u12\"",
      "\"\\u12G4\"",
      "\"\\ud800\"",
      "\"\\udc00\"",
      "\"\\ud800\\u0041\"",
      "\"\\ud800x\"",
      "\"a\x01b\"",
      "\"tab\there\"",
      "\"\xff\"",
      "\"\xc0\xaf\"",
      "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"",
      "[1]x",
      "{} {}",
      "\"\\",
      "[\"\\u",
  };
  for (const char* text : bad) {
    std::string why;
    EXPECT_TRUE(rejects(text, &why)) << "accepted: " << text;
    EXPECT_EQ(why.rfind("at ", 0), 0u) << why;
  }
  std::string why;
  EXPECT_TRUE(rejects("[1, \"\\q\"]", &why));
  EXPECT_EQ(why, "at 6: bad escape");
}

TEST(Json, EveryTruncationOfAValidDocumentIsRejected) {
  const std::string text =
      R"({"jsonrpc":"2.0","method":"x","params":{"a":[1,-2.5e3,"\u00e9\ud83d\ude00",true,null]},"id":"k"})";
  ASSERT_FALSE(rejects(text));
  for (size_t n = 0; n < text.size(); ++n) EXPECT_TRUE(rejects(text.substr(0, n))) << n;
}

TEST(Json, BoundsNestingAndSize) {
  const auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_FALSE(rejects(nested(32)));
  std::string why;
  EXPECT_TRUE(rejects(nested(33), &why));
  EXPECT_NE(why.find("nested too deeply"), std::string::npos) << why;
  EXPECT_TRUE(rejects(std::string(60000, '['), &why));  // refused at depth 33, not 60000 frames deep
  EXPECT_NE(why.find("nested too deeply"), std::string::npos) << why;
  EXPECT_TRUE(rejects(std::string(30, '{'), &why));
  std::string objects;
  for (int i = 0; i < 33; ++i) objects += "{\"a\":";
  objects += "1" + std::string(33, '}');
  EXPECT_TRUE(rejects(objects));

  const std::string huge = "\"" + std::string(64 * 1024 - 2, 'x') + "\"";  // exactly the limit
  EXPECT_EQ(parsed(huge).as_string().size(), 64u * 1024 - 2);
  EXPECT_TRUE(rejects(huge + " ", &why));
  EXPECT_NE(why.find("longer than 65536"), std::string::npos) << why;
  JsonLimits small;
  small.max_bytes = 4;
  EXPECT_TRUE(rejects("12345", nullptr, small));
}

TEST(Json, SurvivesRandomMutations) {
  const std::string seed =
      R"({"jsonrpc":"2.0","method":"ul_rm","params":{"table_name":"location","aor":"b\u00f6b"},"id":[1,{"x":2.5}]})";
  std::mt19937 rng(1234);
  const char alphabet[] = "{}[]\",:\\u0123456789abcdefeE+-. \n\xff\xc3";
  for (int round = 0; round < 20000; ++round) {
    std::string text = seed;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = alphabet[rng() % (sizeof alphabet - 1)];
          break;
        case 1:
          text.erase(at, 1 + rng() % 3);
          break;
        default:
          text.insert(at, 1, alphabet[rng() % (sizeof alphabet - 1)]);
      }
      if (text.empty()) text = "x";
    }
    Json v;
    std::string error;
    if (Json::parse(text, v, error)) {
      EXPECT_EQ(parsed(v.dump()), v) << text;  // what parses round-trips
    }
  }
}

TEST(Json, BuildsObjectsInInsertionOrder) {
  Json o;
  o.set("b", 1);
  o.set("a", "x");
  o.set("b", 2);  // replaces, keeps its place
  Json& list = o.set("list", Json::array());
  list.push(Json());
  list.push(false);
  EXPECT_EQ(o.dump(), R"({"b":2,"a":"x","list":[null,false]})");
  EXPECT_EQ(o.size(), 3u);
  // A repeated key in input: the last one wins, as in most JSON readers.
  EXPECT_EQ(parsed(R"({"k":1,"k":2})").find("k")->as_int(), 2);
}

// ---- the command table -----------------------------------------------------------------------------

Json call(const CommandTable& t, std::string_view request) {
  const std::string text = t.handle(request);
  Json v;
  std::string error;
  EXPECT_TRUE(Json::parse(text, v, error)) << text;
  EXPECT_EQ(v.find("jsonrpc")->as_string(), "2.0") << text;
  EXPECT_TRUE((v.find("result") != nullptr) != (v.find("error") != nullptr)) << text;
  return v;
}

int error_code(const Json& response) {
  const Json* e = response.find("error");
  return e ? int(e->find("code")->as_int()) : 0;
}

TEST(CommandTable, AnswersJsonRpcErrors) {
  CommandTable t;
  EXPECT_EQ(t.handle(R"({"jsonrpc":"2.0","method":"nope","id":1})"),
            R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1})");
  Json r = call(t, R"({"jsonrpc":"2.0","method":"nope","id":"abc"})");
  EXPECT_EQ(r.find("id")->as_string(), "abc");
  r = call(t, R"({"jsonrpc":"2.0","method":)");
  EXPECT_EQ(error_code(r), kMiParseError);
  EXPECT_TRUE(r.find("id")->is_null());
  EXPECT_EQ(r.find("error")->find("message")->as_string(), "Parse error");
  EXPECT_EQ(error_code(call(t, "not json at all")), kMiParseError);
  EXPECT_EQ(error_code(call(t, R"({"jsonrpc":"1.0","method":"which","id":1})")), kMiInvalidRequest);
  EXPECT_EQ(error_code(call(t, R"({"method":"which","id":1})")), kMiInvalidRequest);
  EXPECT_EQ(error_code(call(t, R"({"jsonrpc":"2.0","method":7,"id":1})")), kMiInvalidRequest);
  EXPECT_EQ(error_code(call(t, R"({"jsonrpc":"2.0","method":"which","params":"x","id":1})")),
            kMiInvalidRequest);
  EXPECT_EQ(error_code(call(t, R"({"jsonrpc":"2.0","method":"which","id":{}})")), kMiInvalidRequest);
  EXPECT_EQ(error_code(call(t, R"([{"jsonrpc":"2.0","method":"which","id":1}])")), kMiInvalidRequest);
  EXPECT_EQ(error_code(call(t, "42")), kMiInvalidRequest);
  // No id (a notification): answered anyway, with a null id, since the connection expects one answer.
  EXPECT_TRUE(call(t, R"({"jsonrpc":"2.0","method":"which"})").find("id")->is_null());
}

TEST(CommandTable, BindsPositionalAndNamedParamsToTheSignature) {
  CommandTable t;
  std::vector<std::string> seen;
  ASSERT_TRUE(t.add("echo", MiSignature{{"first", "second"}, 1}, [&](const Json& p, MiError&) {
    seen.push_back(p.dump());
    return p;
  }));
  EXPECT_FALSE(t.add("echo", [](const Json&, MiError&) { return Json(); }));  // taken
  call(t, R"({"jsonrpc":"2.0","method":"echo","params":["a","b"],"id":1})");
  call(t, R"({"jsonrpc":"2.0","method":"echo","params":{"second":"b","first":"a"},"id":1})");
  call(t, R"({"jsonrpc":"2.0","method":"echo","params":["a"],"id":1})");
  EXPECT_EQ(seen, (std::vector<std::string>{R"({"first":"a","second":"b"})", R"({"second":"b","first":"a"})",
                                            R"({"first":"a"})"}));
  seen.clear();
  const char* invalid[] = {
      R"({"jsonrpc":"2.0","method":"echo","id":1})",
      R"({"jsonrpc":"2.0","method":"echo","params":[],"id":1})",
      R"({"jsonrpc":"2.0","method":"echo","params":["a","b","c"],"id":1})",
      R"({"jsonrpc":"2.0","method":"echo","params":{"second":"b"},"id":1})",
      R"({"jsonrpc":"2.0","method":"echo","params":{"first":"a","third":"c"},"id":1})",
  };
  for (const char* request : invalid) {
    const Json r = call(t, request);
    EXPECT_EQ(error_code(r), kMiInvalidParams) << request;
    EXPECT_EQ(r.find("error")->find("message")->as_string(), "Invalid params");
  }
  EXPECT_TRUE(seen.empty());  // the handler never saw them
}

TEST(CommandTable, ListsCommandsAndContainsThrowingHandlers) {
  CommandTable t;
  t.add("boom", [](const Json&, MiError&) -> Json { throw std::runtime_error("kaput"); });
  t.add("fails", [](const Json&, MiError& e) { return mi_fail(e, 500, "Server Internal Error", "why"); });
  EXPECT_EQ(call(t, R"({"jsonrpc":"2.0","method":"which","id":1})").find("result")->dump(),
            R"(["boom","fails","help","which"])");
  const Json r = call(t, R"({"jsonrpc":"2.0","method":"boom","id":1})");
  EXPECT_EQ(error_code(r), kMiInternalError);
  EXPECT_EQ(r.find("error")->find("data")->as_string(), "kaput");
  EXPECT_EQ(
      t.handle(R"({"jsonrpc":"2.0","method":"fails","id":3})"),
      R"({"jsonrpc":"2.0","error":{"code":500,"message":"Server Internal Error","data":"why"},"id":3})");
}

// ---- usrloc's commands on fake bindings ------------------------------------------------------------

struct FakeBinding {
  std::string aor, contact, received, path, user_agent, callid, socket, instance;
  int64_t expires = 0;
  int32_t q = -1;
  uint32_t cseq = 1, flags = 0, cflags = 0, methods = 0xFFFFFFFFu;
};

ShownBinding shown(const FakeBinding& f) {
  ShownBinding b;
  b.aor = f.aor;
  const std::string* fields[shm::BindingView::kFields] = {&f.contact, &f.received, &f.path,    &f.user_agent,
                                                          &f.callid,  &f.socket,   &f.instance};
  size_t off = 0;
  for (unsigned i = 0; i < shm::BindingView::kFields; ++i) {
    std::memcpy(b.view.text + off, fields[i]->data(), fields[i]->size());
    b.view.len[i] = uint16_t(fields[i]->size());
    off += fields[i]->size();
  }
  b.view.expires = f.expires;
  b.view.q = f.q;
  b.view.cseq = f.cseq;
  b.view.flags = f.flags;
  b.view.cflags = f.cflags;
  b.view.methods = f.methods;
  return b;
}

constexpr int64_t kNow = 1'800'000'000;

struct FakeLocation {
  std::vector<FakeBinding> bindings = {
      {"alice", "sip:alice@192.0.2.10:5060", "", "", "Linphone/5.0", "call-1@x", "udp:198.18.0.1:5060", "",
       kNow + 3600, 1000, 7, 0, 0x10, 0x1F},
      {"alice", "sip:alice@192.0.2.11:5062;transport=tcp", "sip:203.0.113.5:40000",
       "<sip:edge.example.org;lr>", "", "call-2@x", "", "<urn:uuid:0001>", kNow - 5, 500, 9, 0, 0,
       0xFFFFFFFFu},
      {"bob", "sip:bob@192.0.2.20", "", "", "Zoiper \"rc\"\x01", "call-3@x", "udp:198.18.0.1:5060", "", 0, -1,
       1, 0, 0, 0xFFFFFFFFu},
  };
  std::vector<std::string> shown_for, removed;

  UsrlocCommandHooks hooks(bool use_domain = false) {
    UsrlocCommandHooks h;
    h.show = [this](std::string_view aor) {
      shown_for.emplace_back(aor);
      std::vector<ShownBinding> out;
      for (const FakeBinding& f : bindings)
        if (aor.empty() || f.aor == aor) out.push_back(shown(f));
      return out;
    };
    h.remove = [this](std::string_view aor) {
      removed.emplace_back(aor);
      const size_t before = bindings.size();
      std::erase_if(bindings, [&](const FakeBinding& f) { return f.aor == aor; });
      return bindings.size() != before;
    };
    h.now = [] { return kNow; };
    h.use_domain = use_domain;
    h.hash_size = 1024;
    return h;
  }
};

TEST(UsrlocCommands, DumpHasOpenSipsShape) {
  FakeLocation loc;
  CommandTable t;
  add_usrloc_commands(t, loc.hooks());
  const Json r = call(t, R"({"jsonrpc":"2.0","method":"ul_dump","id":1})");
  const Json& result = *r.find("result");
  ASSERT_EQ(result.find("Domains")->size(), 1u);
  const Json& domain = result.find("Domains")->items()[0];
  EXPECT_EQ(domain.find("name")->as_string(), "location");
  EXPECT_EQ(domain.find("hash_size")->as_int(), 1024);
  const Json& aors = *domain.find("AORs");
  ASSERT_EQ(aors.size(), 2u);
  EXPECT_EQ(aors.items()[0].find("AOR")->as_string(), "alice");
  EXPECT_EQ(aors.items()[1].find("AOR")->as_string(), "bob");
  const Json& contacts = *aors.items()[0].find("Contacts");
  ASSERT_EQ(contacts.size(), 2u);

  // The first contact, field by field, in OpenSIPS's order (a ContactID is a decimal string).
  const Json& c0 = contacts.items()[0];
  std::vector<std::string> keys;
  for (const Json::Member& m : c0.members()) keys.push_back(m.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"Contact", "ContactID", "Expires", "Q", "Callid", "Cseq",
                                            "User-agent", "State", "Flags", "Cflags", "Socket", "Methods"}));
  EXPECT_EQ(c0.find("Contact")->as_string(), "sip:alice@192.0.2.10:5060");
  EXPECT_FALSE(c0.find("ContactID")->as_string().empty());
  EXPECT_EQ(c0.find("ContactID")->as_string().find_first_not_of("0123456789"), std::string::npos);
  EXPECT_EQ(c0.find("Expires")->as_int(), 3600);  // seconds left, as a number
  EXPECT_EQ(c0.find("Q")->as_string(), "1");
  EXPECT_EQ(c0.find("Callid")->as_string(), "call-1@x");
  EXPECT_EQ(c0.find("Cseq")->as_int(), 7);
  EXPECT_EQ(c0.find("User-agent")->as_string(), "Linphone/5.0");
  EXPECT_EQ(c0.find("State")->as_string(), "CS_SYNC");
  EXPECT_EQ(c0.find("Flags")->as_int(), 0);
  EXPECT_EQ(c0.find("Cflags")->as_string(), "4");
  EXPECT_EQ(c0.find("Socket")->as_string(), "udp:198.18.0.1:5060");
  EXPECT_EQ(c0.find("Methods")->as_int(), 0x1F);

  // The second: expired but not yet reaped, with Received, Path and SIP_instance; no User-agent/Socket.
  const Json& c1 = contacts.items()[1];
  EXPECT_EQ(c1.find("Expires")->as_string(), "expired");
  EXPECT_EQ(c1.find("Q")->as_string(), "0.5");
  EXPECT_EQ(c1.find("Received")->as_string(), "sip:203.0.113.5:40000");
  EXPECT_EQ(c1.find("Path")->as_string(), "<sip:edge.example.org;lr>");
  EXPECT_EQ(c1.find("SIP_instance")->as_string(), "<urn:uuid:0001>");
  EXPECT_EQ(c1.find("User-agent"), nullptr);
  EXPECT_EQ(c1.find("Socket"), nullptr);
  EXPECT_EQ(c1.find("Methods")->as_int(), 0xFFFFFFFFll);
  EXPECT_NE(c1.find("ContactID")->as_string(), c0.find("ContactID")->as_string());

  // bob: permanent, no q; a User-Agent with a quote and a control character survives the trip.
  const Json& c2 = aors.items()[1].find("Contacts")->items()[0];
  EXPECT_EQ(c2.find("Expires")->as_string(), "permanent");
  EXPECT_EQ(c2.find("Q")->as_string(), "");
  EXPECT_EQ(c2.find("User-agent")->as_string(), "Zoiper \"rc\"\x01");
  EXPECT_EQ(loc.shown_for, (std::vector<std::string>{""}));

  // brief: AORs only.
  const Json b = call(t, R"({"jsonrpc":"2.0","method":"ul_dump","params":[1],"id":1})");
  EXPECT_EQ(b.find("result")->dump(),
            R"({"Domains":[{"name":"location","hash_size":1024,"AORs":[{"AOR":"alice"},{"AOR":"bob"}]}]})");
  EXPECT_EQ(error_code(call(t, R"({"jsonrpc":"2.0","method":"ul_dump","params":[1,2],"id":1})")),
            kMiInvalidParams);
}

TEST(UsrlocCommands, DumpOfAnEmptyTable) {
  FakeLocation loc;
  loc.bindings.clear();
  CommandTable t;
  add_usrloc_commands(t, loc.hooks());
  EXPECT_EQ(
      t.handle(R"({"jsonrpc":"2.0","method":"ul_dump","id":5})"),
      R"({"jsonrpc":"2.0","result":{"Domains":[{"name":"location","hash_size":1024,"AORs":[]}]},"id":5})");
}

TEST(UsrlocCommands, ShowContactByPositionOrNameAndItsErrors) {
  FakeLocation loc;
  CommandTable t;
  add_usrloc_commands(t, loc.hooks());
  const Json a =
      call(t, R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location","bob"],"id":2})");
  const Json b = call(
      t,
      R"({"jsonrpc":"2.0","method":"ul_show_contact","params":{"aor":"bob@example.org","table_name":"location"},"id":2})");
  EXPECT_EQ(a, b);  // without use_domain the domain part is ignored, as in OpenSIPS
  EXPECT_EQ(loc.shown_for, (std::vector<std::string>{"bob", "bob"}));
  const Json& result = *a.find("result");
  EXPECT_EQ(result.find("AOR")->as_string(), "bob");
  ASSERT_EQ(result.find("Contacts")->size(), 1u);
  EXPECT_EQ(result.find("Contacts")->items()[0].find("Contact")->as_string(), "sip:bob@192.0.2.20");

  Json r = call(t, R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location","carol"],"id":3})");
  EXPECT_EQ(r.find("error")->dump(), R"({"code":404,"message":"AOR not found"})");
  EXPECT_EQ(r.find("id")->as_int(), 3);
  r = call(t, R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["aliases","bob"],"id":3})");
  EXPECT_EQ(r.find("error")->dump(), R"({"code":404,"message":"Table not found"})");
  EXPECT_EQ(
      error_code(call(t, R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location"],"id":3})")),
      kMiInvalidParams);
  EXPECT_EQ(
      error_code(call(t, R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location",5],"id":3})")),
      kMiInvalidParams);
  EXPECT_EQ(error_code(
                call(t, R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location","@x"],"id":3})")),
            kMiInvalidParams);
}

TEST(UsrlocCommands, WithUseDomainTheAorNeedsItsDomain) {
  FakeLocation loc;
  loc.bindings[2].aor = "bob@example.org";
  CommandTable t;
  add_usrloc_commands(t, loc.hooks(/*use_domain=*/true));
  Json r = call(t, R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location","bob"],"id":1})");
  EXPECT_EQ(r.find("error")->dump(), R"({"code":400,"message":"Domain missing in AOR"})");
  r = call(t,
           R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location","bob@example.org"],"id":1})");
  EXPECT_EQ(r.find("result")->find("AOR")->as_string(), "bob@example.org");
}

TEST(UsrlocCommands, RemoveSaysWhetherTheAorWasThere) {
  FakeLocation loc;
  CommandTable t;
  add_usrloc_commands(t, loc.hooks());
  EXPECT_EQ(t.handle(R"({"jsonrpc":"2.0","method":"ul_rm","params":["location","alice"],"id":4})"),
            R"({"jsonrpc":"2.0","result":"OK","id":4})");
  EXPECT_EQ(loc.bindings.size(), 1u);
  const Json r = call(
      t, R"({"jsonrpc":"2.0","method":"ul_rm","params":{"table_name":"location","aor":"alice"},"id":5})");
  EXPECT_EQ(r.find("error")->dump(), R"({"code":404,"message":"AOR not found"})");
  EXPECT_EQ(loc.removed, (std::vector<std::string>{"alice", "alice"}));
  EXPECT_EQ(
      call(t, R"({"jsonrpc":"2.0","method":"ul_rm","params":["other","bob"],"id":6})").find("error")->dump(),
      R"({"code":404,"message":"Table not found"})");
  EXPECT_EQ(loc.removed.size(), 2u);
}

// ---- the server over a real socket -----------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/sipd-mgmt-XXXXXX";
    path_ = ::mkdtemp(templ);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    text.remove_prefix(size_t(n));
  }
}

// Serves until the client's connection is closed by the server; what it read. The server and this client
// share the thread, as they would not in production: neither may block.
std::string read_answer(MgmtServer& server, int fd, int max_rounds = 2000) {
  std::string got;
  char buf[65536];
  for (int round = 0; round < max_rounds; ++round) {
    server.serve();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return got;
    if (n > 0) got.append(buf, size_t(n));
  }
  ADD_FAILURE() << "no end of answer; got: " << got;
  return got;
}

bool closed_by_server(int fd) {
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

struct ServerFixture : ::testing::Test {
  void SetUp() override {
    add_usrloc_commands(commands, loc.hooks());
    options.now_ms = [this] { return clock_ms; };
    socket_path = dir.path() + "/run/sipd/control.sock";  // the parent directories do not exist yet
  }
  MgmtServer& start() {
    server = std::make_unique<MgmtServer>(commands, options);
    std::string error;
    EXPECT_TRUE(server->open(socket_path, error)) << error;
    return *server;
  }
  std::string ask(std::string_view request) {
    const int fd = connect_to(socket_path);
    EXPECT_GE(fd, 0);
    send_all(fd, request);
    std::string answer = read_answer(*server, fd);
    ::close(fd);
    return answer;
  }

  TempDir dir;
  FakeLocation loc;
  CommandTable commands;
  MgmtServerOptions options;
  int64_t clock_ms = 1000;
  std::string socket_path;
  std::unique_ptr<MgmtServer> server;
};

TEST_F(ServerFixture, AnswersOverAUnixSocketAndClosesAfterward) {
  MgmtServer& s = start();
  struct stat st {};
  ASSERT_EQ(::stat(socket_path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_GE(s.fd(), 0);

  EXPECT_EQ(ask(R"({"jsonrpc":"2.0","method":"ul_rm","params":["location","alice"],"id":1})"),
            "{\"jsonrpc\":\"2.0\",\"result\":\"OK\",\"id\":1}\n");
  EXPECT_EQ(ask("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2}\n"),
            "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"Method not found\"},\"id\":2}\n");
  // Pretty-printed over several lines: newlines inside the object do not end it.
  const std::string dump = ask("{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"ul_dump\",\n  \"id\": 3\n}");
  Json v;
  std::string error;
  ASSERT_TRUE(Json::parse(dump, v, error)) << dump;
  EXPECT_EQ(v.find("result")->find("Domains")->items()[0].find("AORs")->size(), 1u);  // bob is left
  EXPECT_EQ(s.connections(), 0u);

  s.close();
  EXPECT_NE(::access(socket_path.c_str(), F_OK), 0);  // the socket file is gone
  EXPECT_EQ(s.fd(), -1);
  EXPECT_LT(connect_to(socket_path), 0);
}

TEST_F(ServerFixture, KeepsPartialRequestsAcrossCalls) {
  MgmtServer& s = start();
  const int fd = connect_to(socket_path);
  ASSERT_GE(fd, 0);
  const std::string request =
      R"({"jsonrpc":"2.0","method":"ul_show_contact","params":["location","bob"],"id":"x{"})";
  for (char c : request) {  // a byte per serve(): a "}" inside a string does not end the request
    send_all(fd, std::string_view(&c, 1));
    s.serve();
    s.serve();
  }
  const std::string answer = read_answer(s, fd);
  ::close(fd);
  Json v;
  std::string error;
  ASSERT_TRUE(Json::parse(answer, v, error)) << answer;
  EXPECT_EQ(v.find("id")->as_string(), "x{");
  EXPECT_EQ(v.find("result")->find("AOR")->as_string(), "bob");
}

TEST_F(ServerFixture, TextAfterTheRequestIsIgnoredAndAnIncompleteOneIsAParseError) {
  start();
  const std::string a = ask("{\"jsonrpc\":\"2.0\",\"method\":\"which\",\"id\":1}{\"more\":1}\ntrailing");
  EXPECT_NE(a.find("\"result\":[\"help\",\"ul_add\",\"ul_dump\""), std::string::npos) << a;

  // The client shuts down its side with half a request sent: a parse error, not a hang.
  const int fd = connect_to(socket_path);
  send_all(fd, R"({"jsonrpc":"2.0","method":"ul_du)");
  ::shutdown(fd, SHUT_WR);
  const std::string b = read_answer(*server, fd);
  ::close(fd);
  EXPECT_NE(b.find("\"code\":-32700"), std::string::npos) << b;

  // A line that is not JSON ends at its newline.
  const std::string c = ask("hello\n");
  EXPECT_NE(c.find("\"code\":-32700"), std::string::npos) << c;
}

TEST_F(ServerFixture, RefusesOversizedAndDeepRequests) {
  start();
  const std::string big = R"({"jsonrpc":"2.0","method":"x","params":[")" + std::string(70000, 'a') + "\"]}";
  const int fd = connect_to(socket_path);
  ASSERT_GE(fd, 0);
  // The server stops reading at the limit; the rest may never be read, so send from another thread.
  std::thread writer([&] {
    size_t at = 0;
    while (at < big.size()) {
      const ssize_t n = ::send(fd, big.data() + at, big.size() - at, MSG_NOSIGNAL);
      if (n <= 0) break;
      at += size_t(n);
    }
  });
  const std::string answer = read_answer(*server, fd);
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
  EXPECT_NE(answer.find("\"code\":-32700"), std::string::npos) << answer;
  EXPECT_NE(answer.find("longer than 65536"), std::string::npos) << answer;

  const std::string deep = ask(std::string(100, '[') + std::string(100, ']'));
  EXPECT_NE(deep.find("nested too deeply"), std::string::npos) << deep;
}

TEST_F(ServerFixture, ASilentClientDoesNotHoldUpOthersAndIsClosedAfterTwoSeconds) {
  MgmtServer& s = start();
  const int silent = connect_to(socket_path);
  ASSERT_GE(silent, 0);
  const int half = connect_to(socket_path);  // sends half a request, then nothing
  send_all(half, R"({"jsonrpc":"2.0",)");
  for (int i = 0; i < 5; ++i) s.serve();
  EXPECT_EQ(s.connections(), 2u);

  // Others are answered meanwhile.
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(ask(R"({"jsonrpc":"2.0","method":"which","id":1})").find("\"result\""), std::string::npos);
  EXPECT_EQ(s.connections(), 2u);
  EXPECT_FALSE(closed_by_server(silent));

  clock_ms += 1999;
  s.serve();
  EXPECT_EQ(s.connections(), 2u);
  clock_ms += 1;
  EXPECT_TRUE(s.serve());
  EXPECT_EQ(s.connections(), 0u);
  EXPECT_TRUE(closed_by_server(silent));
  EXPECT_TRUE(closed_by_server(half));
  ::close(silent);
  ::close(half);
}

TEST_F(ServerFixture, TurnsAwayConnectionsBeyondTheLimit) {
  options.max_connections = 2;
  MgmtServer& s = start();
  const int a = connect_to(socket_path), b = connect_to(socket_path);
  for (int i = 0; i < 3; ++i) s.serve();
  EXPECT_EQ(s.connections(), 2u);
  const int c = connect_to(socket_path);
  const std::string refused = read_answer(s, c);
  EXPECT_NE(refused.find("\"code\":-32000"), std::string::npos) << refused;
  ::close(a);  // the server sees the close and frees the slot
  for (int i = 0; i < 3; ++i) s.serve();
  EXPECT_EQ(s.connections(), 1u);
  EXPECT_NE(ask(R"({"jsonrpc":"2.0","method":"which","id":1})").find("\"result\""), std::string::npos);
  ::close(b);
  ::close(c);
}

TEST_F(ServerFixture, ReplacesAStaleSocketButNotALiveOneOrAFile) {
  start();
  // A second server on the same path while the first listens: refused, and the first keeps working.
  MgmtServer second(commands, options);
  std::string error;
  EXPECT_FALSE(second.open(socket_path, error));
  EXPECT_NE(error.find("another process is serving"), std::string::npos) << error;
  EXPECT_NE(ask(R"({"jsonrpc":"2.0","method":"which","id":1})").find("\"result\""), std::string::npos);

  // A socket file left behind by a process that died: replaced.
  const std::string stale = dir.path() + "/stale.sock";
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, stale.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);  // the file stays, nobody listens
  }
  MgmtServer third(commands, options);
  EXPECT_TRUE(third.open(stale, error)) << error;
  third.close();

  const std::string file = dir.path() + "/not-a-socket";
  std::FILE* f = std::fopen(file.c_str(), "w");
  std::fclose(f);
  MgmtServer fourth(commands, options);
  EXPECT_FALSE(fourth.open(file, error));
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  EXPECT_EQ(::access(file.c_str(), F_OK), 0);  // left alone
  EXPECT_FALSE(fourth.open(dir.path() + "/" + std::string(120, 'x'), error));
}

// Clients we did not write: socat when it is installed, and Python's socket and json modules (what
// OpenSIPS's own MI client is written with).
std::string run_with_server(MgmtServer& server, const std::string& command) {
  std::string out;
  std::atomic<bool> done{false};
  std::thread runner([&] {
    std::FILE* p = ::popen(command.c_str(), "r");
    if (p) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      ::pclose(p);
    }
    done = true;
  });
  for (int i = 0; i < 20000 && !done; ++i) {
    pollfd p{server.fd(), POLLIN, 0};
    ::poll(&p, 1, 1);
    server.serve();
  }
  runner.join();
  return out;
}

TEST_F(ServerFixture, SocatSpeaksToIt) {
  if (std::system("which socat >/dev/null 2>&1") != 0) GTEST_SKIP() << "socat is not installed";
  start();
  const std::string out = run_with_server(
      *server,
      "echo '{\"jsonrpc\":\"2.0\",\"method\":\"ul_show_contact\",\"params\":[\"location\",\"bob\"],"
      "\"id\":1}' | socat - UNIX-CONNECT:" +
          socket_path);
  EXPECT_NE(out.find("\"AOR\":\"bob\""), std::string::npos) << out;
}

TEST_F(ServerFixture, PythonSpeaksToIt) {
  if (std::system("python3 -c 'import json, socket' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  start();
  const std::string script =
      "import json, socket\n"
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
      "s.connect('" +
      socket_path +
      "')\n"
      "s.sendall(json.dumps({'jsonrpc': '2.0', 'method': 'ul_dump', 'params': {'brief': 0}, 'id': "
      "9}).encode())\n"
      "data = b''\n"
      "while True:\n"
      "    chunk = s.recv(65536)\n"
      "    if not chunk: break\n"
      "    data += chunk\n"
      "r = json.loads(data.decode('utf-8'))\n"
      "d = r['result']['Domains'][0]\n"
      "print(r['id'], d['name'], [a['AOR'] for a in d['AORs']], d['AORs'][1]['Contacts'][0]['User-agent'] == "
      "'Zoiper \"rc\"\\x01')\n";
  const std::string file = dir.path() + "/client.py";
  std::FILE* f = std::fopen(file.c_str(), "w");
  std::fputs(script.c_str(), f);
  std::fclose(f);
  EXPECT_EQ(run_with_server(*server, "python3 " + file + " 2>&1"), "9 location ['alice', 'bob'] True\n");
}

}  // namespace
}  // namespace sipd::control
