// Parser for the media-type of the Content-Type header (RFC 3261 sections 20.15 and 25), and a lookup of
// its parameters such as charset or a multipart boundary. Called by the message core when Content-Type is
// first asked for, and by the body handlers (SDP, multipart) and the script engine, on any thread: the
// functions are pure, never allocate and never throw. Every string_view filled in points into the caller's
// `value` and lives as long as that buffer.
#pragma once

#include <string_view>

namespace sipd::sip {

struct MediaType {
  std::string_view type, subtype;  // tokens as written; compare with iequals
  std::string_view params;         // raw ";a=b;c=\"d\"" list from the first ';', empty when none
};

// Parses `type SLASH subtype *(SEMI attribute EQUAL (token / quoted-string))`, with LWS (folds included)
// allowed around '/', ';' and '=' and at both ends. Returns false on an empty value, a missing or empty
// type or subtype, a parameter without '=' or value, an empty parameter list element (";;" or a trailing
// ';'), an unterminated quoted string or anything after the last parameter. `out` is reset first.
[[nodiscard]] bool parse_media_type(std::string_view value, MediaType& out);

// Looks up parameter `name` (case-insensitive) in a parsed media type. Returns true when present and sets
// `value`, without the quotes when the value was quoted (backslash escapes left as they are).
[[nodiscard]] bool media_param(const MediaType& media, std::string_view name, std::string_view& value);

}  // namespace sipd::sip
