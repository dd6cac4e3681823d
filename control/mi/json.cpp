#include "control/mi/json.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace sipd::control {

namespace {

const Json::Array kNoItems;
const Json::Object kNoMembers;

// Length of the UTF-8 sequence starting at s[i] when it is well formed (no overlongs, no surrogates, at
// most U+10FFFF), else 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return uint8_t(s[i + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) return 1;
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Recursive descent over the whole text (it is already bounded by JsonLimits::max_bytes); the depth limit
// bounds the recursion.
class Parser {
 public:
  Parser(std::string_view text, const JsonLimits& limits) : s_(text), limits_(limits) {}

  bool run(Json& out, std::string& error) {
    if (s_.size() > limits_.max_bytes)
      return fail(0, "input longer than " + std::to_string(limits_.max_bytes) + " bytes", error);
    skip_ws();
    if (!value(out, 0)) return fail(at_, why_, error);
    skip_ws();
    if (at_ != s_.size()) return fail(at_, "trailing characters after the value", error);
    return true;
  }

 private:
  static bool fail(size_t at, const std::string& why, std::string& error) {
    error = "at " + std::to_string(at) + ": " + why;
    return false;
  }
  bool bad(const char* why) {
    why_ = why;
    return false;
  }
  void skip_ws() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r'))
      ++at_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) return bad("unknown literal");
    at_ += word.size();
    return true;
  }

  bool value(Json& out, unsigned depth) {
    if (at_ >= s_.size()) return bad("unexpected end of input");
    switch (s_[at_]) {
      case '{':
        return object(out, depth + 1);
      case '[':
        return array(out, depth + 1);
      case '"': {
        std::string str;
        if (!string(str)) return false;
        out = Json(std::move(str));
        return true;
      }
      case 't':
        out = Json(true);
        return literal("true");
      case 'f':
        out = Json(false);
        return literal("false");
      case 'n':
        out = Json();
        return literal("null");
      default:
        return number(out);
    }
  }

  bool object(Json& out, unsigned depth) {
    if (depth > limits_.max_depth) return bad("nested too deeply");
    ++at_;  // '{'
    Json::Object members;
    skip_ws();
    if (at_ < s_.size() && s_[at_] == '}') {
      ++at_;
      out = Json(std::move(members));
      return true;
    }
    for (;;) {
      skip_ws();
      if (at_ >= s_.size()) return bad("unexpected end of input");
      if (s_[at_] != '"') return bad("expected a member name");
      std::string key;
      if (!string(key)) return false;
      skip_ws();
      if (at_ >= s_.size() || s_[at_] != ':') return bad("expected ':'");
      ++at_;
      skip_ws();
      Json v;
      if (!value(v, depth)) return false;
      members.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (at_ >= s_.size()) return bad("unexpected end of input");
      if (s_[at_] == ',') {
        ++at_;
        continue;
      }
      if (s_[at_] != '}') return bad("expected ',' or '}'");
      ++at_;
      out = Json(std::move(members));
      return true;
    }
  }

  bool array(Json& out, unsigned depth) {
    if (depth > limits_.max_depth) return bad("nested too deeply");
    ++at_;  // '['
    Json::Array items;
    skip_ws();
    if (at_ < s_.size() && s_[at_] == ']') {
      ++at_;
      out = Json(std::move(items));
      return true;
    }
    for (;;) {
      skip_ws();
      Json v;
      if (!value(v, depth)) return false;
      items.push_back(std::move(v));
      skip_ws();
      if (at_ >= s_.size()) return bad("unexpected end of input");
      if (s_[at_] == ',') {
        ++at_;
        continue;
      }
      if (s_[at_] != ']') return bad("expected ',' or ']'");
      ++at_;
      out = Json(std::move(items));
      return true;
    }
  }

  bool hex4(uint32_t& v) {
    if (s_.size() - at_ < 4) return bad("truncated \\u escape");
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[at_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        return bad("bad hex digit in \\u escape");
    }
    return true;
  }

  bool string(std::string& out) {
    ++at_;  // '"'
    for (;;) {
      // Copy the run of plain bytes up to the next quote, backslash or control character at once.
      size_t run = at_;
      while (run < s_.size()) {
        const uint8_t c = uint8_t(s_[run]);
        if (c == '"' || c == '\\' || c < 0x20) break;
        if (c < 0x80) {
          ++run;
          continue;
        }
        const size_t n = utf8_sequence(s_, run);
        if (n == 0) {
          at_ = run;
          return bad("invalid UTF-8 in string");
        }
        run += n;
      }
      out.append(s_.data() + at_, run - at_);
      at_ = run;
      if (at_ >= s_.size()) return bad("unterminated string");
      const char c = s_[at_];
      if (c == '"') {
        ++at_;
        return true;
      }
      if (c != '\\') return bad("control character in string");
      if (++at_ >= s_.size()) return bad("unterminated string");
      const char e = s_[at_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return bad("lone low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (s_.size() - at_ < 2 || s_[at_] != '\\' || s_[at_ + 1] != 'u')
              return bad("high surrogate without its low half");
            at_ += 2;
            if (!hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return bad("high surrogate without its low half");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(cp, out);
          break;
        }
        default:
          --at_;
          return bad("bad escape");
      }
    }
  }

  bool number(Json& out) {
    // JSON's grammar is checked here ("01", "1.", "+1", ".5" are errors); from_chars only converts.
    const size_t start = at_;
    size_t i = at_;
    const auto digit = [&](size_t k) { return k < s_.size() && s_[k] >= '0' && s_[k] <= '9'; };
    if (i < s_.size() && s_[i] == '-') ++i;
    if (!digit(i)) return bad("unexpected character");
    if (s_[i] == '0') {
      ++i;
    } else {
      while (digit(i)) ++i;
    }
    bool integral = true;
    if (i < s_.size() && s_[i] == '.') {
      integral = false;
      ++i;
      if (!digit(i)) return bad("digit expected after '.'");
      while (digit(i)) ++i;
    }
    if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E')) {
      integral = false;
      ++i;
      if (i < s_.size() && (s_[i] == '+' || s_[i] == '-')) ++i;
      if (!digit(i)) return bad("digit expected in exponent");
      while (digit(i)) ++i;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + i;
    at_ = i;
    if (integral) {
      int64_t n = 0;
      const auto r = std::from_chars(first, last, n);
      if (r.ec == std::errc() && r.ptr == last) {
        out = Json(n);
        return true;
      }
      // Out of int64's range: kept as a double, as most JSON readers do.
    }
    double d = 0;
    const auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) return bad("number out of range");
    if (r.ec != std::errc() || r.ptr != last) return bad("bad number");
    out = Json(d);
    return true;
  }

  std::string_view s_;
  const JsonLimits& limits_;
  size_t at_ = 0;
  const char* why_ = "";
};

}  // namespace

