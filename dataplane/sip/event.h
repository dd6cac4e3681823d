// Parser for the Event header (compact form "o", RFC 6665 section 8.2.1 / RFC 3265): the event package,
// its template and the subscription id. Called by the message core when Event is first asked for, and by
// the subscription and presence handlers and the script engine, on any thread: the function is pure,
// never allocates and never throws. Every string_view filled in points into the caller's `value` and lives
// as long as that buffer.
#pragma once

#include <string_view>

namespace sipd::sip {

struct EventHeader {
  std::string_view package;    // "presence" in "presence.winfo"
  std::string_view template_;  // "winfo"; everything after the first '.', so "a.b" for "pkg.a.b"; or empty
  std::string_view id;         // value of ";id=", empty when absent
  std::string_view params;     // raw ";id=1;x" list from the first ';', empty when none
};

// Parses `event-package *("." event-template) *(SEMI event-param)` where package and templates are
// token-nodot and event-param is generic-param (name, or name EQUAL token / host / quoted-string), with
// "id" taking a token. LWS (folds included) is allowed around ';' and '=' and at both ends. Returns false
// on an empty value or package, an empty template ("presence." or "a..b"), an empty parameter (";;" or a
// trailing ';'), a bad value, a quoted or repeated id, or anything after the last parameter. `out` is
// reset first.
[[nodiscard]] bool parse_event(std::string_view value, EventHeader& out);

}  // namespace sipd::sip
