// Finding the first byte of a run that is (or is not) in one of chars.h's classes, sixteen bytes at a
// time: each byte's low nibble picks, from one 16-entry table, the rows (high nibbles 0-7) in which that
// column is in the class, its high nibble picks its own row's bit from a second table, and a byte is in the
// class when the two share a bit (PSHUFB twice, AND, compare: the nibble lookup simdjson classifies with).
// Bytes from 0x80 up are all in a class or all out of it (the tables check that when they are built), so
// their sign bit decides them.
//
// For the value parsers' long runs: a URI, a branch or tag value, a Call-ID word. Below 16 bytes the byte
// loop answers (as it did before); above, the blocks do, and the byte loop takes the tail.
// SSSE3 is below SSE4.2, which scan.cpp's slowest structural scan needs already. Pure, any thread.
#pragma once

#include <tmmintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/sip/chars.h"

namespace sipd::sip {
namespace class_scan {

// [0, 16): by low nibble, the rows holding a member; [16, 32): by high nibble, the row's own bit.
template <uint16_t Cls, bool In>
constexpr std::array<uint8_t, 32> make_tables() {
  std::array<uint8_t, 32> t{};
  for (int c = 0; c < 128; ++c)
    if (has_class(char(c), Cls) == In) t[size_t(c & 15)] |= uint8_t(1u << (c >> 4));
  for (int h = 0; h < 8; ++h) t[size_t(16 + h)] = uint8_t(1u << h);
  return t;
}

template <uint16_t Cls, bool In>
constexpr bool high_bytes_agree() {
  for (int c = 0x80; c < 0x100; ++c)
    if (has_class(char(c), Cls) != has_class(char(0x80), Cls)) return false;
  return true;
}

template <uint16_t Cls, bool In>
inline constexpr std::array<uint8_t, 32> kTables = make_tables<Cls, In>();

template <uint16_t Cls, bool In>
__attribute__((target("ssse3"), noinline)) size_t find_blocks(const char* p, size_t n, size_t i) {
  static_assert(high_bytes_agree<Cls, In>(), "bytes from 0x80 up must all be in the class or all out");
  constexpr bool high = has_class(char(0x80), Cls) == In;
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kTables<Cls, In>.data()));
  const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kTables<Cls, In>.data() + 16));
  const __m128i nibble = _mm_set1_epi8(0x0f);
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i rows = _mm_shuffle_epi8(lo, _mm_and_si128(x, nibble));
    const __m128i row = _mm_shuffle_epi8(hi, _mm_and_si128(_mm_srli_epi16(x, 4), nibble));
    const __m128i none = _mm_cmpeq_epi8(_mm_and_si128(rows, row), _mm_setzero_si128());
    unsigned hit = ~unsigned(_mm_movemask_epi8(none)) & 0xffffu;
    if constexpr (high) hit |= unsigned(_mm_movemask_epi8(x));
    if (hit) return i + size_t(__builtin_ctz(hit));
  }
  for (; i < n; ++i)
    if (has_class(p[i], Cls) == In) return i;
  return n;
}

}  // namespace class_scan

// The first position at or after `from` whose byte is in class `Cls` (In) or not in it (!In); s.size()
// when there is none.
template <uint16_t Cls, bool In>
inline size_t find_class(std::string_view s, size_t from = 0) {
  if (s.size() - from >= 16) return class_scan::find_blocks<Cls, In>(s.data(), s.size(), from);
  for (size_t i = from; i < s.size(); ++i)
    if (has_class(s[i], Cls) == In) return i;
  return s.size();
}

}  // namespace sipd::sip
