// Splitting of comma-separated header values and `;name=value` parameter lists, the two shapes most SIP
// header values share. Allocation-free iterators over string_views of the caller's buffer; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::sip {

class Message;
enum class HeaderId : uint8_t;

// Takes the next item off a comma-separated list: the text up to the first comma that is not inside a
// quoted string (backslash escapes honoured) or between '<' and '>'. The item is trimmed of LWS; an empty
// item (",,") comes back empty. Returns false once `rest` holds nothing but LWS. Sets `bad` on an
// unterminated quote or '<'.
bool next_list_item(std::string_view& rest, std::string_view& item, bool& bad);

// Iterates the values of every header field with one id, across lines and commas, in wire order.
class ValueIterator {
 public:
  ValueIterator(const Message& msg, HeaderId id);
  // False at the end, or on a malformed list (then bad() is true).
  bool next(std::string_view& item);
  bool bad() const { return bad_; }
  uint16_t field() const { return field_; }  // index of the field the last item came from

 private:
  const Message& msg_;
  uint16_t field_;
  std::string_view rest_;
  bool bad_ = false;
};

struct Param {
  std::string_view name;
  std::string_view value;  // quoted values keep their quotes
  bool has_value = false;
};

enum class ParamStatus : uint8_t { Ok, End, Bad };

// Takes the next `;name[=value]` off `rest`, which holds a parameter list (LWS allowed around ';' and
// '='). Values are a token, a host (IPv6 references and bare IPv6 addresses included) or a quoted string.
// An empty name (";;") or a missing value after '=' is Bad. End when `rest` holds nothing but LWS.
ParamStatus next_param(std::string_view& rest, Param& out);

// Validates a whole parameter list; returns false on the first Bad.
bool valid_params(std::string_view params);

// Skips a quoted string starting at s[i] == '"'; returns the index just past the closing quote, or
// std::string_view::npos when it is unterminated or holds a raw control character (quoted-pairs such as
// `\` NUL are fine; CR/LF only as part of a fold).
size_t skip_quoted(std::string_view s, size_t i);

// The inside of a quoted string (escapes left as they are), or `s` itself when it is not quoted.
constexpr std::string_view unquote(std::string_view s) {
  return s.size() >= 2 && s.front() == '"' && s.back() == '"' ? s.substr(1, s.size() - 2) : s;
}

}  // namespace sipd::sip
