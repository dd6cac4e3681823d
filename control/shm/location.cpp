// The location table's region layout, its single writer and its lock-free readers.
//
// Layout (every offset a multiple of 64 from the region's base):
//   Header                      magic, version, sizes, geometry, the active index generation
//   buckets[2][bucket_count]    uint32 AOR index heading each hash chain, one array per generation
//   AorRecord[max_aors]         192 bytes: seqlock, chain links (one per generation), binding list, key
//   BindingRecord[max_bindings] 768 bytes: owner, list link, scalars, field lengths, packed text
//
// Concurrency: one sequence counter per AOR guards the AOR record and every binding on its list. The writer
// makes it odd, writes, makes it even; a reader takes it before and after and retries on a change. A binding
// slot moves to another AOR only after a removal that bumped the old AOR's counter, so a reader still holding
// the old list sees the change. Every word the writer stores while readers may look is a relaxed atomic store
// (std::atomic_ref), and readers load them the same way: a torn read is detected, never undefined.
//
// Why two index generations: attach() after a crash rebuilds the hash chains from the records while workers
// keep reading. It builds the inactive generation (its bucket array and each record's second link), then
// flips Header::active with one release store; readers never walk a half-built chain.
//
// Performance notes: a lookup is one hash, one bucket load, normally one AOR record (2 of its 3 cache lines)
// and the binding slots it copies (only the used part of the text). The record's key line and the first
// binding's lines are prefetched as soon as their index is known, so at a million AORs the misses overlap
// instead of queueing. No division: bucket_count is a power of two.
#include "control/shm/location.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace sipd::shm {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr uint32_t kFree = 0;
constexpr uint32_t kUsed = 1;
constexpr size_t kKeyWords = kMaxAorBytes / 8;
constexpr size_t kTextWords = kBindingTextBytes / 8;
static_assert(kMaxAorBytes % 8 == 0 && kBindingTextBytes % 8 == 0);

struct alignas(64) Header {
  uint64_t magic;
  uint32_t version;
  uint32_t header_bytes;
  uint32_t max_aors;
  uint32_t max_bindings;
  uint32_t bucket_count;
  uint32_t aor_record_bytes;
  uint32_t binding_record_bytes;
  uint32_t max_per_aor;
  uint32_t max_chain;
  uint32_t key_bytes;
  uint32_t text_bytes;
  uint32_t active;  // which index generation readers walk (0 or 1); written only by attach()
  uint64_t total_bytes;
  uint64_t buckets_offset;
  uint64_t aors_offset;
  uint64_t bindings_offset;
};

struct AorRecord {
  uint32_t seq;      // odd while the writer changes this AOR or its bindings
  uint32_t state;    // kFree or kUsed
  uint32_t next[2];  // next AOR on the same bucket's chain, per index generation
  uint32_t first;    // first binding (best q first), kNone when empty
  uint16_t count;    // bindings on the list
  uint16_t key_len;
  uint64_t hash;  // LocationTable::hash(key): lets repair check the key and readers skip most compares
  uint64_t key[kKeyWords];  // the AOR, zero-padded to a whole word
};
static_assert(sizeof(AorRecord) == 192);

struct BindingRecord {
  uint32_t aor;    // owning AOR index: readers and repair check it
  uint32_t next;   // next binding of the same AOR
  uint32_t state;  // kFree or kUsed
  int32_t q;
  int64_t expires;
  int64_t last_modified;
  uint32_t cseq;
  uint32_t flags;
  uint32_t cflags;
  uint32_t methods;
  uint32_t reg_id;
  uint16_t len[BindingView::kFields];
  uint16_t pad[3];
  uint64_t text[kTextWords];  // the fields, in BindingView::Field order, back to back
};
static_assert(sizeof(BindingRecord) == 768);

