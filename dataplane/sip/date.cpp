#include "dataplane/sip/date.h"

#include "dataplane/sip/chars.h"

namespace sipd::sip {
namespace {

constexpr std::string_view kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// The fixed layout: '#' marks a digit, '?' a letter of a name, anything else must match exactly.
constexpr std::string_view kLayout = "???, ## ??? #### ##:##:## ???";

bool matches_layout(std::string_view v) {
  if (v.size() != kLayout.size()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char want = kLayout[i];
    if (want == '#' ? !is_digit(v[i]) : want == '?' ? !has_class(v[i], kAlpha) : v[i] != want) return false;
  }
  return true;
}

// Index of `name` in `names` (case-insensitive), or -1.
template <size_t N>
int find_name(const std::string_view (&names)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i)
    if (iequals(names[i], name)) return int(i);
  return -1;
}

// Digits already checked by matches_layout, so parse_uint cannot fail here.
unsigned number_at(std::string_view v, size_t pos, size_t len) {
  uint64_t n = 0;
  (void)parse_uint(v.substr(pos, len), 9999, n);
  return unsigned(n);
}

bool is_leap(unsigned year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

unsigned days_in_month(unsigned year, unsigned month) {
  constexpr uint8_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date. Counts in 400-year eras starting on 1 March, so
// the leap day falls at the end of the counted year.
int64_t days_since_epoch(int64_t year, unsigned month, unsigned day) {
  if (month <= 2) --year;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;                            // 0..399
  const int64_t month_from_march = month > 2 ? month - 3 : month + 9;      // 0..11
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;  // 0..365
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}

unsigned weekday_of(int64_t days) { return unsigned(((days % 7) + 7 + 4) % 7); }  // 1970-01-01: Thursday

}  // namespace

bool parse_sip_date(std::string_view value, SipDate& out) {
  const std::string_view v = trim(value);
  if (!matches_layout(v) || !iequals(v.substr(26), "GMT")) return false;
  const int weekday = find_name(kWeekdays, v.substr(0, 3));
  const int month = find_name(kMonths, v.substr(8, 3));
  if (weekday < 0 || month < 0) return false;
  SipDate d;
  d.year = uint16_t(number_at(v, 12, 4));
  d.month = uint8_t(month + 1);
  d.day = uint8_t(number_at(v, 5, 2));
  d.hour = uint8_t(number_at(v, 17, 2));
  d.minute = uint8_t(number_at(v, 20, 2));
  d.second = uint8_t(number_at(v, 23, 2));
  d.weekday = uint8_t(weekday);
  if (d.day == 0 || d.day > days_in_month(d.year, d.month)) return false;
  if (d.hour > 23 || d.minute > 59 || d.second > 60) return false;
  if (weekday_of(days_since_epoch(d.year, d.month, d.day)) != d.weekday) return false;
  out = d;
  return true;
}

int64_t to_unix_time(const SipDate& date) {
  const int64_t days = days_since_epoch(date.year, date.month, date.day);
  return days * 86400 + date.hour * 3600 + date.minute * 60 + date.second;
}

}  // namespace sipd::sip
