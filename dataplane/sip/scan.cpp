#include "dataplane/sip/scan.h"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>

// Performance notes: the SIMD kernels compare 64 bytes at a time against '\n' and ':' and walk the two
// bitmaps together, so the cost is one compare+movemask per 16/32 bytes plus one iteration per LF and per
// colon. Colons after a line's first one are cleared from the bitmap in bulk. Kernels are compiled with
// function target attributes (the base build targets plain x86-64) and chosen at run time.

namespace sipd::sip {
namespace {

struct Walker {
  const char* buf;
  LineMark* marks;
  size_t cap;
  ScanResult r;
  uint32_t line_start = 0;
  uint32_t colon = kNoColon;

  // Consumes one LF at `p`; returns true when the scan is over (empty line or overflow).
  bool on_lf(uint32_t p) {
    const uint32_t n = p - line_start;
    if (n == 0 || (n == 1 && buf[line_start] == '\r')) {
      r.complete = true;
      r.header_end = p + 1;
      return true;
    }
    if (r.lines == cap) {
      r.overflow = true;
      return true;
    }
    marks[r.lines++] = {p, colon};
    line_start = p + 1;
    colon = kNoColon;
    return false;
  }

  // Walks one block's bitmaps; returns true when the scan is over.
  bool walk(uint32_t base, uint64_t lf, uint64_t col) {
    while (lf | col) {
      const uint64_t next_lf = lf & (0 - lf);
      if (colon == kNoColon && col != 0 && (next_lf == 0 || (col & (0 - col)) < next_lf)) {
        colon = base + uint32_t(__builtin_ctzll(col));
        col &= ~((next_lf - 1) | next_lf);  // later colons of this line are not needed
        continue;
      }
      if (next_lf == 0) return false;
      col &= ~(next_lf - 1) & ~next_lf;
      lf &= lf - 1;
      if (on_lf(base + uint32_t(__builtin_ctzll(next_lf)))) return true;
    }
    return false;
  }
};

template <typename MaskFn>
inline ScanResult scan_blocks(const char* buf, size_t len, LineMark* marks, size_t cap, MaskFn masks) {
  Walker w{buf, marks, cap, {}};
  size_t pos = 0;
  for (; pos + 64 <= len; pos += 64) {
    uint64_t lf, col;
    masks(buf + pos, lf, col);
    if (w.walk(uint32_t(pos), lf, col)) return w.r;
  }
  if (pos < len) {
    alignas(64) char tail[64] = {};
    std::memcpy(tail, buf + pos, len - pos);
    uint64_t lf, col;
    masks(tail, lf, col);
    const uint64_t valid = (uint64_t(1) << (len - pos)) - 1;
    if (w.walk(uint32_t(pos), lf & valid, col & valid)) return w.r;
  }
  return w.r;
}

__attribute__((target("avx2"))) void masks_avx2(const char* p, uint64_t& lf, uint64_t& col) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
  const __m256i nl = _mm256_set1_epi8('\n');
  const __m256i cn = _mm256_set1_epi8(':');
  lf = uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, nl))) |
       uint64_t(uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, nl)))) << 32;
  col = uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, cn))) |
        uint64_t(uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, cn)))) << 32;
}

__attribute__((target("sse4.2"))) void masks_sse42(const char* p, uint64_t& lf, uint64_t& col) {
  const __m128i nl = _mm_set1_epi8('\n');
  const __m128i cn = _mm_set1_epi8(':');
  lf = 0;
  col = 0;
  for (int i = 0; i < 4; ++i) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
    lf |= uint64_t(uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)))) << (16 * i);
    col |= uint64_t(uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cn)))) << (16 * i);
  }
}

__attribute__((target("avx2"))) ScanResult scan_avx2(const char* buf, size_t len, LineMark* m, size_t cap) {
  return scan_blocks(buf, len, m, cap, masks_avx2);
}

__attribute__((target("sse4.2"))) ScanResult scan_sse42(const char* buf, size_t len, LineMark* m,
                                                        size_t cap) {
  return scan_blocks(buf, len, m, cap, masks_sse42);
}

// The classic byte-at-a-time loop, as a parser without SIMD would write it.
ScanResult scan_scalar(const char* buf, size_t len, LineMark* marks, size_t cap) {
  Walker w{buf, marks, cap, {}};
  for (size_t i = 0; i < len; ++i) {
    const char c = buf[i];
    if (c == '\n') {
      if (w.on_lf(uint32_t(i))) return w.r;
    } else if (c == ':' && w.colon == kNoColon) {
      w.colon = uint32_t(i);
    }
  }
  return w.r;
}

using ScanFn = ScanResult (*)(const char*, size_t, LineMark*, size_t);

ScanFn kernel_fn(ScanKernel k) {
  switch (k) {
    case ScanKernel::Avx2:
      return scan_avx2;
    case ScanKernel::Sse42:
      return scan_sse42;
    case ScanKernel::Scalar:
      break;
  }
  return scan_scalar;
}

ScanKernel pick_kernel() {
  if (const char* env = std::getenv("SIPD_SIMD")) {
    for (ScanKernel k : {ScanKernel::Scalar, ScanKernel::Sse42, ScanKernel::Avx2})
      if (to_string(k) == env && kernel_supported(k)) return k;
  }
  for (ScanKernel k : {ScanKernel::Avx2, ScanKernel::Sse42})
    if (kernel_supported(k)) return k;
  return ScanKernel::Scalar;
}

ScanKernel g_kernel = pick_kernel();
ScanFn g_scan = kernel_fn(g_kernel);

}  // namespace

ScanResult scan_lines(const char* buf, size_t len, LineMark* marks, size_t cap) {
  return g_scan(buf, len, marks, cap);
}

ScanResult scan_lines_with(ScanKernel kernel, const char* buf, size_t len, LineMark* marks, size_t cap) {
  return kernel_fn(kernel)(buf, len, marks, cap);
}

bool kernel_supported(ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::Avx2:
      return __builtin_cpu_supports("avx2");
    case ScanKernel::Sse42:
      return __builtin_cpu_supports("sse4.2");
    case ScanKernel::Scalar:
      return true;
  }
  return false;
}

ScanKernel active_scan_kernel() { return g_kernel; }

bool set_scan_kernel(ScanKernel kernel) {
  if (!kernel_supported(kernel)) return false;
  g_kernel = kernel;
  g_scan = kernel_fn(kernel);
  return true;
}

std::string_view to_string(ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::Avx2:
      return "avx2";
    case ScanKernel::Sse42:
      return "sse42";
    case ScanKernel::Scalar:
      return "scalar";
  }
  return "?";
}

}  // namespace sipd::sip