// Relaxed by default: the sequence counters and fences give the ordering. The region may be mapped
// read-only in the reader; an atomic load does not write, so casting the const away for atomic_ref is sound.
template <class T>
T ld(const T& x, std::memory_order o = std::memory_order_relaxed) {
  return std::atomic_ref<T>(const_cast<T&>(x)).load(o);
}
template <class T>
void st(T& x, T v, std::memory_order o = std::memory_order_relaxed) {
  std::atomic_ref<T>(x).store(v, o);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

struct Layout {
  uint32_t bucket_count;
  uint64_t buckets_offset, aors_offset, bindings_offset, total;
};

uint64_t round64(uint64_t n) { return (n + 63) & ~uint64_t(63); }

Layout layout_of(const LocationSizes& s) {
  Layout l{};
  l.bucket_count = 64;
  while (l.bucket_count < s.max_aors && l.bucket_count < (1u << 31)) l.bucket_count <<= 1;
  l.buckets_offset = round64(sizeof(Header));
  l.aors_offset = round64(l.buckets_offset + 2ull * l.bucket_count * sizeof(uint32_t));
  l.bindings_offset = l.aors_offset + uint64_t(s.max_aors) * sizeof(AorRecord);
  l.total = l.bindings_offset + uint64_t(s.max_bindings) * sizeof(BindingRecord);
  return l;
}

// Checks a formatted header against this build's layout; on success fills the sizes it holds.
bool check_header(const void* base, size_t bytes, LocationSizes& sizes, std::string& error) {
  char buf[256];
  if (base == nullptr || reinterpret_cast<uintptr_t>(base) % 64 != 0) {
    error = "location table: the region must be 64-byte aligned";
    return false;
  }
  if (bytes < sizeof(Header)) {
    std::snprintf(buf, sizeof buf, "location table: region of %zu bytes is smaller than the header", bytes);
    error = buf;
    return false;
  }
  const auto* h = static_cast<const Header*>(base);
  const uint64_t magic = ld(h->magic, std::memory_order_acquire);
  if (magic != LocationTable::kMagic) {
    std::snprintf(
        buf, sizeof buf,
        "location table: bad magic 0x%016" PRIx64 " (region not formatted, or not a location table)", magic);
    error = buf;
    return false;
  }
  if (h->version != LocationTable::kLayoutVersion) {
    std::snprintf(buf, sizeof buf, "location table: layout version %u, this build reads version %u",
                  h->version, LocationTable::kLayoutVersion);
    error = buf;
    return false;
  }
  const LocationSizes s{h->max_aors, h->max_bindings};
  const Layout l = layout_of(s);
  if (s.max_aors == 0 || s.max_bindings == 0 || s.max_aors >= kNone || s.max_bindings >= kNone ||
      h->header_bytes != sizeof(Header) || h->bucket_count != l.bucket_count ||
      h->aor_record_bytes != sizeof(AorRecord) || h->binding_record_bytes != sizeof(BindingRecord) ||
      h->max_per_aor != kMaxBindingsPerAor || h->max_chain != kMaxChain || h->key_bytes != kMaxAorBytes ||
      h->text_bytes != kBindingTextBytes || h->total_bytes != l.total ||
      h->buckets_offset != l.buckets_offset || h->aors_offset != l.aors_offset ||
      h->bindings_offset != l.bindings_offset) {
    std::snprintf(buf, sizeof buf,
                  "location table: header geometry (max_aors=%u max_bindings=%u) does not match this build's "
                  "layout",
                  s.max_aors, s.max_bindings);
    error = buf;
    return false;
  }
  if (bytes < l.total) {
    std::snprintf(
        buf, sizeof buf,
        "location table: region is %zu bytes, the table (max_aors=%u max_bindings=%u) needs %" PRIu64, bytes,
        s.max_aors, s.max_bindings, l.total);
    error = buf;
    return false;
  }
  sizes = s;
  return true;
}

struct Region {
  std::byte* base;
  Header& header() const { return *reinterpret_cast<Header*>(base); }
  uint32_t* buckets(uint32_t g) const {
    const Header& h = header();
    return reinterpret_cast<uint32_t*>(base + h.buckets_offset) + size_t(g) * h.bucket_count;
  }
  AorRecord& aor(uint32_t i) const { return reinterpret_cast<AorRecord*>(base + header().aors_offset)[i]; }
  BindingRecord& binding(uint32_t i) const {
    return reinterpret_cast<BindingRecord*>(base + header().bindings_offset)[i];
  }
};

// The words of `s` zero-padded, as the record stores them.
size_t to_words(std::string_view s, uint64_t* words) {
  const size_t n = (s.size() + 7) / 8;
  if (n) words[n - 1] = 0;
  if (!s.empty()) std::memcpy(words, s.data(), s.size());
  return n;
}

std::string_view key_of(const AorRecord& a) {
  return {reinterpret_cast<const char*>(a.key), std::min<size_t>(a.key_len, kMaxAorBytes)};
}

std::string_view contact_of(const BindingRecord& b) {
  return {reinterpret_cast<const char*>(b.text), std::min<size_t>(b.len[0], kBindingTextBytes)};
}

bool live(int64_t expires, int64_t now) { return expires == 0 || expires > now; }

// Copies a binding out with atomic loads; false when its lengths do not add up (torn or corrupt).
bool copy_binding(const BindingRecord& b, BindingView& v) {
  v.expires = ld(b.expires);
  v.last_modified = ld(b.last_modified);
  v.cseq = ld(b.cseq);
  v.q = ld(b.q);
  v.flags = ld(b.flags);
  v.cflags = ld(b.cflags);
  v.methods = ld(b.methods);
  v.reg_id = ld(b.reg_id);
  size_t total = 0;
  for (unsigned f = 0; f < BindingView::kFields; ++f) total += v.len[f] = ld(b.len[f]);
  if (total > kBindingTextBytes) return false;
  for (size_t w = 0, n = (total + 7) / 8; w < n; ++w) {
    const uint64_t word = ld(b.text[w]);
    std::memcpy(v.text + 8 * w, &word, 8);
  }
  return true;
}

// The writer's sequence-counter bracket around a change to one AOR and its bindings.
void begin_write(AorRecord& a) {
  st(a.seq, a.seq + 1);
  std::atomic_thread_fence(std::memory_order_release);
}
void end_write(AorRecord& a) { st(a.seq, a.seq + 1, std::memory_order_release); }

}  // namespace

