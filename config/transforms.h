// The transformations of the routing language — `{s.len}`, `{uri.user}`, `{param.value,name}`... — as a
// table: each one's name, its arguments, and the id the engine's body is found by
// (dataplane/engine/transforms.cpp computes every one as OpenSIPS 3.x documents it). The checker refuses a
// transformation that is not in the table, or whose arguments do not fit; the compiler turns the text
// between the braces into a TransformCode. Adding a transformation touches its table entry and its body.
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
  // strings
  SLen,
  SInt,
  SSubstr,
  SSelect,
  STolower,
  SToupper,
  // uri
  UriUser,
  UriHost,
  UriPort,
  UriParams,
  UriParam,
  // parameter lists
  ParamValue,
  ParamCount,
  kCount,  // not a transformation: the number of ids
};

// What one argument of a transformation is, as written between the commas.
enum class TrArg : uint8_t {
  Any,     // text or a pseudo-variable
  Int,     // a number (or a pseudo-variable holding one)
  Char,    // exactly one character, which may be ',' itself ({s.select,0,,})
  String,  // text (or a pseudo-variable)
};

struct TransformSpec {
  std::string_view klass;  // "s", "uri", "param", "nameaddr", "via", "re"...
  std::string_view name;   // "len", "substr", "encode.hexa"...
  TransformId id;
  uint8_t min_args = 0;
  uint8_t max_args = 0;
  std::array<TrArg, 3> args{};
  // One argument: everything after the first ',' as written, commas included ({re.subst,/a,b/c/g}).
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

// Splits `text` (what stands between the braces) into its transformation and arguments. On failure returns
// false with `error` set: an unknown transformation (with the closest known name when there is one), or
// arguments that do not fit its spec.
bool parse_transform(std::string_view text, TransformCode& out, std::string& error);

// "s.substr" -> its spec; nullptr when unknown.
const TransformSpec* find_transform(std::string_view dotted_name);

}  // namespace sipd::config
