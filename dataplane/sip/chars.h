// Character classes and small text helpers shared by the SIP parsers (RFC 3261 section 25 terminals).
// Pure, header-only, usable from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace sipd::sip {

enum CharClass : uint16_t {
  kToken = 1 << 0,           // RFC 3261 token: alphanum and -.!%*_+`'~
  kDigit = 1 << 1,           //
  kHex = 1 << 2,             //
  kAlpha = 1 << 3,           //
  kWsp = 1 << 4,             // SP, HTAB
  kSpace = 1 << 5,           // SP, HTAB, CR, LF
  kWord = 1 << 6,            // RFC 3261 word: token chars and ()<>:\"/[]?{}
  kCtl = 1 << 7,             // 0x00-0x1F and 0x7F
  kListStop = 1 << 8,        // ',' '"' '<': where a comma-separated list item may end or nest
  kBracketUriStop = 1 << 9,  // bytes a URI between '<' '>' cannot hold: whitespace, CTL, '<' '"'
  kBareUriStop = 1 << 10,    // bytes a bare addr-spec cannot hold: those and ',' '?' '>'
  kLabel = 1 << 11,          // alphanumerics and '-': what a hostname label is made of
  kParamValue = 1 << 12,     // token chars and ':': an unquoted parameter value (bare IPv6 included)
};

constexpr std::array<uint16_t, 256> make_char_table() {
  std::array<uint16_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint16_t v = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (alpha) v |= kAlpha;
    if (digit) v |= kDigit;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kHex;
    if (alpha || digit || std::string_view("-.!%*_+`'~").find(char(c)) != std::string_view::npos) v |= kToken;
    if ((v & kToken) || std::string_view("()<>:\\\"/[]?{}").find(char(c)) != std::string_view::npos)
      v |= kWord;
    if (c == ' ' || c == '\t') v |= kWsp;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') v |= kSpace;
    if (c < 0x20 || c == 0x7f) v |= kCtl;
    if (c == ',' || c == '"' || c == '<') v |= kListStop;
    if ((v & (kSpace | kCtl)) || c == '<' || c == '"') v |= kBracketUriStop | kBareUriStop;
    if (c == ',' || c == '?' || c == '>') v |= kBareUriStop;
    if (alpha || digit || c == '-') v |= kLabel;
    if ((v & kToken) || c == ':') v |= kParamValue;
    t[size_t(c)] = v;
  }
  return t;
}

inline constexpr std::array<uint16_t, 256> kCharTable = make_char_table();

constexpr bool has_class(char c, uint16_t cls) { return (kCharTable[uint8_t(c)] & cls) != 0; }
constexpr bool is_token_char(char c) { return has_class(c, kToken); }
constexpr bool is_digit(char c) { return has_class(c, kDigit); }
constexpr bool is_hex(char c) { return has_class(c, kHex); }
constexpr bool is_wsp(char c) { return has_class(c, kWsp); }
constexpr bool is_space(char c) { return has_class(c, kSpace); }
constexpr char to_lower(char c) { return char(c | (uint8_t(c - 'A') < 26 ? 0x20 : 0)); }

constexpr bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

// Index just past the run of token characters starting at `i`.
constexpr size_t token_end(std::string_view s, size_t i) {
  while (i < s.size() && is_token_char(s[i])) ++i;
  return i;
}

// `v`'s bytes with 'A'..'Z' lowered, as to_lower() does each, a word at a time (uint32_t or uint64_t). No
// carry crosses a byte: each byte's low seven bits plus 0x3F or 0x25 stay under 0x100.
template <class Word>
constexpr Word lower_bytes(Word v) {
  constexpr Word ones = Word(~Word(0)) / 0xFF, high = ones * 0x80;
  const Word seven = v & ~high;
  const Word upper = (seven + ones * (0x80 - 'A')) & ~(seven + ones * (0x80 - 'Z' - 1)) & ~v & high;
  return v | (upper >> 2);
}

template <class Word>
Word load_word(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Case-insensitive ASCII equality, as to_lower() compares. Eight bytes at a time, the last word
// overlapping the one before it; from 4 to 7 bytes, two overlapping words of four.
constexpr bool iequals(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (std::is_constant_evaluated() || n < 4) {
    for (size_t i = 0; i < n; ++i)
      if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
  }
  const auto same = [&](size_t i, auto word) {
    using Word = decltype(word);
    const Word x = load_word<Word>(a.data() + i), y = load_word<Word>(b.data() + i);
    return x == y || lower_bytes(x) == lower_bytes(y);
  };
  if (n < 8) return same(0, uint32_t()) && same(n - 4, uint32_t());
  for (size_t i = 0; i + 8 < n; i += 8)
    if (!same(i, uint64_t())) return false;
  return same(n - 8, uint64_t());
}

// Strips SP, HTAB, CR and LF at both ends (folded values keep their inner line breaks).
constexpr std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Skips linear white space (SP, HTAB, and CRLF/LF followed by SP/HTAB) from `i`; returns the new index.
constexpr size_t skip_lws(std::string_view s, size_t i) {
  while (i < s.size()) {
    if (is_wsp(s[i])) {
      ++i;
    } else if (s[i] == '\r' || s[i] == '\n') {
      size_t j = i + (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n' ? 2 : 1);
      if (j < s.size() && is_wsp(s[j]))
        i = j;
      else
        return i;
    } else {
      return i;
    }
  }
  return i;
}

// Parses 1*DIGIT into a uint64 with overflow detection. Returns false on empty input, a non-digit or
// a value above `max`.
constexpr bool parse_uint(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    const uint64_t d = uint64_t(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

}  // namespace sipd::sip
