// The shared segment between sipd-dataplane and sipd-control: one POSIX shared-memory object (/dev/shm/NAME)
// that either process may create, and either may leave, crash and re-attach while the other runs.
//
// Layout (every position an offset from the start; nothing in the segment is a pointer):
//   Header          magic, layout version, the sizes below, each side's process id, epoch and heartbeat
//   per worker      a pair of rings (questions worker -> control, answers control -> worker), each a
//                   Boost.Lockfree spsc_queue of Descriptors, and the two slabs of message buffers they
//                   point into (the producer's slab: a buffer is the producer's again once its descriptor
//                   has been popped, which the consumer does only after it is done with the buffer)
//   location        the location table (control/shm/location.h), written by control only
//   programs        two slots for a pushed program (ProgramArea says which is current)
//   stats           per worker, a WorkerStatsBlock (control/shm/stats.h), written by that worker only
//   logs            per worker, a ring of log lines (worker -> control), so a worker's xlog is no syscall
//   pike            per worker, a PikeBlock (control/shm/pike.h): its blocked addresses, removals for it
//
// Who calls: sipd-dataplane's workers (the worker side of their ring pair, the location reader) and
// sipd-control (the control side of every pair, the location writer), each from its own thread. Nothing here
// waits: a full ring refuses, an empty one says so.
#pragma once

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "control/shm/pike.h"
#include "control/shm/stats.h"

namespace sipd::shm {

inline constexpr uint64_t kMagic = 0x3147455344504953ull;  // "SIPDSEG1" read as little-endian bytes
// 3: programs; 4: stats, logs; 5: pike, 128 own counters; 6: the workers' stage accounting (runtime)
inline constexpr uint32_t kLayoutVersion = 6;
inline constexpr uint32_t kMaxWorkers = 16;
inline constexpr uint32_t kRingSlots = 512;      // descriptors per ring = buffers per slab (8 MB a slab)
inline constexpr uint32_t kBufferBytes = 16384;  // one record: a question with its request, or an answer
inline constexpr uint64_t kProgramBytes = 4ull << 20;  // one slot of the program area: a serialized program

// A record in a slab: where it starts (from the segment's start) and its length.
struct Descriptor {
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t buffer = 0;  // its buffer's index in the producer's slab
};

using Ring = boost::lockfree::spsc_queue<Descriptor, boost::lockfree::capacity<kRingSlots>>;

// One log line a worker wrote (xlog, log, the proxy's own), as it travels to control, which writes it where
// the appliance logs (stderr, syslog). A longer line is cut at kLogText bytes.
inline constexpr uint32_t kLogSlots = 256;
inline constexpr uint32_t kLogText = 496;
struct LogRecord {
  int8_t level = 0;  // L_ALERT -3 ... L_DBG 4
  uint8_t pad = 0;
  uint16_t length = 0;
  uint32_t worker = 0;
  int64_t unix_ms = 0;  // when the worker logged it
  char text[kLogText];
};
static_assert(sizeof(LogRecord) == 512);
using LogRing = boost::lockfree::spsc_queue<LogRecord, boost::lockfree::capacity<kLogSlots>>;

// What the segment is sized by; both processes read the same appliance settings, and a segment made with
// other sizes is refused by the one that finds it.
struct Sizes {
  uint32_t workers = 1;
  uint64_t location_bytes = 0;  // LocationTable::bytes() of the appliance's location sizes
};

struct alignas(64) Side {
  std::atomic<int32_t> pid{0};         // the process attached on this side, 0 when none
  std::atomic<uint32_t> epoch{0};      // bumped each time this side attaches: answers from before are stale
  std::atomic<uint64_t> heartbeat{0};  // bumped by the side's main loop; the other side watches it move
};

// Where control publishes the routing program the workers run (a live push: sipctl config push), and what
// each worker made of it. Generation g lives in slot g % 2. Control publishes the next generation only once
// every active worker has answered the last one (installed it, or refused it), so a slot is never
// rewritten while a worker reads it.
struct alignas(64) ProgramArea {
  std::atomic<uint64_t> generation{0};           // the newest published, 0 before the first
  std::atomic<uint64_t> length[2];               // the blob's bytes in each slot
  std::atomic<uint64_t> installed[kMaxWorkers];  // the generation each worker runs (0: its own start-up one)
  std::atomic<uint64_t> refused[kMaxWorkers];    // the newest generation a worker could not install
  char why[kMaxWorkers][192];                    // its reason, written before `refused`
};

// The workers' log level as MI's log_level last set it (sipctl debug); kScriptLogLevel until then: each
// worker logs at its script's log_level.
inline constexpr int32_t kScriptLogLevel = INT32_MIN;

struct Header {
  uint64_t magic;  // written last when the segment is formatted
  uint32_t version;
  uint32_t workers;
  uint64_t total_bytes;
  uint64_t rings_offset;     // kMaxWorkers * 2 rings, worker w: questions 2w, answers 2w+1
  uint64_t slabs_offset;     // the same order: 2 * workers slabs of kRingSlots * kBufferBytes
  uint64_t location_offset;  // 64-byte aligned
  uint64_t location_bytes;
  uint64_t programs_offset;  // 2 slots of kProgramBytes
  uint64_t stats_offset;     // kMaxWorkers WorkerStatsBlocks
  uint64_t logs_offset;      // kMaxWorkers LogRings, each 64-byte aligned
  uint64_t pike_offset;      // kMaxWorkers PikeBlocks
  Side dataplane, control;
  ProgramArea programs;
  std::atomic<int32_t> log_level;   // the workers'; kScriptLogLevel for their script's
  std::atomic<int32_t> xlog_level;  // the workers' xlog_level as MI's xlog_level set it; kScriptLogLevel
  std::atomic<uint32_t> gflags;     // gflags' global flags: MI's set_gflag, the scripts' is_gflag
  std::atomic<uint32_t>
      gflags_set;  // 1 once a process set them from its script's modparam("gflags", "initial")
  std::atomic<uint32_t> active_workers;  // the dataplane's worker count: the rings control serves
  // Each ring's producer cursor: the buffer it claims next. Kept here so a producer that restarts goes on
  // where the last one stopped (the buffers still in the ring are not reused).
  std::atomic<uint32_t> cursor[kMaxWorkers * 2];
};

// Bytes a segment with these sizes takes.
uint64_t segment_bytes(const Sizes& sizes);

// A mapping of the segment in this process.
class Segment {
 public:
  Segment() = default;
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Maps /dev/shm/`name`, creating and formatting it when it does not exist or was never finished
  // (formatting is serialised by a lock on the object, so both processes may start at once). A segment
  // with another magic, layout version or sizes is refused with the reason in `error`.
  bool open(const std::string& name, const Sizes& sizes, std::string& error);
  // Removes the object's name (the mappings stay valid): for tests and an operator's clean start.
  static void remove(const std::string& name);

