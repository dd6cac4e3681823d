// The lexer of the OpenSIPS routing-script dialect: turns a SourceFile into tokens with positions.
// It knows the dialect's irregular corners: pseudo-variables (`$ru`, `$var(x)`, `$avp(i:700)`,
// `$(hdr(Via)[1])`, `$ct.fields(uri)`, `$$`), transformations glued to a variable or string
// (`$var(x){s.substr,0,3}`, `"a=1;b=2"{param.value,b}`), `#` and nesting `/* */` comments,
// decimal/octal/hex numbers, double-quoted strings with escapes (which may run over several lines) and
// single-quoted ones without, and global parameters whose value runs to the end of the line
// (`listen=udp:192.0.2.1:5060`), which the parser asks for with raw_value(). `include_file "x"` and
// `import_file "x"` bring in another file's tokens where they stand, as OpenSIPS's preprocessor does.
// Errors (an unterminated string or comment, a stray character, a missing include) go to Diagnostics
// with their position; lexing goes on after them so one run reports everything.
//
// Who calls: the config parser. Single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/source.h"

namespace sipd::config {

enum class Tok : uint8_t {
  End,
  Ident,      // names, keywords (if, route, myself...), module function names
  Int,        // value in Token::number
  String,     // text in Token::text, escapes resolved
  PVar,       // text: the whole pseudo-variable as written, e.g. "$avp(i:700)"
  Transform,  // text: the inside of a transformation, e.g. "s.substr,0,3"
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Semi,
  Comma,
  Colon,
  Assign,         // =
  PlusAssign,     // +=
  MinusAssign,    // -=
  ColonAssign,    // :=
  StarAssign,     // *=
  SlashAssign,    // /=
  PercentAssign,  // %=
  AndAssign,      // &=
  OrAssign,       // |=
  XorAssign,      // ^=
  Eq,
  Ne,
  Lt,
  Gt,
  Le,
  Ge,
  Match,    // =~
  NoMatch,  // !~
  AndAnd,
  OrOr,
  Not,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  BitOr,
  BitAnd,
  BitXor,
  BitNot,
  ShiftLeft,   // <<
  ShiftRight,  // >>
  Error,       // something the lexer reported; the parser skips it
};

std::string_view to_string(Tok t);

struct Token {
  Tok kind = Tok::End;
  uint32_t begin = 0;  // byte offsets into the source
  uint32_t end = 0;
  std::string text;           // Ident, String, PVar, Transform
  int64_t number = 0;         // Int
  bool space_before = false;  // whitespace or a comment separates it from the previous token
};

class Lexer {
 public:
  Lexer(const SourceFile& file, Diagnostics& diags) : file_(file), diags_(diags), src_(file.text()) {}

  // The next token (End forever once the input is exhausted).
  Token next();

  // For `name = value` global parameters: the text from the current position to the end of the line or
  // a `#` comment, trimmed; a quoted value comes back unquoted. Positions the lexer at the line's end.
  Token raw_value();
  // raw_value() of the next line (after next_line_starts_with()).
  Token raw_value_next_line();

  // True when a line break lies between the last token returned and the next one.
  bool newline_ahead();
  // True when the next line, indentation aside, starts with `word` (a global value continued there, as
  // auto_scaling_profile's "scale up to ..." lines). Moves nothing.
  bool next_line_starts_with(std::string_view word) const;

  uint32_t offset() const { return base_ + pos_; }

 private:
  void skip_space_and_comments();
  Token make(Tok kind, uint32_t begin);
  Token lex_string(uint32_t begin, char quote);
  Token lex_number(uint32_t begin);
  Token lex_pvar(uint32_t begin);
  Token lex_transform(uint32_t begin);
  bool at_transform() const;
  bool string_may_end(size_t after_quote) const;
  bool include(const Token& directive);
  bool end_of_included_file();
  void error(uint32_t local, std::string message);

  // An include_file in progress: where lexing resumes in the including file.
  struct Resume {
    uint16_t file;
    uint32_t pos;
  };

  const SourceFile& file_;
  Diagnostics& diags_;
  std::string_view src_;  // the text of the file being lexed
  uint32_t base_ = 0;     // its first offset: tokens carry base_ + position
  uint16_t current_ = 0;  // its index in file_
  std::vector<Resume> includes_;
  uint32_t pos_ = 0;
  bool space_ = false;
  bool after_value_ =
      false;  // the last token was a PVar, String or Transform (a '{' may start a transformation)
};

}  // namespace sipd::config