// ---- BindingView
// -------------------------------------------------------------------------------------------

std::string_view BindingView::field(Field f) const {
  if (f >= kFields) return {};
  size_t off = 0;
  for (unsigned i = 0; i < f; ++i) off += len[i];
  if (off + len[f] > kBindingTextBytes) return {};
  return {text + off, len[f]};
}

BindingData BindingView::data() const {
  BindingData d;
  d.contact = contact();
  d.received = received();
  d.path = path();
  d.user_agent = user_agent();
  d.callid = callid();
  d.socket = socket();
  d.sip_instance = sip_instance();
  d.cseq = cseq;
  d.q = q;
  d.expires = expires;
  d.last_modified = last_modified;
  d.flags = flags;
  d.cflags = cflags;
  d.methods = methods;
  d.reg_id = reg_id;
  return d;
}

// ---- LocationTable
// -----------------------------------------------------------------------------------------

size_t LocationTable::bytes(const LocationSizes& sizes) { return layout_of(sizes).total; }

// A multiply-fold hash over 16-byte blocks: fast on short keys, good low bits (the bucket is the low bits).
// Fixed constants (splitmix64's and the golden ratio) so both processes agree.
uint64_t LocationTable::hash(std::string_view s) {
  constexpr uint64_t k0 = 0x9e3779b97f4a7c15ull, k1 = 0xbf58476d1ce4e5b9ull, k2 = 0x94d049bb133111ebull;
  auto fold = [](uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return uint64_t(r) ^ uint64_t(r >> 64);
  };
  auto word = [](const char* p, size_t n) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    return v;
  };
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = k0 ^ (uint64_t(n) * k1);
  for (; n >= 16; p += 16, n -= 16) h = fold(word(p, 8) ^ k1, word(p + 8, 8) ^ h);
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    a = word(p, 8);
    b = word(p + 8, n - 8);
  } else {
    a = word(p, n);
  }
  h = fold(a ^ k1 ^ n, b ^ h ^ k2);
  return fold(h ^ k0, k2 ^ uint64_t(s.size()));
}

const char* to_string(WriteResult r) {
  switch (r) {
    case WriteResult::Ok:
      return "ok";
    case WriteResult::TableFull:
      return "location table full";
    case WriteResult::AorFull:
      return "too many bindings for this AOR";
    case WriteResult::TooLong:
      return "field too long for the location table";
    case WriteResult::NotFound:
      return "not found";
    case WriteResult::Invalid:
      return "invalid binding";
  }
  return "?";
}

// ---- LocationWriter
// ----------------------------------------------------------------------------------------