  bool is_open() const { return base_ != nullptr; }
  char* base() const { return base_; }
  uint64_t bytes() const { return bytes_; }
  Header& header() const { return *reinterpret_cast<Header*>(base_); }
  Ring& questions(uint32_t worker) const;
  Ring& answers(uint32_t worker) const;
  // The first byte of buffer `i` of the worker's question (or answer) slab.
  char* question_buffer(uint32_t worker, uint32_t i) const;
  char* answer_buffer(uint32_t worker, uint32_t i) const;
  std::span<char> location() const;
  // Slot 0 or 1 of the program area.
  std::span<char> program_slot(uint32_t slot) const;
  WorkerStatsBlock& stats(uint32_t worker) const;
  LogRing& logs(uint32_t worker) const;
  PikeBlock& pike(uint32_t worker) const;

  // The record `d` names, if it lies wholly inside the slab it belongs to (the consumer's check on every
  // descriptor it pops); empty otherwise.
  std::string_view question_record(uint32_t worker, const Descriptor& d) const;
  std::string_view answer_record(uint32_t worker, const Descriptor& d) const;

  uint64_t slab_offset(uint32_t worker, bool answers) const;

 private:
  std::string_view record(uint64_t slab, const Descriptor& d) const;

  char* base_ = nullptr;
  uint64_t bytes_ = 0;
};

// One direction of a worker's ring pair as its producer uses it: the next free buffer of its slab,
// published with a descriptor once written. Single producer only: the worker for its questions, control for
// that worker's answers.
class Producer {
 public:
  Producer(const Segment& segment, uint32_t worker, bool answers);
  // A buffer to write a record of up to kBufferBytes into, or null when every buffer is still taken (the
  // ring is full: the consumer is behind or gone).
  char* claim();
  // Publishes the claimed buffer's first `length` bytes.
  bool publish(uint32_t length);
  // How many more records the ring takes now.
  size_t room() const { return ring_.write_available(); }

 private:
  Ring& ring_;
  std::atomic<uint32_t>& cursor_;
  char* base_;
  uint64_t slab_;
  bool claimed_ = false;
};

// The other end: the oldest record, checked, and released once the consumer is done with it (not before:
// releasing hands the buffer back to the producer).
class Consumer {
 public:
  Consumer(const Segment& segment, uint32_t worker, bool answers);
  // The oldest record, or nullopt when the ring is empty. An empty view (with a value) for a descriptor
  // that does not name a buffer of the slab: release() it and count it.
  std::optional<std::string_view> peek() const;
  void release();

 private:
  const Segment& segment_;
  Ring& ring_;
  uint32_t worker_;
  bool answers_;
};

}  // namespace sipd::shm
