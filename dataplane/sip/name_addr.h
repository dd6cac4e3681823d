// name-addr / addr-spec header values: From, To, Contact, Route, Record-Route, Path, Refer-To
// (RFC 3261 20.10, 20.20, 20.39 and 25). Pure, allocation-free; any thread. Views point into the buffer.
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::sip {

struct NameAddr {
  std::string_view display;  // without quotes when quoted; tokens and inner LWS as written otherwise
  bool quoted = false;
  std::string_view uri;  // between '<' '>' or the bare addr-spec
  bool bracketed = false;
  std::string_view params;   // header parameters after the address, raw from the first ';'
  std::string_view tag;      // From/To ;tag=
  std::string_view expires;  // Contact ;expires=
  std::string_view q;        // Contact ;q=
  bool has_tag = false;
};

// Parses one value. Quoted display names may hold any quoted-pair (a quoted NUL included); an unquoted
// display name is a sequence of tokens (no LWS required before '<', RFC 4475 3.1.1.6). A bare addr-spec
// ends at the first ';' and must not contain ',', '?' or whitespace (RFC 3261 20.10). The URI itself is
// only delimited here; parse_uri() checks it.
[[nodiscard]] bool parse_name_addr(std::string_view value, NameAddr& out);

// A Contact value: "*" or a name-addr whose expires is delta-seconds and q is 0-1 with up to 3 decimals.
// `star` is set for "*".
[[nodiscard]] bool parse_contact(std::string_view value, NameAddr& out, bool& star);

}  // namespace sipd::sip
