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

std::string_view format_sip_date(int64_t t, char (&out)[29]) {
  static constexpr char kDays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t days = t / 86400, secs = t % 86400;
  if (secs < 0) secs += 86400, --days;
  // Days since 1970-01-01 to a civil date, in 400-year eras that start on 1 March.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2);
  if (year < 0 || year > 9999) year = year < 0 ? 0 : 9999;  // 4 digits, as the grammar has them
  char* p = out;
  auto put = [&](const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) *p++ = s[i];
  };
  auto two = [&](int64_t v) {
    *p++ = char('0' + v / 10);
    *p++ = char('0' + v % 10);
  };
  put(kDays[((days % 7) + 7) % 7], 3);
  put(", ", 2);
  two(day);
  *p++ = ' ';
  put(kMonths[month - 1], 3);
  *p++ = ' ';
  two(year / 100);
  two(year % 100);
  *p++ = ' ';
  two(secs / 3600);
  *p++ = ':';
  two(secs / 60 % 60);
  *p++ = ':';
  two(secs % 60);
  put(" GMT", 4);
  return {out, size_t(p - out)};
}

}  // namespace sipd::sip
