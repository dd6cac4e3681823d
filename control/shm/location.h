// The registrar's location table (OpenSIPS usrloc) as it lives in the shared segment: AORs, each with up to
// kMaxBindingsPerAor contact bindings, in a region the caller maps (a POSIX shm segment in production, any
// 64-byte-aligned buffer in tests). The control process owns the one LocationWriter (a single writer thread;
// not thread-safe) that formats, repairs after a restart, and updates the table; every dataplane worker
// holds its own LocationReader and looks AORs up without locks, allocation or syscalls, with a bounded
// number of retries. The region holds only indices and offsets, never pointers, since the two processes map
// it at different addresses; the reader bounds-checks every index it reads from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sipd::shm {

struct LocationSizes {
  uint32_t max_aors = 0;
  uint32_t max_bindings = 0;
};

// The fixed limits of this layout (changing one changes kLayoutVersion).
inline constexpr size_t kMaxAorBytes = 160;         // the AOR key ("user@domain" or "user")
inline constexpr size_t kBindingTextBytes = 696;    // all text fields of one binding, packed
inline constexpr uint32_t kMaxBindingsPerAor = 32;  // AorFull beyond it; bounds a reader's walk
inline constexpr uint32_t kMaxChain = 64;           // AORs per hash bucket; TableFull beyond it
inline constexpr unsigned kReadAttempts = 8;        // a reader's tries before it answers Busy

// What the writer stores for one binding. Text fields are copied; they need not outlive the call.
struct BindingData {
  std::string_view contact;   // the Contact URI; the binding's identity within its AOR
  std::string_view received;  // "sip:ip:port" the REGISTER came from, or empty
  std::string_view path;      // Path header values, or empty
  std::string_view user_agent;
  std::string_view callid;
  std::string_view socket;        // "udp:198.18.0.1:5060"
  std::string_view sip_instance;  // +sip.instance, or empty
  uint32_t cseq = 0;
  int32_t q = -1;             // thousandths, 0..1000; -1 = not given (sorts below q=0)
  int64_t expires = 0;        // absolute, seconds; 0 = permanent
  int64_t last_modified = 0;  // seconds
  uint32_t flags = 0;
  uint32_t cflags = 0;
  uint32_t methods = 0xFFFFFFFFu;
  uint32_t reg_id = 0;
};

// A binding copied out of the table: the reader's answer, owned by the caller, valid after the writer reuses
// the slot. Trivially copyable; the text accessors point into the view itself.
struct BindingView {
  enum Field : unsigned { kContact, kReceived, kPath, kUserAgent, kCallid, kSocket, kSipInstance, kFields };

  int64_t expires = 0;
  int64_t last_modified = 0;
  uint32_t cseq = 0;
  int32_t q = -1;
  uint32_t flags = 0;
  uint32_t cflags = 0;
  uint32_t methods = 0;
  uint32_t reg_id = 0;
  uint16_t len[kFields] = {};
  alignas(8) char text[kBindingTextBytes];

  std::string_view field(Field f) const;
  std::string_view contact() const { return field(kContact); }
  std::string_view received() const { return field(kReceived); }
  std::string_view path() const { return field(kPath); }
  std::string_view user_agent() const { return field(kUserAgent); }
  std::string_view callid() const { return field(kCallid); }
  std::string_view socket() const { return field(kSocket); }
  std::string_view sip_instance() const { return field(kSipInstance); }
  // The same binding as writer input (views into this object), e.g. to restore it from a dump.
  BindingData data() const;
};

class LocationTable {
 public:
  static constexpr uint64_t kMagic = 0x4c4f43544231'5053ull;  // reads "SP1BTCOL" in memory (little-endian)
  static constexpr uint32_t kLayoutVersion = 1;
  // Bytes a region needs for these sizes (its base must be 64-byte aligned).
  static size_t bytes(const LocationSizes& sizes);
  // The AOR hash both processes use (fixed seed: never randomised per process).
  static uint64_t hash(std::string_view aor);
};

enum class WriteResult { Ok, TableFull, AorFull, TooLong, NotFound, Invalid };
const char* to_string(WriteResult r);

// What attach() found and mended after a writer died mid-update. An AOR caught mid-update is dropped whole
// (its bindings too): the half-written state cannot be trusted and the UA re-registers.
struct RepairReport {
  uint32_t torn_aors = 0;         // odd sequence counter: the writer died inside this AOR's update
  uint32_t invalid_aors = 0;      // even counter but inconsistent (bad key, hash, list, lengths)
  uint32_t duplicate_aors = 0;    // a second record for a key already indexed
  uint32_t dropped_bindings = 0;  // bindings of dropped AORs
  uint32_t orphan_bindings = 0;   // marked in use but reachable from no AOR (leaked by a crash)
  bool clean() const {
    return torn_aors + invalid_aors + duplicate_aors + dropped_bindings + orphan_bindings == 0;
  }
};

