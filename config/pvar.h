// Pseudo-variable references as the script writes them, taken apart: `$ru`, `$var(x)`, `$hdr(Via)`,
// `$(avp(x)[1])`, `$(hdr(Via)[*])`, `$(avp(l)[$var(i)])`, `$(rU{s.len}{s.int})`, `$ct.fields(uri)`, `$$`;
// and strings that carry them ("user $fU from $si"), split into literal text and references. The checker
// validates every piece against the registry and the compiler turns them into accessors; nothing here
// knows what a name means.
//
// Transformations belong to the `$( ... )` form; in a string, braces after a bare `$name` are text, as
// OpenSIPS prints them (`"$rU{s.len}"` shows the user followed by "{s.len}"). Outside strings sipd also
// takes them glued to a bare name (`$rU{s.len}`), which the lexer hands over separately.
//
// Who calls: the config checker and compiler, the engine's tests and fuzzers. Single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sipd::config {

struct PvRef {
  enum class Index : uint8_t { None, Number, All, Var };
  std::string name;  // "var", "ru", "hdr", "ct.fields", "$" for `$$`
  std::string arg;   // between the parentheses: "x" of $var(x), "Via" of $hdr(Via)
  bool has_arg = false;
  Index index = Index::None;
  int64_t number = 0;                   // Index::Number (negative counts from the end)
  std::string index_pv;                 // Index::Var: the pseudo-variable holding the index, e.g. "$var(i)"
  std::vector<std::string> transforms;  // what stands between each pair of braces, in order
  size_t length = 0;                    // how many bytes of the text the reference took
};

// Parses the reference at the start of `text` (which begins with '$'). False, with `error`, when it is
// malformed (an unbalanced bracket, an index that is neither a number, '*' nor a pseudo-variable, text
// after a transformation inside `$( )`...).
// `known` (may be null) says whether a name exists: a bare dotted name that does not, such as the
// "fU.x" of "$fU.x", is cut back to its longest known part ("fU"), the rest being text.
using NameFilter = bool (*)(std::string_view name);
bool parse_pvar(std::string_view text, PvRef& out, std::string& error, NameFilter known = nullptr);

// One piece of a string with references: text as it is, or a reference. `offset` is where the piece
// starts in the string.
struct FormatPiece {
  bool is_pvar = false;
  std::string text;  // the literal text, or the reference as written
  PvRef pvar;
  uint32_t offset = 0;
};

// Splits `text` into pieces. A '$' that cannot start a reference (a digit, a space, the end) is text, as
// in a regular expression's anchor; `$$` is one '$'. False, with `error` and `error_at` (an index into
// `text`), when a reference is malformed.
bool split_format(std::string_view text, std::vector<FormatPiece>& out, std::string& error, size_t& error_at,
                  NameFilter known = nullptr);

// True when `text` holds at least one reference or a `$$` (a string that needs formatting at run time).
bool has_pvars(std::string_view text);

}  // namespace sipd::config