bool LocationWriter::init(void* base, size_t bytes, LocationSizes sizes, std::string& error) {
  if (base == nullptr || reinterpret_cast<uintptr_t>(base) % 64 != 0) {
    error = "location table: the region must be 64-byte aligned";
    return false;
  }
  if (sizes.max_aors == 0 || sizes.max_bindings == 0 || sizes.max_aors >= (1u << 31) ||
      sizes.max_bindings >= (1u << 31)) {
    error = "location table: max_aors and max_bindings must be between 1 and 2^31-1";
    return false;
  }
  const Layout l = layout_of(sizes);
  if (bytes < l.total) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "location table: region is %zu bytes, these sizes need %" PRIu64, bytes,
                  l.total);
    error = buf;
    return false;
  }
  auto* h = static_cast<Header*>(base);
  // Magic last: a region whose formatting was interrupted does not attach.
  st(h->magic, uint64_t(0));
  std::byte* b = static_cast<std::byte*>(base);
  std::memset(b + sizeof(uint64_t), 0, l.buckets_offset - sizeof(uint64_t));
  std::memset(b + l.buckets_offset, 0xff, 2ull * l.bucket_count * sizeof(uint32_t));
  std::memset(b + l.aors_offset, 0, l.total - l.aors_offset);
  h->version = LocationTable::kLayoutVersion;
  h->header_bytes = sizeof(Header);
  h->max_aors = sizes.max_aors;
  h->max_bindings = sizes.max_bindings;
  h->bucket_count = l.bucket_count;
  h->aor_record_bytes = sizeof(AorRecord);
  h->binding_record_bytes = sizeof(BindingRecord);
  h->max_per_aor = kMaxBindingsPerAor;
  h->max_chain = kMaxChain;
  h->key_bytes = kMaxAorBytes;
  h->text_bytes = kBindingTextBytes;
  h->active = 0;
  h->total_bytes = l.total;
  h->buckets_offset = l.buckets_offset;
  h->aors_offset = l.aors_offset;
  h->bindings_offset = l.bindings_offset;
  st(h->magic, LocationTable::kMagic, std::memory_order_release);
  if (!map(base, bytes, error)) return false;
  repair();  // on an empty table: just builds the free lists
  report_ = {};
  return true;
}

bool LocationWriter::map(void* base, size_t bytes, std::string& error) {
  LocationSizes s;
  if (!check_header(base, bytes, s, error)) return false;
  base_ = static_cast<std::byte*>(base);
  sizes_ = s;
  mask_ = Region{base_}.header().bucket_count - 1;
  return true;
}

bool LocationWriter::attach(void* base, size_t bytes, std::string& error) {
  if (!map(base, bytes, error)) return false;
  repair();
  return true;
}

bool LocationWriter::attach(void* base, size_t bytes, LocationSizes expected, std::string& error) {
  LocationSizes s;
  if (!check_header(base, bytes, s, error)) return false;
  if (s.max_aors != expected.max_aors || s.max_bindings != expected.max_bindings) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "location table: the segment holds max_aors=%u max_bindings=%u, the settings ask for "
                  "max_aors=%u max_bindings=%u (remove the segment to resize it)",
                  s.max_aors, s.max_bindings, expected.max_aors, expected.max_bindings);
    error = buf;
    return false;
  }
  return attach(base, bytes, error);
}

