// Every transformation computes what OpenSIPS 3.x computes: one table of (transformation as written,
// input, expected result), the documentation's own examples first, then the edges (empty input, out of
// range, negative indices, not applicable) and the places where OpenSIPS's source decides what the
// documentation leaves open. "}{" chains transformations ("ip.pton}{ip.ntop"); an expectation "#5" is the
// integer 5, kNone no value.
#include "dataplane/engine/transforms.h"

#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include <cstdlib>

#include <memory>
#include <string>
#include <vector>

namespace sipd::engine {
namespace {

using namespace std::literals;
using config::TransformId;

struct Case {
  std::string_view transform;  // what stands between the braces: "s.substr,1,3"
  std::string_view input;
  std::string_view expected;  // "#n": the integer n; kNone: no value
};

constexpr std::string_view kNone{};

#define SDP_HEAD "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
#define SDP_AUDIO1 "m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
#define SDP_VIDEO "m=video 5000 RTP/AVP 31\r\na=recvonly\r\n"
#define SDP_AUDIO2 "m=audio 6000 RTP/AVP 0\r\n"
#define SDP SDP_HEAD SDP_AUDIO1 SDP_VIDEO SDP_AUDIO2
#define URI                                                                                                \
  "sip:alice:secret@atlanta.com:5060;transport=udp;lr;ttl=5;user=phone;maddr=1.2.3.4;method=INVITE;r2=on?" \
  "subject=x"
#define VIA "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776;rport;received=1.2.3.4"
#define NA "\"test\" <sip:test@opensips.org>;tag=dat43h;private=yes"
#define NA_LIST "\"first\" <first@opensips.org>, \"second\" <second@opensips.org>"

// clang-format off
constexpr Case kCases[] = {
    // s.len, s.int
    {"s.len",               "abc",                  "#3"},
    {"s.len",               "",                     "#0"},
    {"s.int",               "2868.12 sec",          "#2868"},
    {"s.int",               "-12x",                 "#-12"},
    {"s.int",               "+7",                   "#7"},
    {"s.int",               "abc",                  "#0"},
    {"s.int",               "",                     "#0"},
    {"s.int",               "4294967297",           "#1"},        // a C int wraps
    // hashes: lowercase hex
    {"s.md5",               "alice",                "6384e2b2184bcbf58eccf10ca7a6563c"},
    {"s.md5",               "",                     "d41d8cd98f00b204e9800998ecf8427e"},
    {"s.sha1",              "test",                 "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},
    {"s.sha224",            "test",                 "90a3ed9e32b2aaf4c61c410eb925426119e1a9dc53d4286ade99a809"},
    {"s.sha256",            "test",                 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
    {"s.sha384",            "test",                 "768412320f7b0aa5812fce428dc4706b3cae50e02a64caa16a782249bfe8efc4b7ef1ccb126255d196047dfedf17a0a9"},
    {"s.sha512",            "test",                 "ee26b0dd4af7e749aa1a8ee3c10ae9923f618980772e473f8819a5d4940e0db27ac185f8a0e1d5f84f88bc887fd67b143732c304cc5fa9ad8e6f57f50028a8ff"},
    {"s.sha1_hmac,key",     "test",                 "671f54ce0c540f78ffe1e26dcf9c2a047aea4fda"},
    {"s.sha224_hmac,key",   "test",                 "76b34b643e71d7d92afd4c689c0949cbe0c5445feae907aac532a5a1"},
    {"s.sha256_hmac,key",   "test",                 "02afb56304902c656fcb737cdd03de6205bb6d401da2812efd9b2d36a08af159"},
    {"s.sha384_hmac,key",   "test",                 "160a099ad9d6dadb46311cb4e6dfe98aca9ca519c2e0fedc8dc45da419b1173039cc131f0b5f68b2bbc2b635109b57a8"},
    {"s.sha512_hmac,key",   "test",                 "287a0fb89a7fbdfa5b5538636918e537a5b83065e4ff331268b7aaa115dde047a9b0f4fb5b828608fc0b6327f10055f7637b058e9e0dbb9e698901a3e6dd461c"},
    {"s.sha256_hmac,kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
                            "test",                 "f7a203b90e5fd2932ae08fea9a94e11e28d75a2b657bd0cccfcdf7d8464462ea"},  // key > block
    {"s.sha512_hmac,kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
                            "test",                 "be92dda9db063fb419b5f176c1dd5b1605d3633b5f794609583427fdea20a15102ad6cf78158c4924f863ada27117a09d0d9b4645b5cd86eb7fdee7b7950e154"},
    // s.reverse, s.substr, s.select
    {"s.reverse",           "onetwothree",          "eerhtowteno"},
    {"s.reverse",           "",                     ""},
    {"s.substr,1,0",        "abcd",                 "bcd"},
    {"s.substr,1,3",        "abcdef",               "bcd"},
    {"s.substr,-1,0",       "abcd",                 "d"},
    {"s.substr,-2,1",       "abcd",                 "c"},
    {"s.substr,1,-1",       "abcd",                 "bc"},
    {"s.substr,0,10",       "abcd",                 "abcd"},
    {"s.substr,2,-3",       "abcd",                 ""},
    {"s.substr,4,1",        "abcd",                 kNone},       // offset past the end
    {"s.substr,-5,1",       "abcd",                 kNone},
    {"s.substr,0,0",        "",                     kNone},
    {"s.select,1,,",        "12,34,56",             "34"},
    {"s.select,-2,,",       "12,34,56",             "34"},
    {"s.select,1,|",        "a|b|c",                "b"},
    {"s.select,-1,|",       "a|b|c",                "c"},
    {"s.select,-3,|",       "a|b|c",                "a"},
    {"s.select,3,|",        "a|b|c",                kNone},
    {"s.select,-4,|",       "a|b|c",                kNone},
    {"s.select,1,,",        "a,,c",                 ""},          // an empty field is "", not NULL
    {"s.select,0,,",        "",                     ""},
    {"s.select,0, ",        "a b",                  "a"},
    // hexa, escapes
    {"s.encode.hexa",       "abc\xff",              "616263ff"},
    {"s.encode.hexa",       "",                     ""},
    {"s.decode.hexa",       "616263",               "abc"},
    {"s.decode.hexa",       "4A4b",                 "JK"},
    {"s.decode.hexa",       "6162F",                "ab"},        // an odd last digit is ignored
    {"s.decode.hexa",       "zz",                   kNone},
    {"s.escape.common",     "it's \"q\" \\",        "it\\'s \\\"q\\\" \\\\"},
    {"s.escape.common",     "a\0b"sv,               "a\\0b"},
    {"s.unescape.common",   "it\\'s \\\"q\\\" \\\\", "it's \"q\" \\"},
    {"s.unescape.common",   "a\\0b\\n\\",           "a\0b\\n\\"sv},  // unknown escapes keep the backslash
    {"s.escape.user",       "alice smith@x/y",      "alice%20smith%40x%2fy"},
    {"s.escape.user",       "a-_.!~*'()&=+$,;?",    "a-_.!~*'()&=+$,;?"},
    {"s.escape.user",       "a\x01",                kNone},       // not printable ASCII
    {"s.unescape.user",     "alice%20smith%40X%7E", "alice smith@X~"},
    {"s.unescape.user",     "%4",                   kNone},
    {"s.unescape.user",     "%zz",                  kNone},
    {"s.unescape.user",     "%0a",                  kNone},       // decodes outside printable ASCII
    {"s.escape.param",      "a b;c=d,e?f&g\"h",     "a%20b%3bc%3dd%2ce%3ff%26g%22h"},
    {"s.escape.param",      "sip:x/y@[::1]",        "sip:x/y@[::1]"},
    {"s.escape.param",      "\x7f",                 kNone},
    {"s.unescape.param",    "a%3Bb",                "a;b"},
    {"s.tolower",           "ALice1-Z",             "alice1-z"},
    {"s.toupper",           "alice1-z",             "ALICE1-Z"},
    {"s.toupper",           "",                     ""},
    // s.index, s.rindex (the documentation's onetwothreeone)
    {"s.index, one",        "onetwothreeone",       "#0"},
    {"s.index, one, 0",     "onetwothreeone",       "#0"},
    {"s.index, one, 3",     "onetwothreeone",       "#11"},
    {"s.index, one, -11",   "onetwothreeone",       "#11"},
    {"s.index, one, -25",   "onetwothreeone",       "#11"},       // negative starts wrap
    {"s.index,X,-1",        "aXbX",                 "#3"},
    {"s.index,x",           "abc",                  kNone},
    {"s.index,c,5",         "abc",                  kNone},
    {"s.index,abcd",        "abc",                  kNone},
    {"s.index,a",           "",                     kNone},
    {"s.rindex, one",       "onetwothreeone",       "#11"},
    {"s.rindex, one, -3",   "onetwothreeone",       "#11"},
    {"s.rindex, one, 11",   "onetwothreeone",       "#11"},
    {"s.rindex, one, -4",   "onetwothreeone",       "#0"},
    {"s.rindex,ab,1",       "abab",                 "#0"},
    {"s.rindex,ab,100",     "abab",                 "#2"},
    {"s.rindex,z",          "abc",                  kNone},
    {"s.rindex,a",          "",                     kNone},
    // s.fill.*, s.width
    {"s.fill.left, 0, 3",   "485",                  "485"},
    {"s.fill.left, 0, 6",   "485",                  "000485"},
    {"s.fill.left, abc, 8", "485",                  "bcabc485"},
    {"s.fill.left, ' ', 5", "485",                  "  485"},
    {"s.fill.left,x,3",     "",                     "xxx"},
    {"s.fill.right, 0, 3",  "485",                  "485"},
    {"s.fill.right, 0, 6",  "485",                  "485000"},
    {"s.fill.right, abc, 8", "485",                 "485abcab"},
    {"s.fill.right,0,100000", "485",                kNone},       // longer than the run's string space
    {"s.width, 14",         "transformation",       "transformation"},
    {"s.width, 16",         "transformation",       "transformation  "},
    {"s.width, 9",          "transformation",       "transform"},
    {"s.width,0",           "abc",                  kNone},       // a width must be positive
    {"s.width,100000",      "abc",                  kNone},
    // s.trim*
    {"s.trim",              "\t \n input string  \r  ", "input string"},
    {"s.trimr",             "\t \n input string  \r  ", "\t \n input string"},
    {"s.triml",             "\t \n input string  \r  ", "input string  \r  "},
    {"s.trim",              "",                     ""},
    // s.dec2hex, s.hex2dec
    {"s.dec2hex",           "255",                  "ff"},
    {"s.dec2hex",           "-1",                   "ffffffff"},
    {"s.dec2hex",           "0",                    "0"},
    {"s.dec2hex",           "12a",                  kNone},
    {"s.dec2hex",           "",                     kNone},
    {"s.dec2hex",           "-",                    "0"},         // str2sint(): a lone sign is 0
    {"s.hex2dec",           "ff",                   "#255"},
    {"s.hex2dec",           "FF",                   "#255"},
    {"s.hex2dec",           "ffffffff",             "#-1"},
    {"s.hex2dec",           "",                     "#0"},
    {"s.hex2dec",           "0x1f",                 kNone},
    // base64, xor, eval
    {"s.b64encode",         "\x2\x3\x4\x5!@#%^&*",  "AgMEBSFAIyVeJio="},
    {"s.b64encode",         "a",                    "YQ=="},
    {"s.b64encode",         "ab",                   "YWI="},
    {"s.b64encode",         "",                     ""},
    {"s.b64decode",         "AgMEBSFAIyVeJio=",     "\x2\x3\x4\x5!@#%^&*"},
    {"s.b64decode",         "YQ==",                 "a"},
    {"s.b64decode",         "YW\r\nI=",             "ab"},        // bytes outside the alphabet are skipped
    {"s.b64decode",         "Y",                    ""},          // as many as can be decoded
    {"s.xor,x",             "aaaaaabbbbbb",         "\x19\x19\x19\x19\x19\x19\x1a\x1a\x1a\x1a\x1a\x1a"},
    {"s.xor,ab",            "abab",                 "\0\0\0\0"sv},
    {"s.xor,",              "abc",                  kNone},
    {"s.eval",              "Hello, $var(x)",       kNone},       // the engine computes it, not the table
    // uri.*
    {"uri.user",            URI,                    "alice"},
    {"uri.host",            URI,                    "atlanta.com"},
    {"uri.domain",          URI,                    "atlanta.com"},
    {"uri.passwd",          URI,                    "secret"},
    {"uri.port",            URI,                    "#5060"},
    {"uri.params",          URI,                    "transport=udp;lr;ttl=5;user=phone;maddr=1.2.3.4;method=INVITE;r2=on"},
    {"uri.param,transport", URI,                    "udp"},
    {"uri.param,TTL",       URI,                    "5"},
    {"uri.param,lr",        URI,                    ""},          // a flag is "", not NULL
    {"uri.param,nope",      URI,                    kNone},
    {"uri.param,x",         "sip:a@b;x=1;x=2",      "2"},         // the last of a name, as parse_params()
    {"uri.headers",         URI,                    "subject=x"},
    {"uri.transport",       URI,                    "udp"},
    {"uri.ttl",             URI,                    "5"},
    {"uri.uparam",          URI,                    "phone"},
    {"uri.maddr",           URI,                    "1.2.3.4"},
    {"uri.method",          URI,                    "INVITE"},
    {"uri.lr",              URI,                    kNone},       // ;lr has no value
    {"uri.lr",              "sip:a@b;lr=on",        "on"},
    {"uri.r2",              URI,                    "on"},
    {"uri.schema",          URI,                    "sip"},
    {"uri.schema",          "sips:bob@[2001:db8::1]:5061", "sips"},
    {"uri.host",            "sips:bob@[2001:db8::1]:5061", "[2001:db8::1]"},
    {"uri.port",            "sips:bob@[2001:db8::1]:5061", "#5061"},
    {"uri.user",            "sip:atlanta.com",      kNone},       // a missing part is NULL
    {"uri.passwd",          "sip:a@atlanta.com",    kNone},
    {"uri.port",            "sip:atlanta.com",      kNone},
    {"uri.params",          "sip:atlanta.com",      kNone},
    {"uri.param,lr",        "sip:atlanta.com",      kNone},
    {"uri.headers",         "sip:atlanta.com",      kNone},
    {"uri.transport",       "sip:atlanta.com",      kNone},
    {"uri.user",            "tel:+1-201-555-0123",  "+1-201-555-0123"},
    {"uri.user",            "not a uri",            kNone},
    {"uri.user",            "http://example.com/",  kNone},
    {"uri.host",            "",                     kNone},
    // via.*
    {"via.name",            VIA,                    "SIP"},
    {"via.version",         VIA,                    "2.0"},
    {"via.transport",       VIA,                    "UDP"},
    {"via.host",            VIA,                    "10.0.0.1"},
    {"via.domain",          VIA,                    "10.0.0.1"},
    {"via.port",            VIA,                    "#5060"},
    {"via.params",          VIA,                    "branch=z9hG4bK776;rport;received=1.2.3.4"},
    {"via.param,branch",    VIA,                    "z9hG4bK776"},
    {"via.param,RPORT",     VIA,                    ""},          // a flag: "" here, NULL from via.rport
    {"via.param,ttl",       VIA,                    kNone},
    {"via.branch",          VIA,                    "z9hG4bK776"},
    {"via.received",        VIA,                    "1.2.3.4"},
    {"via.rport",           VIA,                    kNone},
    {"via.rport",           "SIP/2.0/UDP h;rport=5061", "5061"},
    {"via.comment",         "SIP/2.0/UDP h;branch=z9hG4bK1 (hello there)", "hello there"},
    {"via.branch",          "SIP/2.0/UDP h;branch=z9hG4bK1 (hello there)", "z9hG4bK1"},
    {"via.comment",         VIA,                    kNone},
    {"via.port",            "SIP/2.0/TCP h",        kNone},
    {"via.params",          "SIP/2.0/TCP h",        kNone},
    {"via.host",            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b", "a"},  // the first value
    {"via.host",            "ab",                   kNone},
    {"via.host",            "not a via",            kNone},
    // param.* (OpenSIPS's list runs last to first: see param_at())
    {"param.value,c",       "a=1;b=2;c=3",          "3"},
    {"param.value,b",       "a=1;b=22;c=333",       "22"},
    {"param.value,B",       "a=1;b=2",              "2"},
    {"param.value,a",       "a;b=2",                ""},
    {"param.value,a",       "a=\"x y\";b=2",        "x y"},
    {"param.value,a",       "a=1;a=2",              "2"},
    {"param.value,z",       "a=1;b=2",              kNone},
    {"param.exist,ob",      "a=0;b=2;ob;c=3",       "#1"},
    {"param.exist,a",       "a=0;b=2;ob;c=3",       "#1"},
    {"param.exist,foo",     "a=0;b=2;ob;c=3",       "#0"},
    {"param.valueat,1",     "a=1;b=2;c=3",          "2"},
    {"param.valueat,0",     "a=1;b=2;c=3",          "3"},
    {"param.valueat,-1",    "a=1;b=2;c=3",          "1"},
    {"param.valueat,3",     "a=1;b=2;c=3",          kNone},
    {"param.valueat,-4",    "a=1;b=2;c=3",          kNone},
    {"param.name,1",        "a=1;b=2;c=3",          "b"},
    {"param.name,0",        "a=1;b=2;c=3",          "c"},
    {"param.name,-1",       "a=1;b=2;c=3",          "a"},
    {"param.count",         "a=1;b=2;c=3",          "#3"},
    {"param.count",         "a=1 ;  b=2",           "#2"},
    {"param.count",         "a=1,b=2",              "#1"},        // a ',' ends the list
    {"param.count",         "a=1;",                 kNone},       // parse_params() refuses these
    {"param.count",         "a=;b",                 kNone},
    {"param.count",         "a b",                  kNone},
    {"param.count",         "a=\"x",                kNone},
    {"param.count",         "",                     kNone},
    // nameaddr.*
    {"nameaddr.name",       "\"test\" <sip:test@opensips.org>", "\"test\""},  // quotes kept
    {"nameaddr.uri",        "\"test\" <sip:test@opensips.org>", "sip:test@opensips.org"},
    {"nameaddr.len",        "\"test\" <sip:test@opensips.org>", "#30"},
    {"nameaddr.param,tag",  "\"test\" <sip:test@opensips.org>;tag=dat43h", "dat43h"},
    {"nameaddr.params",     NA,                     "tag=dat43h;private=yes"},
    {"nameaddr.param,private", NA,                  "yes"},
    {"nameaddr.param,Tag",  NA,                     kNone},       // case-sensitive, as OpenSIPS
    {"nameaddr.param,x",    "<sip:a@b>;x",          kNone},
    {"nameaddr.0.name",     NA_LIST,                "\"first\""},
    {"nameaddr.1.name",     NA_LIST,                "\"second\""},
    {"nameaddr.-1.name",    NA_LIST,                "\"second\""},
    {"nameaddr.1.uri",      NA_LIST,                "second@opensips.org"},
    {"nameaddr.2.name",     NA_LIST,                kNone},
    {"nameaddr.-3.uri",     NA_LIST,                kNone},
    {"nameaddr.1.len",      NA_LIST,                "#30"},
    {"nameaddr.0.param,tag", NA,                    "dat43h"},
    {"nameaddr.name",       "Alice Smith <sip:a@b>", "Alice Smith"},
    {"nameaddr.name",       "<sip:a@b>",            kNone},
    {"nameaddr.uri",        "sip:a@b;tag=1",        "sip:a@b"},
    {"nameaddr.param,tag",  "sip:a@b;tag=1",        "1"},
    {"nameaddr.params",     "<sip:a@b>",            kNone},
    {"nameaddr.params",     "<sip:a@b> ; tag=1 ",   "tag=1"},
    {"nameaddr.uri",        "\"unterminated <sip:a@b>", kNone},
    {"nameaddr.uri",        "",                     kNone},
    // ip.*
    {"ip.pton}{ip.ntop",    "194.168.4.134",        "194.168.4.134"},
    {"ip.pton}{ip.family",  "194.168.4.134",        "INET"},
    {"ip.pton}{s.len",      "194.168.4.134",        "#4"},
    {"ip.pton}{ip.ntop",    "2001:db8::1",          "2001:DB8:0:0:0:0:0:1"},
    {"ip.pton}{ip.family",  "2001:db8::1",          "INET6"},
    {"ip.pton}{ip.ntop",    "[::1]",                "0:0:0:0:0:0:0:1"},
    {"ip.pton}{ip.ntop",    "10.0.0.1",             "10.0.0.1"},
    {"ip.pton",             "x",                    kNone},
    {"ip.pton",             "",                     kNone},
    {"ip.ntop",             "abc",                  kNone},
    {"ip.family",           "abc",                  kNone},
    {"ip.isip",             "194.168.4.134",        "#1"},
    {"ip.isip",             "194.168.4.134.1",      "#0"},
    {"ip.isip",             "256.1.1.1",            "#0"},
    {"ip.isip",             "01.2.3.4",             "#0"},        // no leading zeros
    {"ip.isip",             "1.2.3",                "#0"},
    {"ip.isip",             "1.2.3.",               "#1"},        // str2ip() takes a trailing dot
    {"ip.isip",             "::ffff:1.2.3.4",       "#0"},        // nor embedded IPv4
    {"ip.isip",             "",                     kNone},
    {"ip.isip4",            "194.168.4.134",        "#1"},
    {"ip.isip4",            "::1",                  "#0"},
    {"ip.isip6",            "194.168.4.134",        "#0"},
    {"ip.isip6",            "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "#1"},
    {"ip.isip6",            "[::1]",                "#1"},
    {"ip.isip6",            "1:2:3",                "#0"},
    {"ip.matches,10.10.0.1/24", "10.10.0.77",       "#1"},
    {"ip.matches,10.10.0.1/24", "10.10.1.1",        "#0"},
    {"ip.matches,2001:db8::/32", "2001:db8::5",     "#1"},
    {"ip.matches,2001:db8::/32", "10.10.0.1",       kNone},       // different families
    {"ip.matches,10.0.0.0/33", "10.0.0.1",          kNone},
    {"ip.matches,10.0.0.0", "10.0.0.1",             kNone},
    {"ip.matches,10.0.0.0/8", "x",                  kNone},
    {"ip.isprivate",        "10.1.2.3",             "#1"},
    {"ip.isprivate",        "172.16.0.1",           "#1"},
    {"ip.isprivate",        "172.32.0.1",           "#0"},
    {"ip.isprivate",        "192.168.1.1",          "#1"},
    {"ip.isprivate",        "100.64.0.1",           "#1"},
    {"ip.isprivate",        "127.0.0.1",            "#1"},
    {"ip.isprivate",        "8.8.8.8",              "#0"},
    {"ip.isprivate",        "::1",                  "#0"},
    // csv.*
    {"csv.count",           "a,b,c",                "#3"},
    {"csv.value,2",         "a,b,c",                "c"},
    {"csv.value,-1",        "a,b,c",                "c"},
    {"csv.value,-3",        "a,b,c",                "a"},
    {"csv.value,3",         "a,b,c",                kNone},
    {"csv.value,-4",        "a,b,c",                kNone},
    {"csv.count",           "\"x,y\",z",            "#2"},
    {"csv.value,0",         "\"x,y\",z",            "x,y"},
    {"csv.value,0",         "\"say \"\"hi\"\"\",b", "say \"hi\""},
    {"csv.value,0",         "a\"b,c",               "a\"b"},
    {"csv.count",           "a,",                   "#2"},
    {"csv.count",           "\"a\",",               "#1"},        // as lib/csv.c: no field after it
    {"csv.count",           "a,b\r\n",              "#2"},
    {"csv.count",           "a\tb",                 kNone},
    {"csv.count",           "\"a",                  kNone},
    {"csv.count",           "\"a\"b",               kNone},
    {"csv.count",           "",                     kNone},
    // sdp.*
    {"sdp.line,m",          SDP,                    "m=audio 4000 RTP/AVP 0 8"},
    {"sdp.line,a,1",        SDP,                    "a=sendrecv"},
    {"sdp.line,a,2",        SDP,                    "a=recvonly"},
    {"sdp.line,v",          SDP,                    "v=0"},
    {"sdp.line,a,3",        SDP,                    kNone},
    {"sdp.line,z",          SDP,                    kNone},
    {"sdp.line,m",          "v=0\nm=audio 1 RTP/AVP 0\n", kNone},  // no CR to end the line
    {"sdp.stream,0",        SDP,                    SDP_AUDIO1},
    {"sdp.stream,1",        SDP,                    SDP_VIDEO},
    {"sdp.stream,-1",       SDP,                    SDP_AUDIO2},
    {"sdp.stream,video",    SDP,                    SDP_VIDEO},
    {"sdp.stream,audio",    SDP,                    SDP_AUDIO2},  // the last of its type, as the source
    {"sdp.stream,3",        SDP,                    kNone},
    {"sdp.stream,text",     SDP,                    kNone},
    {"sdp.stream,0",        "hello",                kNone},
    {"sdp.stream,0",        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n", kNone},  // no c=
    {"sdp.stream-delete,video", SDP,                SDP_HEAD SDP_AUDIO1 SDP_AUDIO2},
    {"sdp.stream-delete,audio", SDP,                SDP_HEAD SDP_VIDEO},
    {"sdp.stream-delete,0", SDP,                    SDP_HEAD SDP_VIDEO SDP_AUDIO2},
    {"sdp.stream-delete,-1", SDP,                   SDP_HEAD SDP_AUDIO1 SDP_VIDEO},
    {"sdp.stream-delete,text", SDP,                 kNone},
    // re.subst
    {"re.subst,/a/A/g",     "abc",                  "Abc"},
    {"re.subst,/b/B/g",     "abcabc",               "aBcaBc"},
    {"re.subst,/b/B/",      "abcabc",               "aBcabc"},
    {"re.subst,/(a)(b)/\\2\\1/", "abc",             "bac"},
    {"re.subst,/b/x/i",     "ABC",                  "AxC"},
    {"re.subst,/z/Z/",      "abc",                  "abc"},       // no match: unchanged
    {"re.subst,/a,b/x/",    "a,bc",                 "xc"},
    {"re.subst,/\\{/-/",    "a{b",                  "a-b"},
    {"re.subst,/[/x/",      "abc",                  kNone},
    {"re.subst,/a/A/",      "",                     kNone},
};
// clang-format on

std::string show(const Value& v) {
  if (v.is_null()) return "<no value>";
  if (v.kind == Value::Kind::Int) return "#" + std::to_string(v.i);
  return std::string(v.s);
}

// Applies "a}{b" left to right.
Value run(VmState& st, std::string_view chain, Value v) {
  for (size_t from = 0; from <= chain.size();) {
    const size_t end = std::min(chain.find("}{", from), chain.size());
    config::TransformCode code;
    std::string why;
    const std::string_view one = chain.substr(from, end - from);
    EXPECT_TRUE(config::parse_transform(one, code, why)) << one << ": " << why;
    std::vector<Value> args;
    for (const config::TransformArg& a : code.args) args.push_back(Value::string(a.text));
    v = apply_transform(st, code.id, args, v);
    from = end + 2;
  }
  return v;
}

TEST(transforms, DocumentedResults) {
  auto st = std::make_unique<VmState>();
  for (const Case& c : kCases) {
    st->arena_used = 0;
    st->error = nullptr;
    const Value out = run(*st, c.transform, Value::string(c.input));
    const std::string expected = c.expected.data() ? std::string(c.expected) : "<no value>";
    EXPECT_EQ(show(out), expected) << "{" << c.transform << "} over '" << c.input << "'";
  }
}

// Every transformation of the table has a case above: none is listed without a computed result.
TEST(transforms, EveryTransformationIsTested) {
  for (const config::TransformSpec& t : config::transform_table()) {
    const std::string name = std::string(t.klass) + "." + std::string(t.name);
    bool tested = false;
    for (const Case& c : kCases) {
      for (size_t from = 0; from <= c.transform.size();) {
        const size_t end = std::min(c.transform.find("}{", from), c.transform.size());
        const std::string_view written = c.transform.substr(from, end - from);
        tested |= written == name || written.starts_with(name + ",");
        from = end + 2;
      }
    }
    EXPECT_TRUE(tested) << "{" << name << "} has no case";
  }
}

TEST(transforms, NullStaysNull) {
  auto st = std::make_unique<VmState>();
  for (const config::TransformSpec& t : config::transform_table()) {
    const Value args[] = {Value::string("1"), Value::string("1")};
    EXPECT_TRUE(apply_transform(*st, t.id, std::span(args, t.max_args), Value::null()).is_null())
        << t.klass << "." << t.name;
  }
}

// An integer input is its decimal text, as a value OpenSIPS holds as both integer and string.
TEST(transforms, IntegerInputs) {
  auto st = std::make_unique<VmState>();
  const Value n = Value::integer(12345);
  EXPECT_EQ(show(apply_transform(*st, TransformId::SLen, {}, n)), "#5");
  EXPECT_EQ(show(apply_transform(*st, TransformId::SInt, {}, n)), "#12345");
  EXPECT_EQ(show(apply_transform(*st, TransformId::SHex2dec, {}, n)), "#12345");  // already converted
  EXPECT_EQ(show(apply_transform(*st, TransformId::SDec2hex, {}, Value::integer(255))), "ff");
  EXPECT_EQ(show(apply_transform(*st, TransformId::SB64encode, {}, Value::integer(5))), "NQ==");
  const Value pad[] = {Value::string("0"), Value::integer(7)};
  EXPECT_EQ(show(apply_transform(*st, TransformId::SFillLeft, pad, n)), "0012345");
  EXPECT_EQ(show(apply_transform(*st, TransformId::UriUser, {}, n)), "<no value>");
}

// Arguments arrive evaluated: integers or text holding a number, for a number argument.
TEST(transforms, ArgumentsAreValues) {
  auto st = std::make_unique<VmState>();
  const Value abcd = Value::string("abcd");
  const Value ints[] = {Value::integer(1), Value::integer(2)};
  EXPECT_EQ(show(apply_transform(*st, TransformId::SSubstr, ints, abcd)), "bc");
  const Value text[] = {Value::string("-2"), Value::string("0")};
  EXPECT_EQ(show(apply_transform(*st, TransformId::SSubstr, text, abcd)), "cd");
  const Value junk[] = {Value::string("x"), Value::integer(1)};
  EXPECT_EQ(show(apply_transform(*st, TransformId::SSubstr, junk, abcd)), "<no value>");
  const Value null[] = {Value::null(), Value::integer(1)};
  EXPECT_EQ(show(apply_transform(*st, TransformId::SSubstr, null, abcd)), "<no value>");
  const Value needle[] = {Value::string("b"), Value::integer(-3)};
  EXPECT_EQ(show(apply_transform(*st, TransformId::SIndex, needle, abcd)), "#1");
  const Value at[] = {Value::integer(-1)};
  EXPECT_EQ(show(apply_transform(*st, TransformId::ParamValueAt, at, Value::string("a=1;b=2"))), "1");
  const Value stream[] = {Value::string("1")};  // a media index written as text
  EXPECT_EQ(show(apply_transform(*st, TransformId::SdpStream, stream, Value::string(SDP))), SDP_VIDEO);
}

TEST(transforms, OutOfArenaGivesNoValue) {
  auto st = std::make_unique<VmState>();
  st->arena_used = uint32_t(st->arena.size() - 2);
  EXPECT_TRUE(apply_transform(*st, TransformId::SMd5, {}, Value::string("x")).is_null());
  EXPECT_NE(st->error, nullptr);
}

int g_crypto_allocations = 0;
void* counted_malloc(size_t n, const char*, int) { return ++g_crypto_allocations, std::malloc(n); }
void* counted_realloc(void* p, size_t n, const char*, int) {
  return ++g_crypto_allocations, std::realloc(p, n);
}
void plain_free(void* p, const char*, int) { std::free(p); }

// The digests run on stack contexts: OpenSSL's allocator is never called (its one-shot SHA256() and
// HMAC() would be, on every call).
TEST(transforms, HashesDoNotAllocate) {
  if (!CRYPTO_set_mem_functions(counted_malloc, counted_realloc, plain_free))
    GTEST_SKIP() << "OpenSSL allocated before this test could watch it";
  auto st = std::make_unique<VmState>();
  const Value key[] = {Value::string("key")};
  for (TransformId id :
       {TransformId::SMd5, TransformId::SSha1, TransformId::SSha224, TransformId::SSha256,
        TransformId::SSha384, TransformId::SSha512, TransformId::SSha1Hmac, TransformId::SSha224Hmac,
        TransformId::SSha256Hmac, TransformId::SSha384Hmac, TransformId::SSha512Hmac}) {
    st->arena_used = 0;
    EXPECT_FALSE(apply_transform(*st, id, key, Value::string("test")).is_null());
  }
  EXPECT_EQ(g_crypto_allocations, 0);
}

config::TransformCode parsed(std::string_view text) {
  config::TransformCode code;
  std::string why;
  EXPECT_TRUE(config::parse_transform(text, code, why)) << text << ": " << why;
  return code;
}

std::string refused(std::string_view text) {
  config::TransformCode code;
  std::string why;
  EXPECT_FALSE(config::parse_transform(text, code, why)) << text;
  return why;
}

// The argument forms of OpenSIPS's parsers: which may be variables, how numbers and tokens are written.
TEST(transforms, ArgumentForms) {
  EXPECT_EQ(parsed("S.Len").id, TransformId::SLen);  // names in any case
  EXPECT_EQ(parsed("s.substr, - 2 , +1").args[0].text, "-2");
  EXPECT_EQ(parsed("s.substr, - 2 , +1").args[1].text, "1");
  EXPECT_TRUE(parsed("s.substr,$var(o),1").args[0].is_pvar);
  EXPECT_EQ(parsed("s.select,1,,").args[1].text, ",");
  EXPECT_EQ(parsed("s.fill.left, ' ' , 5").args[0].text, " ");
  EXPECT_EQ(parsed("s.fill.left, ab c , 5").args[0].text, "ab c");
  EXPECT_EQ(parsed("param.value,a\\,b").args[0].text, "a\\,b");  // an escaped comma stays in
  EXPECT_EQ(parsed("re.subst,/a,b/c/g").args[0].text, "/a,b/c/g");
  EXPECT_TRUE(parsed("re.subst,$var(re)").args[0].is_pvar);
  EXPECT_EQ(parsed("s.eval").id, TransformId::SEval);
  const config::TransformCode last = parsed("nameaddr.-1.uri");
  EXPECT_EQ(last.id, TransformId::NameaddrUri);
  ASSERT_EQ(last.args.size(), 1u);
  EXPECT_EQ(last.args[0].text, "-1");
  EXPECT_EQ(parsed("nameaddr.uri").args[0].text, "0");
  const config::TransformCode param = parsed("nameaddr.2.param,tag");
  ASSERT_EQ(param.args.size(), 2u);
  EXPECT_EQ(param.args[0].text, "tag");
  EXPECT_EQ(param.args[1].text, "2");

  EXPECT_NE(refused("s.fill.left,$var(p),3").find("pseudo-variable"), std::string::npos);
  EXPECT_NE(refused("s.fill.left,0,$var(n)").find("number"), std::string::npos);
  EXPECT_NE(refused("s.fill.left,'',3").find("empty"), std::string::npos);
  EXPECT_NE(refused("s.select,1,ab").find("one character"), std::string::npos);
  EXPECT_NE(refused("s.select,1,").find("one character"), std::string::npos);
  EXPECT_NE(refused("s.substr,x,1").find("number"), std::string::npos);
  EXPECT_NE(refused("s.width,-1").find("negative"), std::string::npos);
  EXPECT_NE(refused("uri.param,a b").find("whitespace"), std::string::npos);
  EXPECT_NE(refused("s.len,1").find("argument"), std::string::npos);
  EXPECT_NE(refused("ip.resolve").find("unknown"), std::string::npos);  // needs DNS
  EXPECT_NE(refused("s.crc32").find("unknown"), std::string::npos);
  EXPECT_NE(refused("uri.usr").find("uri.user"), std::string::npos);
}

}  // namespace
}  // namespace sipd::engine
