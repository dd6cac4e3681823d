// find_class (dataplane/sip/class_scan.h) answers as the byte loop: for each class the value parsers ask
// about, in and out of it, at every length from 0 to 70 and every start, with every byte value put at every
// position of a run that is otherwise all in (or all out of) the class.
#include "dataplane/sip/class_scan.h"

#include <gtest/gtest.h>

#include <string>

namespace sipd::sip {
namespace {

template <uint16_t Cls, bool In>
size_t byte_loop(std::string_view s, size_t from) {
  for (size_t i = from; i < s.size(); ++i)
    if (has_class(s[i], Cls) == In) return i;
  return s.size();
}

// A byte that is not what find_class<Cls, In> looks for, so a run of it has no hit of its own.
template <uint16_t Cls, bool In>
char filler() {
  for (int c = 0; c < 256; ++c)
    if (has_class(char(c), Cls) != In) return char(c);
  return 0;
}

template <uint16_t Cls, bool In>
void check() {
  const char fill = filler<Cls, In>();
  for (size_t len = 0; len <= 70; ++len) {
    std::string s(len, fill);
    EXPECT_EQ((find_class<Cls, In>(s, 0)), len);
    for (size_t at = 0; at < len; ++at) {
      for (int c = 0; c < 256; ++c) {
        s[at] = char(c);
        for (size_t from : {size_t(0), at / 2, at, len})
          ASSERT_EQ((find_class<Cls, In>(s, from)), (byte_loop<Cls, In>(s, from)))
              << "class " << Cls << " in " << In << " len " << len << " at " << at << " byte " << c;
      }
      s[at] = fill;
    }
  }
}

TEST(class_scan, FindClassAnswersAsTheByteLoop) {
  check<kToken, false>();
  check<kParamValue, false>();
  check<kWord, false>();
  check<kBracketUriStop, true>();
  check<kBareUriStop, true>();
  check<kToken, true>();
}

}  // namespace
}  // namespace sipd::sip
