#include "config/lexer.h"

#include <array>
#include <cctype>

namespace sipd::config {
namespace {

constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_ident(char c) { return is_alpha(c) || is_digit(c); }

struct Op {
  std::string_view text;
  Tok kind;
};

// Longer operators first, so "==" is not read as "=" "=".
constexpr std::array<Op, 40> kOps = {{
    {"==", Tok::Eq},          {"!=", Tok::Ne},
    {"<=", Tok::Le},          {">=", Tok::Ge},
    {"=~", Tok::Match},       {"!~", Tok::NoMatch},
    {"&&", Tok::AndAnd},      {"||", Tok::OrOr},
    {"+=", Tok::PlusAssign},  {"-=", Tok::MinusAssign},
    {":=", Tok::ColonAssign}, {"*=", Tok::StarAssign},
    {"/=", Tok::SlashAssign}, {"%=", Tok::PercentAssign},
    {"&=", Tok::AndAssign},   {"|=", Tok::OrAssign},
    {"^=", Tok::XorAssign},   {"<<", Tok::ShiftLeft},
    {">>", Tok::ShiftRight},  {"{", Tok::LBrace},
    {"}", Tok::RBrace},       {"(", Tok::LParen},
    {")", Tok::RParen},       {"[", Tok::LBracket},
    {"]", Tok::RBracket},     {";", Tok::Semi},
    {",", Tok::Comma},        {":", Tok::Colon},
    {"=", Tok::Assign},       {"<", Tok::Lt},
    {">", Tok::Gt},           {"!", Tok::Not},
    {"+", Tok::Plus},         {"-", Tok::Minus},
    {"*", Tok::Star},         {"/", Tok::Slash},
    {"%", Tok::Percent},      {"|", Tok::BitOr},
    {"&", Tok::BitAnd},       {"^", Tok::BitXor},
}};

}  // namespace

std::string_view to_string(Tok t) {
  switch (t) {
    case Tok::End:
      return "end of file";
    case Tok::Ident:
      return "name";
    case Tok::Int:
      return "number";
    case Tok::String:
      return "string";
    case Tok::PVar:
      return "pseudo-variable";
    case Tok::Transform:
      return "transformation";
    case Tok::LBrace:
      return "'{'";
    case Tok::RBrace:
      return "'}'";
    case Tok::LParen:
      return "'('";
    case Tok::RParen:
      return "')'";
    case Tok::LBracket:
      return "'['";
    case Tok::RBracket:
      return "']'";
    case Tok::Semi:
      return "';'";
    case Tok::Comma:
      return "','";
    case Tok::Colon:
      return "':'";
    case Tok::Assign:
      return "'='";
    case Tok::PlusAssign:
      return "'+='";
    case Tok::MinusAssign:
      return "'-='";
    case Tok::ColonAssign:
      return "':='";
    case Tok::StarAssign:
      return "'*='";
    case Tok::SlashAssign:
      return "'/='";
    case Tok::PercentAssign:
      return "'%='";
    case Tok::AndAssign:
      return "'&='";
    case Tok::OrAssign:
      return "'|='";
    case Tok::XorAssign:
      return "'^='";
    case Tok::Eq:
      return "'=='";
    case Tok::Ne:
      return "'!='";
    case Tok::Lt:
      return "'<'";
    case Tok::Gt:
      return "'>'";
    case Tok::Le:
      return "'<='";
    case Tok::Ge:
      return "'>='";
    case Tok::Match:
      return "'=~'";
    case Tok::NoMatch:
      return "'!~'";
    case Tok::AndAnd:
      return "'&&'";
    case Tok::OrOr:
      return "'||'";
    case Tok::Not:
      return "'!'";
    case Tok::Plus:
      return "'+'";
    case Tok::Minus:
      return "'-'";
    case Tok::Star:
      return "'*'";
    case Tok::Slash:
      return "'/'";
    case Tok::Percent:
      return "'%'";
    case Tok::BitOr:
      return "'|'";
    case Tok::BitAnd:
      return "'&'";
    case Tok::BitXor:
      return "'^'";
    case Tok::BitNot:
      return "'~'";
    case Tok::ShiftLeft:
      return "'<<'";
    case Tok::ShiftRight:
      return "'>>'";
    case Tok::Error:
      return "invalid token";
  }
  return "?";
}

void Lexer::error(uint32_t local, std::string message) {
  diags_.error(file_.pos(base_ + local), std::move(message));
}

// Spaces, line breaks, `#` comments and `/* */` comments, which nest as in OpenSIPS 3.x.
void Lexer::skip_space_and_comments() {
  const uint32_t start = pos_;
  while (pos_ < src_.size()) {
    const char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
    } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '*') {
      const uint32_t open = pos_;
      int depth = 0;
      while (pos_ < src_.size()) {
        if (src_.compare(pos_, 2, "/*") == 0) {
          ++depth;
          pos_ += 2;
        } else if (src_.compare(pos_, 2, "*/") == 0) {
          pos_ += 2;
          if (--depth == 0) break;
        } else {
          ++pos_;
        }
      }
      if (depth > 0) error(open, "unterminated comment: '/*' has no closing '*/'");
    } else {
      break;
    }
  }
  space_ = space_ || pos_ != start;
}

