// The structural scan: the first pass over a SIP message, finding every line end and the first colon of
// each line up to the empty line that ends the header block. The message parser walks this index instead of
// the bytes. Three kernels give identical results: AVX2 and SSE4.2 build 64-bit LF/colon bitmaps per
// 64-byte block, the scalar one walks byte by byte. The best kernel the CPU supports is picked once at
// start-up; `SIPD_SIMD=scalar|sse42|avx2` in the environment, or set_scan_kernel(), forces one.
//
// Any thread may call scan_lines(); the kernel choice is process-wide and should be made before workers
// start. No padding is required past `len`: the tail block is copied to the stack, so the scan never reads
// a byte outside [buf, buf+len).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sipd::sip {

enum class ScanKernel : uint8_t { Scalar, Sse42, Avx2 };

inline constexpr uint32_t kNoColon = UINT32_MAX;

struct LineMark {
  uint32_t end;    // offset of the line's LF
  uint32_t colon;  // offset of the line's first ':', or kNoColon
};

struct ScanResult {
  uint32_t lines = 0;       // LineMarks written (the empty line is not one of them)
  uint32_t header_end = 0;  // offset just past the empty line's LF; valid when complete
  bool complete = false;    // the empty line was found
  bool overflow = false;    // more than `cap` lines before the empty line
};

// Scans `buf[0, len)`. Lines end at LF (a CR before it belongs to the line); the header block ends at the
// first line that is empty or holds only a CR. A line must not start at offset 0 with LF: callers strip
// leading CRLFs (RFC 3261 7.5) first.
ScanResult scan_lines(const char* buf, size_t len, LineMark* marks, size_t cap);

// The same with an explicit kernel (tests and benchmarks run all of them).
ScanResult scan_lines_with(ScanKernel kernel, const char* buf, size_t len, LineMark* marks, size_t cap);

bool kernel_supported(ScanKernel kernel);
ScanKernel active_scan_kernel();
// Returns false (and changes nothing) when the CPU lacks the kernel's instructions.
bool set_scan_kernel(ScanKernel kernel);
std::string_view to_string(ScanKernel kernel);

}  // namespace sipd::sip
