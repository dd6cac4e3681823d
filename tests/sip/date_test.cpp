#include "dataplane/sip/date.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include <initializer_list>
#include <string>

#include "tests/testdata.h"

namespace sipd::sip {
namespace {

std::string date_header(const std::string& file) {
  const std::string msg = test::read_file(test::testdata_dir() + "/rfc4475/" + file);
  const size_t at = msg.find("\nDate:");
  if (at == std::string::npos) return {};
  const size_t begin = at + 6;
  return msg.substr(begin, msg.find_first_of("\r\n", begin) - begin);
}

TEST(date, rfc3261_example) {
  SipDate d;
  ASSERT_TRUE(parse_sip_date("Sat, 13 Nov 2010 23:29:00 GMT", d));
  EXPECT_EQ(d.year, 2010);
  EXPECT_EQ(d.month, 11);
  EXPECT_EQ(d.day, 13);
  EXPECT_EQ(d.hour, 23);
  EXPECT_EQ(d.minute, 29);
  EXPECT_EQ(d.second, 0);
  EXPECT_EQ(d.weekday, 6);
  EXPECT_EQ(to_unix_time(d), 1289690940);
}

TEST(date, rfc4475_baddate_est_rejected) {
  const std::string v = date_header("baddate.dat");
  ASSERT_EQ(v, " Fri, 01 Jan 2010 16:00:00 EST");
  SipDate d;
  EXPECT_FALSE(parse_sip_date(v, d));
  EXPECT_TRUE(parse_sip_date("Fri, 01 Jan 2010 16:00:00 GMT", d));
}

TEST(date, other_zones_rejected) {
  SipDate d;
  for (std::string_view v :
       {"Fri, 01 Jan 2010 16:00:00 UTC", "Fri, 01 Jan 2010 16:00:00 UT", "Fri, 01 Jan 2010 16:00:00 UCT",
        "Fri, 01 Jan 2010 16:00:00 +0000", "Fri, 01 Jan 2010 16:00:00"})
    EXPECT_FALSE(parse_sip_date(v, d)) << v;
}

TEST(date, epoch_and_unix_time) {
  SipDate d;
  ASSERT_TRUE(parse_sip_date("Thu, 01 Jan 1970 00:00:00 GMT", d));
  EXPECT_EQ(d.weekday, 4);
  EXPECT_EQ(to_unix_time(d), 0);
  ASSERT_TRUE(parse_sip_date("Wed, 31 Dec 1969 23:59:59 GMT", d));
  EXPECT_EQ(to_unix_time(d), -1);
  ASSERT_TRUE(parse_sip_date("Sat, 15 Oct 2005 04:44:56 GMT", d));
  EXPECT_EQ(to_unix_time(d), 1129351496);
  ASSERT_TRUE(parse_sip_date("Tue, 19 Jan 2038 03:14:08 GMT", d));
  EXPECT_EQ(to_unix_time(d), 2147483648LL);
  ASSERT_TRUE(parse_sip_date("Fri, 31 Dec 9999 23:59:59 GMT", d));
  EXPECT_EQ(to_unix_time(d), 253402300799LL);
}

TEST(date, leap_years) {
  SipDate d;
  EXPECT_TRUE(parse_sip_date("Thu, 29 Feb 2024 12:00:00 GMT", d));
  EXPECT_TRUE(parse_sip_date("Tue, 29 Feb 2000 12:00:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Thu, 29 Feb 1900 12:00:00 GMT", d));  // not a leap year
  EXPECT_FALSE(parse_sip_date("Wed, 29 Feb 2023 12:00:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Sat, 30 Feb 2024 12:00:00 GMT", d));
  ASSERT_TRUE(parse_sip_date("Fri, 01 Mar 2024 00:00:00 GMT", d));
  EXPECT_EQ(to_unix_time(d), 1709251200);
}

TEST(date, ranges) {
  SipDate d;
  EXPECT_TRUE(parse_sip_date("Wed, 31 Dec 2008 23:59:60 GMT", d));  // leap second
  EXPECT_EQ(d.second, 60);
  EXPECT_FALSE(parse_sip_date("Wed, 31 Dec 2008 23:59:61 GMT", d));
  EXPECT_FALSE(parse_sip_date("Wed, 31 Dec 2008 24:00:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Wed, 31 Dec 2008 23:60:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Thu, 31 Apr 2008 10:00:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Mon, 00 Dec 2008 10:00:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Mon, 32 Dec 2008 10:00:00 GMT", d));
}

TEST(date, names_case_insensitive_and_weekday_checked) {
  SipDate d;
  EXPECT_TRUE(parse_sip_date("sat, 13 NOV 2010 23:29:00 gmt", d));
  EXPECT_FALSE(parse_sip_date("Sun, 13 Nov 2010 23:29:00 GMT", d));  // wrong weekday
  EXPECT_FALSE(parse_sip_date("Sat, 13 Noe 2010 23:29:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Sta, 13 Nov 2010 23:29:00 GMT", d));
}

TEST(date, lws_only_around_value) {
  SipDate d;
  EXPECT_TRUE(parse_sip_date("\r\n Sat, 13 Nov 2010 23:29:00 GMT \r\n", d));
  EXPECT_FALSE(parse_sip_date("Sat,  13 Nov 2010 23:29:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Sat, 13 Nov 2010\r\n 23:29:00 GMT", d));
  EXPECT_FALSE(parse_sip_date("Sat 13 Nov 2010 23:29:00 GMT", d));
}

TEST(date, malformed) {
  SipDate d{};
  d.year = 1234;
  for (std::string_view v : std::initializer_list<std::string_view>{
           "", "   ", "Sat, 3 Nov 2010 23:29:00 GMT", "Sat, 13 Nov 10 23:29:00 GMT",
           "Sat, 13 Nov 2010 23:29 GMT", "Sat, 13 Nov 2010 23:29:0a GMT", "Sat, 13 Nov 2010 23-29-00 GMT",
           "Saturday, 13 Nov 2010 23:29:00 GMT", "Sat, 13 Nov 2010 23:29:00 GMTX", "2010-11-13T23:29:00Z",
           "Sat, 13 Nov 2010 23:29:00 GMT, Sat, 13 Nov 2010 23:29:00 GMT",
           std::string_view("Sat, 13 Nov 2010 23:29:00 G\0T", 29)})
    EXPECT_FALSE(parse_sip_date(v, d)) << v;
  EXPECT_EQ(d.year, 1234);  // untouched on failure
}

// Every prefix, copied into an exact-size heap buffer so ASan catches a read past the end.
TEST(date, prefixes_stay_in_bounds) {
  for (std::string_view full : {"Sat, 13 Nov 2010 23:29:00 GMT \r\n"}) {
    for (size_t n = 0; n <= full.size(); ++n) {
      const std::unique_ptr<char[]> buf(new char[n]);
      std::copy_n(full.data(), n, buf.get());
      SipDate d;
      (void)parse_sip_date({buf.get(), n}, d);
    }
  }
}

}  // namespace
}  // namespace sipd::sip
