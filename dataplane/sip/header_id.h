// Header names the message core knows, and the lookup from a header name (long or compact form, any case)
// to its id. Unknown names map to HeaderId::Other and are kept, in order, like every other header.
// Pure; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::sip {

enum class HeaderId : uint8_t {
  Other,
  Via,
  From,
  To,
  CallId,
  CSeq,
  MaxForwards,
  Contact,
  ContentLength,
  ContentType,
  ContentEncoding,
  Route,
  RecordRoute,
  Expires,
  MinExpires,
  Require,
  ProxyRequire,
  Supported,
  Unsupported,
  Allow,
  AllowEvents,
  Authorization,
  ProxyAuthorization,
  WwwAuthenticate,
  ProxyAuthenticate,
  Date,
  Event,
  Path,
  Subject,
  UserAgent,
  Server,
  Accept,
  RetryAfter,
  Warning,
  Timestamp,
  ReferTo,
  ReferredBy,
  SessionExpires,
  kCount
};

inline constexpr size_t kHeaderIdCount = size_t(HeaderId::kCount);

// `name` must already be trimmed. Case-insensitive; compact forms (RFC 3261 7.3.3 and later RFCs) included.
// A known id implies `name` is a token; Other says nothing about it.
HeaderId lookup_header(std::string_view name);

// The canonical long name ("Via", "Call-ID"...); "" for Other.
std::string_view header_name(HeaderId id);

}  // namespace sipd::sip