bool Lexer::newline_ahead() {
  const uint32_t from = pos_;
  skip_space_and_comments();
  return src_.substr(from, pos_ - from).find('\n') != std::string_view::npos || pos_ == src_.size();
}

Token Lexer::make(Tok kind, uint32_t begin) {
  Token t;
  t.kind = kind;
  t.begin = base_ + begin;
  t.end = base_ + pos_;
  t.space_before = space_;
  space_ = false;
  after_value_ = kind == Tok::PVar || kind == Tok::String || kind == Tok::Transform;
  return t;
}

// `include_file "path"`: lexing goes on in that file, then comes back here. `import_file` is the same: in
// OpenSIPS 3.x (cfg_pp.c) a file either one cannot read stops the start-up (2.x skipped an import_file).
bool Lexer::include(const Token& directive) {
  skip_space_and_comments();
  if (pos_ >= src_.size() || (src_[pos_] != '"' && src_[pos_] != '\'')) {
    error(directive.begin - base_, directive.text + " needs the file's name in quotes");
    return false;
  }
  const Token name = lex_string(pos_, src_[pos_]);
  std::string why;
  const int file = file_.include(name.text, name.begin, why);
  if (file < 0) {
    diags_.error(file_.pos(name.begin), directive.text + ": " + why);
    return false;
  }
  includes_.push_back(Resume{current_, pos_});
  current_ = uint16_t(file);
  src_ = file_.text_of(current_);
  base_ = file_.base(current_);
  pos_ = 0;
  return true;
}

bool Lexer::end_of_included_file() {
  if (includes_.empty()) return false;
  const Resume r = includes_.back();
  includes_.pop_back();
  current_ = r.file;
  src_ = file_.text_of(current_);
  base_ = file_.base(current_);
  pos_ = r.pos;
  return true;
}

Token Lexer::next() {
  for (;;) {
    skip_space_and_comments();
    const uint32_t begin = pos_;
    if (pos_ >= src_.size()) {
      if (end_of_included_file()) continue;
      return make(Tok::End, begin);
    }
    const char c = src_[pos_];
    if (c == '{' && after_value_ && !space_ && at_transform()) return lex_transform(begin);
    if (is_alpha(c)) {
      while (pos_ < src_.size() && is_ident(src_[pos_])) ++pos_;
      Token t = make(Tok::Ident, begin);
      t.text = std::string(src_.substr(begin, pos_ - begin));
      if (t.text == "include_file" || t.text == "import_file") {
        include(t);
        continue;
      }
      return t;
    }
    if (is_digit(c)) return lex_number(begin);
    if (c == '"' || c == '\'') return lex_string(begin, c);
    if (c == '$') return lex_pvar(begin);
    for (const Op& op : kOps) {
      if (src_.substr(pos_, op.text.size()) == op.text) {
        pos_ += uint32_t(op.text.size());
        return make(op.kind, begin);
      }
    }
    if (c == '~') {
      ++pos_;
      return make(Tok::BitNot, begin);
    }
    // One whole UTF-8 sequence, so the message shows the character the operator typed.
    uint32_t end = pos_ + 1;
    while (end < src_.size() && (uint8_t(src_[end]) & 0xC0) == 0x80) ++end;
    error(begin, "unexpected character '" + std::string(src_.substr(begin, end - begin)) + "'");
    pos_ = end;
    return make(Tok::Error, begin);
  }
}

