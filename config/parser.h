// The parser of the OpenSIPS routing-script dialect: recursive descent from the lexer's tokens to a Script.
// It accepts both generations of scripts (1.x and 3.x) syntactically and reports every syntax error of a
// file in one run, each at its FILE:LINE:COL, recovering at the next statement or top-level item. Names
// (functions, modules, parameters, pseudo-variables) are not checked here.
//
// Who calls: the config compiler and `sipctl config check`. Single-threaded.
#pragma once

#include "config/ast.h"
#include "config/source.h"

namespace sipd::config {

// Parses `file`; problems go to `diags`. The returned script holds everything that parsed.
Script parse_script(const SourceFile& file, Diagnostics& diags);

// A binary operator's level, lowest first: 1 `||` `&&`, 2 the comparisons (`==` ... `=~` `!~`), 3 the bitwise
// operators and shifts, 4 `+ - * / %`; 0 for a token that is no binary operator.
int binary_precedence(Tok t);
inline bool is_comparison(Tok t) { return binary_precedence(t) == 2; }
inline bool is_arithmetic(Tok t) { return binary_precedence(t) >= 3; }

// The parts of a pseudo-variable token: "$var(x)" -> {"var", "x"}, "$(hdr(Via)[1])" -> {"hdr", "Via"},
// "$ru" -> {"ru"}. The argument runs to its balancing ')'.
struct PvarRef {
  std::string name;
  std::string arg;
  bool has_arg = false;
};
PvarRef split_pvar(std::string_view text);

}  // namespace sipd::config
