// The transformations of the routing language — `{s.len}`, `{uri.user}`, `{param.value,name}`... — as a
// table: each one's name, its arguments, and the id the engine's body is found by
// (dataplane/engine/transforms.cpp computes every one as OpenSIPS 3.x does). The checker refuses a
// transformation that is not in the table, or whose arguments do not fit; the compiler turns the text
// between the braces into a TransformCode. Adding a transformation touches its table entry and its body.
//
// Left out on purpose: {ip.resolve} (it needs DNS, which the dataplane never does) and {s.crc32} (not in
// the 3.x documentation; its 3.x source returns a fixed 10-byte length whatever the number). A script
// that uses them is refused as naming an unknown transformation.
//
// Who calls: the registry (registry().transforms is this table), the checker, the compiler, the engine's
// tests. Immutable; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sipd::config {

enum class TransformId : uint16_t {
  // s.*: strings
  SLen,
  SInt,
  SMd5,
  SReverse,
  SSubstr,
  SSelect,
  SEncodeHexa,
  SDecodeHexa,
  SEscapeCommon,
  SUnescapeCommon,
  SEscapeUser,
  SUnescapeUser,
  SEscapeParam,
  SUnescapeParam,
  STolower,
  SToupper,
  SIndex,
  SRindex,
  SFillLeft,
  SFillRight,
  SWidth,
  STrim,
  STrimr,
  STriml,
  SDec2hex,
  SHex2dec,
  SB64encode,
  SB64decode,
  SXor,
  SEval,  // needs the engine's format machinery: the engine computes it, apply_transform() gives no value
  SSha1,
  SSha224,
  SSha256,
  SSha384,
  SSha512,
  SSha1Hmac,
  SSha224Hmac,
  SSha256Hmac,
  SSha384Hmac,
  SSha512Hmac,
  // uri.*
  UriUser,
  UriHost,
  UriPasswd,
  UriPort,
  UriParams,
  UriParam,
  UriHeaders,
  UriTransport,
  UriTtl,
  UriUparam,
  UriMaddr,
  UriMethod,
  UriLr,
  UriR2,
  UriSchema,
  // via.*
  ViaName,
  ViaVersion,
  ViaTransport,
  ViaHost,
  ViaPort,
  ViaComment,
  ViaParams,
  ViaParam,
  ViaBranch,
  ViaReceived,
  ViaRport,
  // param.*: "a=1;b=2" lists
  ParamValue,
  ParamExist,
  ParamValueAt,
  ParamName,
  ParamCount,
  // nameaddr.*: the list index ({nameaddr.1.uri}) is the last argument, "0" when not written
  NameaddrName,
  NameaddrUri,
  NameaddrLen,
  NameaddrParam,
  NameaddrParams,
  // ip.*
  IpPton,
  IpNtop,
  IpIsip,
  IpIsip4,
  IpIsip6,
  IpFamily,
  IpMatches,
  IpIsprivate,
  // csv.*
  CsvCount,
  CsvValue,
  // sdp.*
  SdpLine,
  SdpStream,
  SdpStreamDelete,
  // re.*
  ReSubst,
  kCount,  // not a transformation: the number of ids
};

// What one argument of a transformation is, as written between the commas. Every kind but Pad and Length
// may be a pseudo-variable instead (text starting with '$'), read when the transformation runs.
enum class TrArg : uint8_t {
  Any,     // text, commas allowed after a backslash
  Int,     // a number: optional sign, digits, whitespace around it
  Char,    // exactly one character, which may be ',' itself ({s.select,0,,})
  String,  // text without whitespace (around it is dropped); a '\' before ',' or '}' keeps it in
  UInt,    // a number that may not be negative when written literally
  Pad,     // literal text, inner whitespace kept, one pair of surrounding quotes removed ({s.fill.left})
  Length,  // a literal number, never a pseudo-variable ({s.fill.left,0,6})
};

struct TransformSpec {
  std::string_view klass;  // "s", "uri", "param", "nameaddr", "via", "re"...
  std::string_view name;   // "len", "substr", "encode.hexa"...
  TransformId id;
  uint8_t min_args = 0;
  uint8_t max_args = 0;
  std::array<TrArg, 3> args{};
  // One argument: everything after the first ',' as written, commas included ({re.subst,/a,b/c/g}); a
  // pseudo-variable when it starts with '$'.
  bool raw = false;
};

// Every transformation this build computes.
std::span<const TransformSpec> transform_table();

// One argument as the script wrote it: literal text, or a pseudo-variable (text starts with '$') that the
// compiler resolves and the engine reads when the transformation runs.
struct TransformArg {
  std::string text;
  bool is_pvar = false;
  int32_t pvar = -1;  // the compiled read (Program::pvars index) once the compiler has resolved it
};

struct TransformCode {
  TransformId id = TransformId::kCount;
  std::string text;  // as written between the braces, e.g. "s.substr,0,3"
  std::vector<TransformArg> args;
};

// Splits `text` (what stands between the braces) into its transformation and arguments. Names compare
// case-insensitively, as OpenSIPS's do. Literal numbers come back normalized ("-2" for " - 2"), a Pad
// without its quotes, and {nameaddr.N.x} as nameaddr.x with N appended as the last argument. On failure
// returns false with `error` set: an unknown transformation (with the closest known name when there is
// one), or arguments that do not fit its spec.
bool parse_transform(std::string_view text, TransformCode& out, std::string& error);

// "s.substr" -> its spec, any case; nullptr when unknown.
const TransformSpec* find_transform(std::string_view dotted_name);

}  // namespace sipd::config