// A string that runs past its line is one only when what follows its closing quote can follow a string
// (`,` `)` `;` `+` another string...): a quote the page lost otherwise swallows the next lines, and the
// error belongs where it opened.
bool Lexer::string_may_end(size_t at) const {
  while (at < src_.size() && (src_[at] == ' ' || src_[at] == '\t' || src_[at] == '\r')) ++at;
  if (at >= src_.size()) return true;
  switch (src_[at]) {
    case ',':
    case ')':
    case ';':
    case '+':
    case ']':
    case '"':
    case '\'':
    case '{':
    case '\n':
      return true;
    default:
      return false;
  }
}

// "..." with the escapes \n \r \a \t \" \\ \xHH and octal \NN(N), a backslash before a line break
// dropped, any other backslash kept as written (regexes and substitutions rely on it); '...' as written.
// Both may run over several lines.
Token Lexer::lex_string(uint32_t begin, char quote) {
  std::string text;
  ++pos_;
  const bool escapes = quote == '"';
  while (pos_ < src_.size() && src_[pos_] != quote) {
    char c = src_[pos_];
    if (c == '\n') {
      // Where does the string end, if it goes on? Only accept it when that end can end a string.
      size_t close = pos_;
      while (close < src_.size() && src_[close] != quote) close += (escapes && src_[close] == '\\') ? 2 : 1;
      if (close >= src_.size() || !string_may_end(close + 1)) break;
    }
    ++pos_;
    if (escapes && c == '\\' && pos_ < src_.size()) {
      const char e = src_[pos_];
      if (e == '\n') {  // a line continued
        ++pos_;
        continue;
      }
      if (e == '\r' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '\n') {
        pos_ += 2;
        continue;
      }
      ++pos_;
      switch (e) {
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'a':
          c = '\a';
          break;
        case '\\':
        case '"':
          c = e;
          break;
        case 'x': {
          int v = 0, digits = 0;
          while (digits < 2 && pos_ < src_.size() && std::isxdigit(uint8_t(src_[pos_]))) {
            const char h = char(std::tolower(uint8_t(src_[pos_++])));
            v = v * 16 + (h <= '9' ? h - '0' : h - 'a' + 10);
            ++digits;
          }
          if (digits == 0) {
            text += "\\x";
            continue;
          }
          c = char(v);
          break;
        }
        default:
          if (e >= '0' && e <= '7' && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7') {
            int v = (e - '0') * 8 + (src_[pos_++] - '0');  // two or three octal digits
            if (pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7' && v < 32)
              v = v * 8 + (src_[pos_++] - '0');
            c = char(v);
          } else {
            text += '\\';
            c = e;
          }
          break;
      }
    }
    text += c;
  }
  if (pos_ >= src_.size() || src_[pos_] != quote) {
    error(begin,
          std::string("unterminated string: the ") + quote + " opened here is not closed on this line");
    Token t = make(Tok::String, begin);
    t.text = std::move(text);
    return t;
  }
  ++pos_;
  Token t = make(Tok::String, begin);
  t.text = std::move(text);
  return t;
}

// Decimal, 0x hex, or (with a leading 0) octal as in C and OpenSIPS ("fifo_mode", 0666).
Token Lexer::lex_number(uint32_t begin) {
  int base = 10;
  if (src_[pos_] == '0' && pos_ + 1 < src_.size() && (src_[pos_ + 1] == 'x' || src_[pos_ + 1] == 'X')) {
    base = 16;
    pos_ += 2;
  } else if (src_[pos_] == '0') {
    base = 8;
  }
  const uint32_t digits = pos_;
  int64_t value = 0;
  bool overflow = false, bad = false;
  while (pos_ < src_.size() && (is_ident(src_[pos_]))) {
    const char c = src_[pos_++];
    int d = is_digit(c) ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : 99;
    if (d >= base) {
      bad = true;
      continue;
    }
    if (value > (INT64_MAX - d) / base) overflow = true;
    if (!overflow) value = value * base + d;
  }
  if (pos_ == digits || bad)
    error(begin, "malformed number '" + std::string(src_.substr(begin, pos_ - begin)) + "'");
  if (overflow) error(begin, "number '" + std::string(src_.substr(begin, pos_ - begin)) + "' is too large");
  Token t = make(Tok::Int, begin);
  t.number = value;
  return t;
}

// $name, $name(arg), $name(arg)[index], $name.sub(arg) ($ct.fields(uri)), $(...) with balanced
// parentheses (transformations inside keep their own braces), and $$ (a literal dollar).
Token Lexer::lex_pvar(uint32_t begin) {
  ++pos_;
  const auto balanced = [&](char open, char close) {
    int depth = 0, braces = 0;
    while (pos_ < src_.size() && src_[pos_] != '\n') {
      const char c = src_[pos_++];
      if (c == '{') ++braces;
      if (c == '}' && braces > 0) --braces;
      if (braces > 0) continue;
      if (c == open) ++depth;
      if (c == close && --depth == 0) return true;
    }
    return false;
  };
  bool ok = true;
  if (pos_ < src_.size() && src_[pos_] == '$') {
    ++pos_;
  } else if (pos_ < src_.size() && src_[pos_] == '(') {
    ok = balanced('(', ')');
  } else if (pos_ < src_.size() && is_alpha(src_[pos_])) {
    for (;;) {
      while (pos_ < src_.size() && is_ident(src_[pos_])) ++pos_;
      if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_alpha(src_[pos_ + 1])) {
        ++pos_;
        continue;
      }
      break;
    }
    if (ok && pos_ < src_.size() && src_[pos_] == '(') ok = balanced('(', ')');
    if (ok && pos_ < src_.size() && src_[pos_] == '[') ok = balanced('[', ']');
  } else {
    error(begin, "'$' must start a pseudo-variable such as $ru or $var(name); write $$ for a literal dollar");
    return make(Tok::Error, begin);
  }
  if (!ok) error(begin, "unterminated pseudo-variable: a bracket opened here is not closed on this line");
  Token t = make(Tok::PVar, begin);
  t.text = std::string(src_.substr(begin, pos_ - begin));
  return t;
}