bool Json::as_bool(bool fallback) const { return is_bool() ? std::get<bool>(v_) : fallback; }

int64_t Json::as_int(int64_t fallback) const {
  if (is_int()) return std::get<int64_t>(v_);
  if (type() == Type::Double) {
    const double d = std::get<double>(v_);
    if (std::isfinite(d) && d == std::floor(d) && d >= -9.2e18 && d <= 9.2e18) return int64_t(d);
  }
  return fallback;
}

double Json::as_double(double fallback) const {
  if (is_int()) return double(std::get<int64_t>(v_));
  if (type() == Type::Double) return std::get<double>(v_);
  return fallback;
}

std::string_view Json::as_string(std::string_view fallback) const {
  return is_string() ? std::string_view(std::get<std::string>(v_)) : fallback;
}

const Json::Array& Json::items() const { return is_array() ? std::get<Array>(v_) : kNoItems; }

const Json::Object& Json::members() const { return is_object() ? std::get<Object>(v_) : kNoMembers; }

size_t Json::size() const {
  if (is_array()) return std::get<Array>(v_).size();
  if (is_object()) return std::get<Object>(v_).size();
  return 0;
}

const Json* Json::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  const Object& o = std::get<Object>(v_);
  for (size_t i = o.size(); i-- > 0;)
    if (o[i].first == key) return &o[i].second;
  return nullptr;
}

Json& Json::set(std::string_view key, Json value) {
  if (is_null()) v_ = Object{};
  if (!is_object()) v_ = Object{};  // a misuse: building into a non-object replaces it
  Object& o = std::get<Object>(v_);
  for (Member& m : o)
    if (m.first == key) return m.second = std::move(value);
  o.emplace_back(std::string(key), std::move(value));
  return o.back().second;
}

Json& Json::push(Json value) {
  if (!is_array()) v_ = Array{};
  Array& a = std::get<Array>(v_);
  a.push_back(std::move(value));
  return a.back();
}

void write_json_string(std::string_view s, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = uint8_t(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += char(c);
        }
    }
    ++i;
  }
  out += '"';
}

void Json::write(std::string& out) const {
  switch (type()) {
    case Type::Null:
      out += "null";
      return;
    case Type::Bool:
      out += std::get<bool>(v_) ? "true" : "false";
      return;
    case Type::Int: {
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof buf, std::get<int64_t>(v_));
      out.append(buf, r.ptr);
      return;
    }
    case Type::Double: {
      const double d = std::get<double>(v_);
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);
      const std::string_view text(buf, size_t(r.ptr - buf));
      out += text;
      // "2.0", not "2": read back, it is a double again.
      if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
      return;
    }
    case Type::String:
      write_json_string(std::get<std::string>(v_), out);
      return;
    case Type::Array: {
      out += '[';
      bool first = true;
      for (const Json& v : std::get<Array>(v_)) {
        if (!first) out += ',';
        first = false;
        v.write(out);
      }
      out += ']';
      return;
    }
    case Type::Object: {
      out += '{';
      bool first = true;
      for (const Member& m : std::get<Object>(v_)) {
        if (!first) out += ',';
        first = false;
        write_json_string(m.first, out);
        out += ':';
        m.second.write(out);
      }
      out += '}';
      return;
    }
  }
}

std::string Json::dump() const {
  std::string out;
  write(out);
  return out;
}

bool Json::parse(std::string_view text, Json& out, std::string& error, const JsonLimits& limits) {
  return Parser(text, limits).run(out, error);
}

}  // namespace sipd::control