class LocationWriter {
 public:
  // Formats the region: every AOR and binding free, the index empty. The error says why it cannot.
  [[nodiscard]] bool init(void* base, size_t bytes, LocationSizes sizes, std::string& error);
  // Re-attaches to a table formatted earlier (control restarted), checks its header, then rebuilds the
  // index and free lists from the records' committed state while readers keep reading (see repair()).
  [[nodiscard]] bool attach(void* base, size_t bytes, std::string& error);
  // The same, also requiring the table to have the sizes the settings ask for.
  [[nodiscard]] bool attach(void* base, size_t bytes, LocationSizes expected, std::string& error);
  const RepairReport& repair_report() const { return report_; }

  // Adds a binding, or replaces the one with the same contact URI under this AOR. Keys and contacts are
  // compared byte for byte: the registrar normalises them first.
  WriteResult upsert(std::string_view aor, const BindingData& binding);
  WriteResult remove(std::string_view aor, std::string_view contact);
  WriteResult remove_aor(std::string_view aor);
  // Frees bindings whose expiry has passed (expires != 0 && expires <= now) and AORs left empty. Returns the
  // number of bindings freed. Walks every AOR: call it from a timer (seconds), not per message.
  size_t reap(int64_t now);

  // Iteration for `sipctl ul show` and persistence, in record order; bindings in lookup order (q descending,
  // most recently updated first). The callbacks must not modify the table.
  void for_each_aor(const std::function<void(std::string_view aor, uint32_t bindings)>& fn) const;
  WriteResult for_each_binding(std::string_view aor, const std::function<void(const BindingView&)>& fn) const;
  void for_each(const std::function<void(std::string_view aor, const BindingView&)>& fn) const;

  uint32_t aors() const { return aors_used_; }
  uint32_t bindings() const { return bindings_used_; }
  LocationSizes sizes() const { return sizes_; }

 private:
  struct Found {
    uint32_t aor;
    uint32_t prev;   // previous AOR on the bucket chain, or none
    uint32_t chain;  // chain length walked
  };
  bool map(void* base, size_t bytes, std::string& error);
  void repair();
  Found find(uint64_t h, std::string_view aor) const;
  void unlink_aor(uint32_t aor, uint32_t prev, uint64_t h);

  std::byte* base_ = nullptr;
  LocationSizes sizes_{};
  uint32_t mask_ = 0;
  // Free lists live in the writer, not in the region: attach() rebuilds them from the records, so a crash can
  // never leave them inconsistent.
  std::vector<uint32_t> free_aors_;
  std::vector<uint32_t> free_bindings_;
  uint32_t aors_used_ = 0;
  uint32_t bindings_used_ = 0;
  RepairReport report_{};
};

enum class LookupStatus { Found, NotFound, Busy };
struct LookupResult {
  LookupStatus status = LookupStatus::NotFound;
  size_t count = 0;  // bindings written to `out` (lookup) or live bindings (registered)
};

class LocationReader {
 public:
  // Checks the header and keeps the geometry it read, so later corruption of the header cannot widen a read.
  [[nodiscard]] bool attach(const void* base, size_t bytes, std::string& error);
  // The AOR's unexpired bindings, best first (q descending, then most recently updated), as many as fit in
  // `out`. NotFound when the AOR has none; Busy when the writer kept it changing for kReadAttempts tries (or
  // died mid-update and has not been restarted).
  LookupResult lookup(std::string_view aor, int64_t now, std::span<BindingView> out) const;
  // Found when the AOR has an unexpired binding (count says how many).
  LookupResult registered(std::string_view aor, int64_t now) const;

 private:
  template <class Visit>
  LookupResult walk(std::string_view aor, int64_t now, size_t limit, Visit&& visit) const;

  // Addresses in this process, computed once from the checked header.
  const std::byte* base_ = nullptr;
  const std::byte* buckets_ = nullptr;
  const std::byte* aors_ = nullptr;
  const std::byte* bindings_ = nullptr;
  uint32_t max_aors_ = 0;
  uint32_t max_bindings_ = 0;
  uint32_t mask_ = 0;
};

}  // namespace sipd::shm
