// Parser for the SIP-date of the Date header (RFC 3261 section 20.17 and 25: the RFC 1123 form only,
// "Sat, 13 Nov 2010 23:29:00 GMT"), and its conversion to Unix time. Called by the message core when the
// Date header is first asked for, and by the registrar and the script engine that use the date, on any
// thread: the functions are pure, never allocate and never throw.
#pragma once

#include <cstdint>
#include <string_view>

namespace sipd::sip {

struct SipDate {
  uint16_t year = 0;                                  // 4 digits as written
  uint8_t month = 0;                                  // 1-12
  uint8_t day = 0, hour = 0, minute = 0, second = 0;  // second may be 60 (a leap second)
  uint8_t weekday = 0;                                // 0 = Sunday
};

// Parses `wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"` with LWS allowed
// only before and after the whole value; names compare case-insensitively (ABNF literals). Returns false
// for any other zone ("EST", "UT", "UTC"), a day the month does not have (leap years included), an hour
// above 23, a minute above 59, a second above 60, or a weekday that does not match the date. `out` is
// written only on success.
[[nodiscard]] bool parse_sip_date(std::string_view value, SipDate& out);

// Seconds since 1970-01-01T00:00:00Z (proleptic Gregorian calendar, no leap seconds: a :60 second counts
// as the next minute's :00). Negative before 1970.
[[nodiscard]] int64_t to_unix_time(const SipDate& date);

// The SIP-date of Unix time `t` ("Tue, 01 Dec 2026 12:00:00 GMT", 29 characters) into `out`: the registrar's
// Date header and the script's.
std::string_view format_sip_date(int64_t t, char (&out)[29]);

}  // namespace sipd::sip
