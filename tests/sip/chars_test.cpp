#include "dataplane/sip/chars.h"

#include <gtest/gtest.h>

#include <string>

namespace sipd::sip {
namespace {

// The byte-at-a-time definition iequals() must keep.
bool reference(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

// Every length from 0 to 40 (the short loop, the two words of four, the words of eight with an overlapping
// last one), every byte value at every position of one side: the word-at-a-time compare answers as the
// byte loop does, for letters of either case, the bytes around 'A'..'Z' and 'a'..'z', and the high half.
TEST(chars, IequalsAnswersAsTheByteLoopAtEveryLengthAndByte) {
  const std::string base = "Content-Length: Via; BRANCH=z9hG4bK-Xy@[";
  size_t checked = 0;
  for (size_t n = 0; n <= 40; ++n) {
    const std::string a = base.substr(0, n);
    std::string lower = a, upper = a;
    for (char& c : lower) c = to_lower(c);
    for (char& c : upper) c = char(c >= 'a' && c <= 'z' ? c - 32 : c);
    EXPECT_TRUE(iequals(a, lower)) << a;
    EXPECT_TRUE(iequals(upper, lower)) << a;
    for (size_t at = 0; at < n; ++at) {
      for (int v = 0; v < 256; ++v) {
        std::string b = a;
        b[at] = char(v);
        ASSERT_EQ(iequals(a, b), reference(a, b)) << "length " << n << ", byte " << v << " at " << at;
        ++checked;
      }
    }
  }
  EXPECT_FALSE(iequals("branch", "branc"));
  EXPECT_FALSE(iequals("@", "`"));  // 0x40 and 0x60: one bit apart, and neither is a letter
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_TRUE(iequals("\xC4", "\xC4"));
  EXPECT_FALSE(iequals("\xC4", "\xE4"));  // not ASCII: no case to fold
  static_assert(iequals("Via", "vIA"));   // still usable in constant expressions
  EXPECT_GT(checked, 100000u);
}

}  // namespace
}  // namespace sipd::sip