// A transformation is '{' lowercase-name '.' ... glued to the value before it: `$var(x){s.len}`.
// (`{nameaddr.0.name}` and `{nameaddr.-1.uri}` carry a list index after the class; names are taken in
// either case, as OpenSIPS takes them.)
bool Lexer::at_transform() const {
  uint32_t i = pos_ + 1;
  const uint32_t name = i;
  while (i < src_.size() && is_alpha(src_[i])) ++i;
  return i > name && i + 1 < src_.size() && src_[i] == '.' &&
         (is_alpha(src_[i + 1]) || is_digit(src_[i + 1]) || src_[i + 1] == '-');
}

// The transformation's text up to its balancing '}' (an argument may hold `$(var(x){s.len})`).
Token Lexer::lex_transform(uint32_t begin) {
  int depth = 0;
  size_t close = pos_;
  for (; close < src_.size() && src_[close] != '\n'; ++close) {
    if (src_[close] == '{') ++depth;
    if (src_[close] == '}' && --depth == 0) break;
  }
  if (close >= src_.size() || src_[close] != '}') {
    error(begin, "unterminated transformation: '{' has no closing '}' on this line");
    pos_ = uint32_t(close);
    return make(Tok::Error, begin);
  }
  pos_ = uint32_t(close + 1);
  Token t = make(Tok::Transform, begin);
  t.text = std::string(src_.substr(begin + 1, close - begin - 1));
  return t;
}

bool Lexer::next_line_starts_with(std::string_view word) const {
  size_t at = pos_;
  while (at < src_.size() && src_[at] != '\n') {
    if (src_[at] != ' ' && src_[at] != '\t' && src_[at] != '\r') return false;
    ++at;
  }
  while (at < src_.size() && (src_[at] == ' ' || src_[at] == '\t' || src_[at] == '\n' || src_[at] == '\r'))
    ++at;
  return src_.substr(at, word.size()) == word && at + word.size() < src_.size() &&
         (src_[at + word.size()] == ' ' || src_[at + word.size()] == '\t');
}

Token Lexer::raw_value_next_line() {
  while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
  while (pos_ < src_.size() && (src_[pos_] == '\n' || src_[pos_] == ' ' || src_[pos_] == '\t')) ++pos_;
  return raw_value();
}

Token Lexer::raw_value() {
  while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t')) ++pos_;
  const uint32_t begin = pos_;
  if (pos_ < src_.size() && (src_[pos_] == '"' || src_[pos_] == '\'')) return lex_string(begin, src_[pos_]);
  while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '#') ++pos_;
  uint32_t end = pos_;
  while (end > begin && (src_[end - 1] == ' ' || src_[end - 1] == '\t' || src_[end - 1] == '\r')) --end;
  Token t = make(Tok::Ident, begin);
  t.end = base_ + end;
  t.text = std::string(src_.substr(begin, end - begin));
  return t;
}

}  // namespace sipd::config
