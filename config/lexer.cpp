#include "config/lexer.h"

#include <array>

namespace sipd::config {
namespace {

constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_ident(char c) { return is_alpha(c) || is_digit(c); }

struct Op {
  std::string_view text;
  Tok kind;
};

// Two-character operators first, so "==" is not read as "=" "=".
constexpr std::array<Op, 29> kOps = {{
    {"==", Tok::Eq},         {"!=", Tok::Ne},          {"<=", Tok::Le},      {">=", Tok::Ge},
    {"=~", Tok::Match},      {"!~", Tok::NoMatch},     {"&&", Tok::AndAnd},  {"||", Tok::OrOr},
    {"+=", Tok::PlusAssign}, {"-=", Tok::MinusAssign}, {"{", Tok::LBrace},   {"}", Tok::RBrace},
    {"(", Tok::LParen},      {")", Tok::RParen},       {"[", Tok::LBracket}, {"]", Tok::RBracket},
    {";", Tok::Semi},        {",", Tok::Comma},        {":", Tok::Colon},    {"=", Tok::Assign},
    {"<", Tok::Lt},          {">", Tok::Gt},           {"!", Tok::Not},      {"+", Tok::Plus},
    {"-", Tok::Minus},       {"*", Tok::Star},         {"/", Tok::Slash},    {"%", Tok::Percent},
    {"|", Tok::BitOr},
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
    case Tok::Error:
      return "invalid token";
  }
  return "?";
}

void Lexer::error(uint32_t offset, std::string message) {
  diags_.error(file_.pos(offset), std::move(message));
}

void Lexer::skip_space_and_comments() {
  const uint32_t start = pos_;
  while (pos_ < src_.size()) {
    const char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
    } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '*') {
      const size_t close = src_.find("*/", pos_ + 2);
      if (close == std::string_view::npos) {
        error(pos_, "unterminated comment: '/*' has no closing '*/'");
        pos_ = uint32_t(src_.size());
      } else {
        pos_ = uint32_t(close + 2);
      }
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
  t.begin = begin;
  t.end = pos_;
  t.space_before = space_;
  space_ = false;
  after_value_ = kind == Tok::PVar || kind == Tok::String || kind == Tok::Transform;
  return t;
}

Token Lexer::next() {
  skip_space_and_comments();
  const uint32_t begin = pos_;
  if (pos_ >= src_.size()) return make(Tok::End, begin);
  const char c = src_[pos_];
  if (c == '{' && after_value_ && !space_ && at_transform()) return lex_transform(begin);
  if (is_alpha(c)) {
    while (pos_ < src_.size() && is_ident(src_[pos_])) ++pos_;
    Token t = make(Tok::Ident, begin);
    t.text = std::string(src_.substr(begin, pos_ - begin));
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
  switch (c) {
    case '&':
      ++pos_;
      return make(Tok::BitAnd, begin);
    case '^':
      ++pos_;
      return make(Tok::BitXor, begin);
    case '~':
      ++pos_;
      return make(Tok::BitNot, begin);
    default:
      break;
  }
  // One whole UTF-8 sequence, so the message shows the character the operator typed.
  uint32_t end = pos_ + 1;
  while (end < src_.size() && (uint8_t(src_[end]) & 0xC0) == 0x80) ++end;
  error(begin, "unexpected character '" + std::string(src_.substr(begin, end - begin)) + "'");
  pos_ = end;
  return make(Tok::Error, begin);
}

// "..." or '...', on one line; \n \r \t \\ \" \' are escapes, any other backslash stays as written.
Token Lexer::lex_string(uint32_t begin, char quote) {
  std::string text;
  ++pos_;
  while (pos_ < src_.size() && src_[pos_] != quote && src_[pos_] != '\n') {
    char c = src_[pos_++];
    if (c == '\\' && pos_ < src_.size() && src_[pos_] != '\n') {
      const char e = src_[pos_++];
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
        case '\\':
        case '"':
        case '\'':
          c = e;
          break;
        default:
          text += '\\';
          c = e;
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

// $name, $name(arg), $name(arg)[index], $(...) with balanced parentheses, and $$ (a literal dollar).
Token Lexer::lex_pvar(uint32_t begin) {
  ++pos_;
  const auto balanced = [&](char open, char close) {
    int depth = 0;
    while (pos_ < src_.size() && src_[pos_] != '\n') {
      const char c = src_[pos_++];
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
    while (pos_ < src_.size() && is_ident(src_[pos_])) ++pos_;
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
bool Lexer::at_transform() const {
  uint32_t i = pos_ + 1;
  const uint32_t name = i;
  while (i < src_.size() && src_[i] >= 'a' && src_[i] <= 'z') ++i;
  return i > name && i + 1 < src_.size() && src_[i] == '.' && is_alpha(src_[i + 1]);
}

Token Lexer::lex_transform(uint32_t begin) {
  const size_t close = src_.find('}', pos_);
  const size_t eol = src_.find('\n', pos_);
  if (close == std::string_view::npos || (eol != std::string_view::npos && eol < close)) {
    error(begin, "unterminated transformation: '{' has no closing '}' on this line");
    pos_ = uint32_t(eol == std::string_view::npos ? src_.size() : eol);
    return make(Tok::Error, begin);
  }
  pos_ = uint32_t(close + 1);
  Token t = make(Tok::Transform, begin);
  t.text = std::string(src_.substr(begin + 1, close - begin - 1));
  return t;
}

Token Lexer::raw_value() {
  while (pos_ < src_.size() && (src_[pos_] == ' ' || src_[pos_] == '\t')) ++pos_;
  const uint32_t begin = pos_;
  if (pos_ < src_.size() && (src_[pos_] == '"' || src_[pos_] == '\'')) return lex_string(begin, src_[pos_]);
  while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '#') ++pos_;
  uint32_t end = pos_;
  while (end > begin && (src_[end - 1] == ' ' || src_[end - 1] == '\t' || src_[end - 1] == '\r')) --end;
  Token t = make(Tok::Ident, begin);
  t.end = end;
  t.text = std::string(src_.substr(begin, end - begin));
  return t;
}

}  // namespace sipd::config
