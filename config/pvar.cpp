#include "config/pvar.h"

namespace sipd::config {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

// The index of `text` just past the bracket that closes the one at `open` (which holds `text[open]`),
// counting nested pairs of the same kind; npos when it is never closed.
size_t past_closing(std::string_view text, size_t open, char o, char c) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == o) ++depth;
    if (text[i] == c && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

// name, name(arg), name[index], from `at`; returns where it stopped, or npos with `error`.
size_t parse_body(std::string_view text, size_t at, PvRef& out, std::string& error, bool bare,
                  NameFilter known) {
  const size_t start = at;
  if (at >= text.size() || !name_start(text[at])) {
    error = "a pseudo-variable name must follow '$'";
    return std::string_view::npos;
  }
  while (at < text.size()) {
    while (at < text.size() && name_char(text[at])) ++at;
    if (at + 1 < text.size() && text[at] == '.' && name_start(text[at + 1])) {
      ++at;
      continue;
    }
    break;
  }
  out.name = std::string(text.substr(start, at - start));
  // A bare dotted name that is not known is cut back to its known part ("$fU.x": $fU, then ".x").
  if (bare && known && !known(out.name)) {
    for (size_t dot = out.name.rfind('.'); dot != std::string::npos; dot = out.name.rfind('.', dot - 1)) {
      if (known(std::string_view(out.name).substr(0, dot))) {
        at = start + dot;
        out.name.resize(dot);
        break;
      }
      if (dot == 0) break;
    }
  }
  if (at < text.size() && text[at] == '(') {
    const size_t end = past_closing(text, at, '(', ')');
    if (end == std::string_view::npos) {
      error = "the '(' of $" + out.name + " is never closed";
      return end;
    }
    out.has_arg = true;
    out.arg = std::string(text.substr(at + 1, end - at - 2));
    at = end;
  }
  if (at < text.size() && text[at] == '[') {
    const size_t end = past_closing(text, at, '[', ']');
    if (end == std::string_view::npos) {
      error = "the '[' of $" + out.name + " is never closed";
      return end;
    }
    const std::string_view idx = text.substr(at + 1, end - at - 2);
    if (idx == "*") {
      out.index = PvRef::Index::All;
    } else if (!idx.empty() && idx[0] == '$') {
      out.index = PvRef::Index::Var;
      out.index_pv = std::string(idx);
    } else {
      size_t i = idx.starts_with('-') ? 1 : 0;
      int64_t n = 0;
      bool digits = i < idx.size();
      for (; i < idx.size() && digits; ++i) {
        digits = idx[i] >= '0' && idx[i] <= '9';
        if (digits && n < 1000000) n = n * 10 + (idx[i] - '0');
      }
      if (!digits) {
        error = "the index of $" + out.name + " must be a number, '*' or a pseudo-variable, not '" +
                std::string(idx) + "'";
        return std::string_view::npos;
      }
      out.index = PvRef::Index::Number;
      out.number = idx.starts_with('-') ? -n : n;
    }
    at = end;
  }
  return at;
}

}  // namespace

bool parse_pvar(std::string_view text, PvRef& out, std::string& error, NameFilter known) {
  out = PvRef{};
  if (text.size() < 2 || text[0] != '$') {
    error = "a pseudo-variable starts with '$'";
    return false;
  }
  if (text[1] == '$') {
    out.name = "$";
    out.length = 2;
    return true;
  }
  if (text[1] != '(') {
    const size_t end = parse_body(text, 1, out, error, true, known);
    if (end == std::string_view::npos) return false;
    out.length = end;
    return true;
  }
  // $( name[(arg)][[index]]{tr}... )
  size_t at = parse_body(text, 2, out, error, false, known);
  if (at == std::string_view::npos) return false;
  while (at < text.size() && text[at] == '{') {
    const size_t end = past_closing(text, at, '{', '}');
    if (end == std::string_view::npos) {
      error = "a transformation's '{' is never closed";
      return false;
    }
    out.transforms.emplace_back(text.substr(at + 1, end - at - 2));
    at = end;
  }
  if (at >= text.size() || text[at] != ')') {
    error = at >= text.size() ? "the '$(' is never closed"
                              : "unexpected '" + std::string(1, text[at]) +
                                    "' inside $( ): only a name, an "
                                    "index and transformations go there";
    return false;
  }
  out.length = at + 1;
  return true;
}

bool has_pvars(std::string_view text) {
  for (size_t i = text.find('$'); i != std::string_view::npos && i + 1 < text.size();
       i = text.find('$', i + 1)) {
    const char c = text[i + 1];
    if (name_start(c) || c == '(' || c == '$') return true;  // `$$` too: formatting makes it one '$'
  }
  return false;
}

bool split_format(std::string_view text, std::vector<FormatPiece>& out, std::string& error, size_t& error_at,
                  NameFilter known) {
  out.clear();
  std::string literal;
  size_t literal_at = 0;
  auto flush = [&] {
    if (!literal.empty()) out.push_back(FormatPiece{false, std::move(literal), {}, uint32_t(literal_at)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (c != '$' || !(name_start(next) || next == '(' || next == '$')) {
      if (literal.empty()) literal_at = i;
      literal += c;
      ++i;
      continue;
    }
    if (next == '$') {  // $$ is one dollar
      if (literal.empty()) literal_at = i;
      literal += '$';
      i += 2;
      continue;
    }
    FormatPiece piece;
    piece.is_pvar = true;
    piece.offset = uint32_t(i);
    if (!parse_pvar(text.substr(i), piece.pvar, error, known)) {
      error_at = i;
      return false;
    }
    piece.text = std::string(text.substr(i, piece.pvar.length));
    flush();
    i += piece.pvar.length;
    out.push_back(std::move(piece));
  }
  flush();
  return true;
}

}  // namespace sipd::config