// Rebuilds, from the records alone, what a writer killed mid-update may have left inconsistent: the index
// (into the inactive generation, then flipped), the free lists, odd counters. An AOR is kept when its counter
// is even and its record checks out (key, hash, a list of in-range bindings it owns, lengths that add up).
void LocationWriter::repair() {
  const Region r{base_};
  Header& hdr = r.header();
  const uint32_t g = ld(hdr.active) & 1, ng = g ^ 1;
  report_ = {};
  uint32_t* nb = r.buckets(ng);
  for (uint32_t i = 0; i <= mask_; ++i) st(nb[i], kNone);

  std::vector<uint32_t> owner(sizes_.max_bindings, kNone);
  std::vector<uint32_t> dropped;
  std::vector<bool> is_dropped(sizes_.max_aors, false);
  auto drop = [&](uint32_t i) {
    dropped.push_back(i);
    is_dropped[i] = true;
  };
  for (uint32_t i = 0; i < sizes_.max_aors; ++i) {
    AorRecord& a = r.aor(i);
    const bool odd = a.seq & 1;
    if (a.state != kUsed) {
      if (odd) drop(i);  // died while creating it: free, but its counter must become even again
      continue;
    }
    if (odd) {
      ++report_.torn_aors;
      drop(i);
      continue;
    }
    bool ok = a.key_len > 0 && a.key_len <= kMaxAorBytes && a.count > 0 && a.count <= kMaxBindingsPerAor &&
              LocationTable::hash(key_of(a)) == a.hash;
    // Readers compare whole words, so the padding after the key must be zero or they would never match it.
    for (size_t k = a.key_len; ok && k % 8 != 0; ++k) ok = reinterpret_cast<const char*>(a.key)[k] == 0;
    uint32_t claimed[kMaxBindingsPerAor];
    uint32_t n = 0;
    for (uint32_t b = ok ? a.first : kNone; b != kNone; b = r.binding(b).next) {
      if (b >= sizes_.max_bindings || n >= kMaxBindingsPerAor || owner[b] != kNone) {
        ok = false;
        break;
      }
      const BindingRecord& br = r.binding(b);
      size_t total = 0;
      for (uint16_t l : br.len) total += l;
      if (br.state != kUsed || br.aor != i || total > kBindingTextBytes || br.len[0] == 0 || br.q < -1 ||
          br.q > 1000) {
        ok = false;
        break;
      }
      owner[b] = i;
      claimed[n++] = b;
    }
    ok = ok && n == a.count;
    uint32_t chain = 0, dup = kNone;
    if (ok) {
      for (uint32_t j = nb[a.hash & mask_]; j != kNone; j = r.aor(j).next[ng], ++chain) {
        if (r.aor(j).hash == a.hash && key_of(r.aor(j)) == key_of(a)) dup = j;
      }
    }
    if (!ok || dup != kNone || chain >= kMaxChain) {
      for (uint32_t k = 0; k < n; ++k) owner[claimed[k]] = kNone;
      ++(dup != kNone ? report_.duplicate_aors : report_.invalid_aors);
      drop(i);
      continue;
    }
    st(a.next[ng], nb[a.hash & mask_]);
    st(nb[a.hash & mask_], i, std::memory_order_release);
  }
  // Readers switch to the rebuilt index; from here on the writer changes only generation ng.
  st(hdr.active, ng, std::memory_order_release);

  for (uint32_t i : dropped) {
    AorRecord& a = r.aor(i);
    if (!(a.seq & 1)) begin_write(a);
    st(a.state, kFree);
    st(a.first, kNone);
    st(a.count, uint16_t(0));
    end_write(a);
  }
  free_bindings_.clear();
  free_aors_.clear();
  bindings_used_ = aors_used_ = 0;
  for (uint32_t b = sizes_.max_bindings; b-- > 0;) {
    if (owner[b] != kNone) {
      ++bindings_used_;
      continue;
    }
    BindingRecord& br = r.binding(b);
    if (br.state == kUsed) {
      ++(br.aor < sizes_.max_aors && is_dropped[br.aor] ? report_.dropped_bindings : report_.orphan_bindings);
      st(br.state, kFree);
    }
    free_bindings_.push_back(b);
  }
  for (uint32_t i = sizes_.max_aors; i-- > 0;) {
    if (r.aor(i).state == kUsed) {
      ++aors_used_;
    } else {
      free_aors_.push_back(i);
    }
  }
}

LocationWriter::Found LocationWriter::find(uint64_t h, std::string_view aor) const {
  const Region r{base_};
  const uint32_t g = r.header().active;
  Found f{kNone, kNone, 0};
  for (uint32_t i = r.buckets(g)[h & mask_]; i != kNone; f.prev = i, i = r.aor(i).next[g], ++f.chain) {
    const AorRecord& a = r.aor(i);
    if (a.hash == h && key_of(a) == aor) {
      f.aor = i;
      return f;
    }
  }
  f.prev = kNone;
  return f;
}

void LocationWriter::unlink_aor(uint32_t aor, uint32_t prev, uint64_t h) {
  const Region r{base_};
  const uint32_t g = r.header().active;
  const uint32_t next = r.aor(aor).next[g];
  st(prev == kNone ? r.buckets(g)[h & mask_] : r.aor(prev).next[g], next, std::memory_order_release);
}

namespace {

// Writes a binding's contents (not its list link) into its slot.
void write_binding(BindingRecord& b, uint32_t aor, const BindingData& d,
                   const uint16_t (&len)[BindingView::kFields], const uint64_t* text, size_t words) {
  st(b.aor, aor);
  st(b.state, kUsed);
  st(b.q, d.q);
  st(b.expires, d.expires);
  st(b.last_modified, d.last_modified);
  st(b.cseq, d.cseq);
  st(b.flags, d.flags);
  st(b.cflags, d.cflags);
  st(b.methods, d.methods);
  st(b.reg_id, d.reg_id);
  for (unsigned f = 0; f < BindingView::kFields; ++f) st(b.len[f], len[f]);
  for (size_t w = 0; w < words; ++w) st(b.text[w], text[w]);
}

// Puts binding `b` on the AOR's list before the first one with a lower or equal q: best q first, and among
// equal q the most recently updated first.
void insert_sorted(const Region& r, AorRecord& a, uint32_t b) {
  const int32_t q = r.binding(b).q;
  uint32_t prev = kNone, cur = a.first;
  while (cur != kNone && r.binding(cur).q > q) prev = cur, cur = r.binding(cur).next;
  st(r.binding(b).next, cur);
  st(prev == kNone ? a.first : r.binding(prev).next, b);
}

// Takes binding `b` (found after `prev`) off the AOR's list.
void unlink_binding(const Region& r, AorRecord& a, uint32_t prev, uint32_t b) {
  st(prev == kNone ? a.first : r.binding(prev).next, r.binding(b).next);
}

}  // namespace

WriteResult LocationWriter::upsert(std::string_view aor, const BindingData& d) {
  if (base_ == nullptr || aor.empty() || d.contact.empty() || d.q < -1 || d.q > 1000)
    return WriteResult::Invalid;
  if (aor.size() > kMaxAorBytes) return WriteResult::TooLong;
  const std::string_view fields[BindingView::kFields] = {d.contact, d.received, d.path,        d.user_agent,
                                                         d.callid,  d.socket,   d.sip_instance};
  uint16_t len[BindingView::kFields];
  size_t total = 0;
  for (unsigned f = 0; f < BindingView::kFields; ++f) {
    total += fields[f].size();
    if (total > kBindingTextBytes) return WriteResult::TooLong;
    len[f] = uint16_t(fields[f].size());
  }
  alignas(8) char packed[kBindingTextBytes + 8] = {};
  for (unsigned f = 0, off = 0; f < BindingView::kFields; off += len[f++]) {
    if (len[f]) std::memcpy(packed + off, fields[f].data(), len[f]);
  }
  uint64_t text[kTextWords];
  const size_t words = (total + 7) / 8;
  std::memcpy(text, packed, words * 8);

  const Region r{base_};
  const uint32_t g = r.header().active;
  const uint64_t h = LocationTable::hash(aor);
  const Found f = find(h, aor);
  if (f.aor == kNone) {
    if (free_aors_.empty() || free_bindings_.empty() || f.chain >= kMaxChain) return WriteResult::TableFull;
    const uint32_t ai = free_aors_.back(), bi = free_bindings_.back();
    free_aors_.pop_back();
    free_bindings_.pop_back();
    AorRecord& a = r.aor(ai);
    uint64_t key[kKeyWords];
    const size_t kw = to_words(aor, key);
    uint32_t* bucket = &r.buckets(g)[h & mask_];
    begin_write(a);
    st(a.state, kUsed);
    st(a.hash, h);
    st(a.key_len, uint16_t(aor.size()));
    for (size_t w = 0; w < kw; ++w) st(a.key[w], key[w]);
    for (size_t w = kw; w < kKeyWords; ++w) st(a.key[w], uint64_t(0));
    st(a.next[g], *bucket);
    st(a.next[g ^ 1], kNone);
    write_binding(r.binding(bi), ai, d, len, text, words);
    st(r.binding(bi).next, kNone);
    st(a.first, bi);
    st(a.count, uint16_t(1));
    end_write(a);
    st(*bucket, ai, std::memory_order_release);  // published only once complete
    ++aors_used_;
    ++bindings_used_;
    return WriteResult::Ok;
  }
  AorRecord& a = r.aor(f.aor);
  uint32_t prev = kNone, cur = a.first;
  while (cur != kNone && contact_of(r.binding(cur)) != d.contact) prev = cur, cur = r.binding(cur).next;
  if (cur != kNone) {
    begin_write(a);
    unlink_binding(r, a, prev, cur);
    write_binding(r.binding(cur), f.aor, d, len, text, words);
    insert_sorted(r, a, cur);
    end_write(a);
    return WriteResult::Ok;
  }
  if (a.count >= kMaxBindingsPerAor) return WriteResult::AorFull;
  if (free_bindings_.empty()) return WriteResult::TableFull;
  const uint32_t bi = free_bindings_.back();
  free_bindings_.pop_back();
  begin_write(a);
  write_binding(r.binding(bi), f.aor, d, len, text, words);
  insert_sorted(r, a, bi);
  st(a.count, uint16_t(a.count + 1));
  end_write(a);
  ++bindings_used_;
  return WriteResult::Ok;
}

WriteResult LocationWriter::remove(std::string_view aor, std::string_view contact) {
  if (base_ == nullptr) return WriteResult::Invalid;
  const Region r{base_};
  const uint64_t h = LocationTable::hash(aor);
  const Found f = find(h, aor);
  if (f.aor == kNone) return WriteResult::NotFound;
  AorRecord& a = r.aor(f.aor);
  uint32_t prev = kNone, cur = a.first;
  while (cur != kNone && contact_of(r.binding(cur)) != contact) prev = cur, cur = r.binding(cur).next;
  if (cur == kNone) return WriteResult::NotFound;
  if (a.count == 1) return remove_aor(aor);
  begin_write(a);
  unlink_binding(r, a, prev, cur);
  st(r.binding(cur).state, kFree);
  st(a.count, uint16_t(a.count - 1));
  end_write(a);
  free_bindings_.push_back(cur);
  --bindings_used_;
  return WriteResult::Ok;
}

WriteResult LocationWriter::remove_aor(std::string_view aor) {
  if (base_ == nullptr) return WriteResult::Invalid;
  const Region r{base_};
  const uint64_t h = LocationTable::hash(aor);
  const Found f = find(h, aor);
  if (f.aor == kNone) return WriteResult::NotFound;
  AorRecord& a = r.aor(f.aor);
  begin_write(a);
  unlink_aor(f.aor, f.prev, h);
  for (uint32_t b = a.first; b != kNone; b = r.binding(b).next) {
    st(r.binding(b).state, kFree);
    free_bindings_.push_back(b);
    --bindings_used_;
  }
  st(a.state, kFree);
  st(a.first, kNone);
  st(a.count, uint16_t(0));
  end_write(a);
  free_aors_.push_back(f.aor);
  --aors_used_;
  return WriteResult::Ok;
}

size_t LocationWriter::reap(int64_t now) {
  if (base_ == nullptr) return 0;
  const Region r{base_};
  size_t freed = 0;
  for (uint32_t i = 0; i < sizes_.max_aors; ++i) {
    AorRecord& a = r.aor(i);
    if (a.state != kUsed) continue;
    uint32_t expired = 0;
    for (uint32_t b = a.first; b != kNone; b = r.binding(b).next) expired += !live(r.binding(b).expires, now);
    if (expired == 0) continue;
    freed += expired;
    if (expired == a.count) {
      const std::string key(key_of(a));
      (void)remove_aor(key);
      continue;
    }
    begin_write(a);
    uint32_t prev = kNone;
    for (uint32_t b = a.first; b != kNone;) {
      const uint32_t next = r.binding(b).next;
      if (!live(r.binding(b).expires, now)) {
        unlink_binding(r, a, prev, b);
        st(r.binding(b).state, kFree);
        free_bindings_.push_back(b);
        --bindings_used_;
      } else {
        prev = b;
      }
      b = next;
    }
    st(a.count, uint16_t(a.count - expired));
    end_write(a);
  }
  return freed;
}

void LocationWriter::for_each_aor(const std::function<void(std::string_view, uint32_t)>& fn) const {
  if (base_ == nullptr) return;
  const Region r{base_};
  for (uint32_t i = 0; i < sizes_.max_aors; ++i) {
    const AorRecord& a = r.aor(i);
    if (a.state == kUsed) fn(key_of(a), a.count);
  }
}

WriteResult LocationWriter::for_each_binding(std::string_view aor,
                                             const std::function<void(const BindingView&)>& fn) const {
  if (base_ == nullptr) return WriteResult::Invalid;
  const Region r{base_};
  const Found f = find(LocationTable::hash(aor), aor);
  if (f.aor == kNone) return WriteResult::NotFound;
  BindingView v;
  for (uint32_t b = r.aor(f.aor).first; b != kNone; b = r.binding(b).next) {
    if (copy_binding(r.binding(b), v)) fn(v);
  }
  return WriteResult::Ok;
}

void LocationWriter::for_each(const std::function<void(std::string_view, const BindingView&)>& fn) const {
  if (base_ == nullptr) return;
  const Region r{base_};
  BindingView v;
  for (uint32_t i = 0; i < sizes_.max_aors; ++i) {
    const AorRecord& a = r.aor(i);
    if (a.state != kUsed) continue;
    for (uint32_t b = a.first; b != kNone; b = r.binding(b).next) {
      if (copy_binding(r.binding(b), v)) fn(key_of(a), v);
    }
  }
}

// ---- LocationReader
// ----------------------------------------------------------------------------------------

bool LocationReader::attach(const void* base, size_t bytes, std::string& error) {
  LocationSizes s;
  if (!check_header(base, bytes, s, error)) return false;
  const Layout l = layout_of(s);
  base_ = static_cast<const std::byte*>(base);
  buckets_ = base_ + l.buckets_offset;
  aors_ = base_ + l.aors_offset;
  bindings_ = base_ + l.bindings_offset;
  max_aors_ = s.max_aors;
  max_bindings_ = s.max_bindings;
  mask_ = static_cast<const Header*>(base)->bucket_count - 1;
  return true;
}

// One bounded walk shared by lookup() and registered(): bucket -> chain -> the AOR's bindings, validated by
// the AOR's counter. Each try is bounded (kMaxChain records, kMaxBindingsPerAor bindings) and so is the
// number of tries. The geometry comes from attach(), never re-read from the region, and every index is
// checked against it before use.
template <class Visit>
LookupResult LocationReader::walk(std::string_view aor, int64_t now, size_t limit, Visit&& visit) const {
  if (base_ == nullptr || aor.empty() || aor.size() > kMaxAorBytes) return {LookupStatus::NotFound, 0};
  const Header& hdr = *reinterpret_cast<const Header*>(base_);
  const auto* aors = reinterpret_cast<const AorRecord*>(aors_);
  const auto* bindings = reinterpret_cast<const BindingRecord*>(bindings_);
  const auto* buckets = reinterpret_cast<const uint32_t*>(buckets_);
  const uint64_t h = LocationTable::hash(aor);
  const uint32_t bucket = uint32_t(h) & mask_;
  uint64_t key[kKeyWords];
  const size_t kw = to_words(aor, key);

  for (unsigned attempt = 0; attempt < kReadAttempts; ++attempt) {
    // Back off 0, 1, 2, 4 ... 64 pauses: a few writer windows in all, then Busy.
    for (unsigned i = 0; i < (1u << attempt) >> 1; ++i) cpu_relax();
    const uint32_t g = ld(hdr.active, std::memory_order_acquire) & 1;
    uint32_t idx = ld(buckets[size_t(g) * (size_t(mask_) + 1) + bucket], std::memory_order_acquire);
    for (uint32_t steps = 0;; ++steps) {
      if (idx == kNone) return {LookupStatus::NotFound, 0};
      if (idx >= max_aors_) return {LookupStatus::NotFound, 0};  // corrupt: whole-word stores never tear
      if (steps >= kMaxChain) break;  // a loop seen through records reused under us: try again
      const AorRecord& a = aors[idx];
      __builtin_prefetch(reinterpret_cast<const char*>(&a) + 64);  // the key's second line
      const uint32_t s1 = ld(a.seq, std::memory_order_acquire);
      if (s1 & 1) break;
      const uint32_t state = ld(a.state);
      const uint64_t ah = ld(a.hash);
      const uint32_t next = ld(a.next[g]);
      const uint32_t first = ld(a.first);
      if (first < max_bindings_) {  // fetch the best binding while the key is compared
        const char* p = reinterpret_cast<const char*>(&bindings[first]);
        for (int line = 0; line < 4; ++line) __builtin_prefetch(p + 64 * line);
      }
      bool match = state == kUsed && ah == h && ld(a.key_len) == aor.size();
      for (size_t w = 0; match && w < kw; ++w) match = ld(a.key[w]) == key[w];
      if (!match) {
        std::atomic_thread_fence(std::memory_order_acquire);
        if (ld(a.seq) != s1) break;
        if (state != kUsed || (ah & mask_) != bucket) break;  // freed or moved while we walked to it
        idx = next;
        continue;
      }
      size_t found = 0, copied = 0;
      bool bad = false;
      uint32_t n = 0;
      const uint32_t count = std::min<uint32_t>(ld(a.count), kMaxBindingsPerAor);
      uint32_t b = first;
      for (; b != kNone; b = ld(bindings[b].next), ++n) {
        if (b >= max_bindings_ || n >= count || ld(bindings[b].aor) != idx) {
          bad = true;
          break;
        }
        if (!live(ld(bindings[b].expires), now)) continue;
        ++found;
        if (copied < limit) {
          if (!visit(bindings[b], copied)) {
            bad = true;
            break;
          }
          ++copied;
        }
        if (limit != 0 && copied == limit) break;
      }
      if (b == kNone && n != count) bad = true;  // the list ended early: not what the record says
      std::atomic_thread_fence(std::memory_order_acquire);
      if (ld(a.seq) != s1) break;
      if (bad) return {LookupStatus::NotFound, 0};  // stable yet inconsistent: corrupt
      if (found == 0) return {LookupStatus::NotFound, 0};
      return {LookupStatus::Found, limit ? copied : found};
    }
  }
  return {LookupStatus::Busy, 0};
}

LookupResult LocationReader::lookup(std::string_view aor, int64_t now, std::span<BindingView> out) const {
  if (out.empty()) {
    const LookupResult r = registered(aor, now);
    return {r.status, 0};
  }
  return walk(aor, now, out.size(),
              [&](const BindingRecord& b, size_t i) { return copy_binding(b, out[i]); });
}

LookupResult LocationReader::registered(std::string_view aor, int64_t now) const {
  return walk(aor, now, 0, [](const BindingRecord&, size_t) { return true; });
}

}  // namespace sipd::shm
