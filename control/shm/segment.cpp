#include "control/shm/segment.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <new>

namespace sipd::shm {
namespace {

constexpr uint64_t align64(uint64_t v) { return (v + 63) & ~uint64_t(63); }

struct Layout {
  uint64_t rings, slabs, location, programs, stats, logs, pike, total;
};

Layout layout(const Sizes& s) {
  Layout l{};
  l.rings = align64(sizeof(Header));
  l.slabs = align64(l.rings + uint64_t(kMaxWorkers) * 2 * align64(sizeof(Ring)));
  l.location = align64(l.slabs + uint64_t(s.workers) * 2 * kRingSlots * kBufferBytes);
  l.programs = align64(l.location + s.location_bytes);
  l.stats = align64(l.programs + 2 * kProgramBytes);
  l.logs = align64(l.stats + uint64_t(kMaxWorkers) * sizeof(WorkerStatsBlock));
  l.pike = align64(l.logs + uint64_t(kMaxWorkers) * align64(sizeof(LogRing)));
  l.total = l.pike + uint64_t(kMaxWorkers) * sizeof(PikeBlock);
  return l;
}

std::string path_of(const std::string& name) { return name.starts_with('/') ? name : "/" + name; }

}  // namespace

uint64_t segment_bytes(const Sizes& sizes) { return layout(sizes).total; }

Segment::~Segment() {
  if (base_) ::munmap(base_, bytes_);
}

void Segment::remove(const std::string& name) { ::shm_unlink(path_of(name).c_str()); }

bool Segment::open(const std::string& name, const Sizes& sizes, std::string& error) {
  if (sizes.workers == 0 || sizes.workers > kMaxWorkers) {
    error = "shared segment: " + std::to_string(sizes.workers) + " workers (1 to " +
            std::to_string(kMaxWorkers) + ")";
    return false;
  }
  const Layout l = layout(sizes);
  const std::string path = path_of(name);
  const int fd = ::shm_open(path.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0) {
    error = "shared segment " + path + ": " + std::strerror(errno);
    return false;
  }
  // The lock makes formatting one process's job; the other waits the few milliseconds it takes (start-up
  // only, never on a worker).
  ::flock(fd, LOCK_EX);
  struct stat st {};
  ::fstat(fd, &st);
  bool fresh = st.st_size == 0;
  if (fresh && ::ftruncate(fd, off_t(l.total)) != 0) {
    error = "shared segment " + path + ": cannot size it to " + std::to_string(l.total) +
            " bytes: " + std::strerror(errno);
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return false;
  }
  const uint64_t size = fresh ? l.total : uint64_t(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    error = "shared segment " + path + ": cannot map it: " + std::strerror(errno);
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return false;
  }
  auto* h = static_cast<Header*>(p);
  if (!fresh && size >= sizeof(Header) && h->magic == 0 && size == l.total) fresh = true;  // never finished
  if (fresh) {
    std::memset(p, 0, sizeof(Header));
    h->version = kLayoutVersion;
    h->workers = sizes.workers;
    h->total_bytes = l.total;
    h->rings_offset = l.rings;
    h->slabs_offset = l.slabs;
    h->location_offset = l.location;
    h->location_bytes = sizes.location_bytes;
    h->programs_offset = l.programs;
    h->stats_offset = l.stats;
    h->logs_offset = l.logs;
    h->pike_offset = l.pike;
    new (&h->programs) ProgramArea();
    new (&h->log_level) std::atomic<int32_t>(kScriptLogLevel);
    new (&h->xlog_level) std::atomic<int32_t>(kScriptLogLevel);
    new (&h->gflags) std::atomic<uint32_t>(0);
    new (&h->gflags_set) std::atomic<uint32_t>(0);
    new (&h->dataplane) Side();
    new (&h->control) Side();
    for (auto& c : h->cursor) new (&c) std::atomic<uint32_t>(0);
    new (&h->active_workers) std::atomic<uint32_t>(0);
    for (uint32_t i = 0; i < kMaxWorkers * 2; ++i)
      new (static_cast<char*>(p) + l.rings + i * align64(sizeof(Ring))) Ring();
    for (uint32_t i = 0; i < kMaxWorkers; ++i) {
      new (static_cast<char*>(p) + l.stats + i * sizeof(WorkerStatsBlock)) WorkerStatsBlock();
      new (static_cast<char*>(p) + l.logs + i * align64(sizeof(LogRing))) LogRing();
      new (static_cast<char*>(p) + l.pike + i * sizeof(PikeBlock)) PikeBlock();
    }
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = kMagic;
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  std::string why;
  if (size < sizeof(Header) || h->magic != kMagic)
    why = "it is not a sipd segment (magic " + std::to_string(size >= 8 ? h->magic : 0) + ")";
  else if (h->version != kLayoutVersion)
    why = "its layout version is " + std::to_string(h->version) + ", this build's is " +
          std::to_string(kLayoutVersion);
  else if (h->workers != sizes.workers || h->location_bytes != sizes.location_bytes ||
           h->total_bytes != size || size != l.total)
    why = "it was made for " + std::to_string(h->workers) + " workers and " +
          std::to_string(h->location_bytes) + " bytes of location table, the appliance settings say " +
          std::to_string(sizes.workers) + " and " + std::to_string(sizes.location_bytes);
  if (!why.empty()) {
    ::munmap(p, size);
    error = "shared segment " + path + ": " + why +
            " (stop both processes and remove it, or use another shm name)";
    return false;
  }
  if (base_) ::munmap(base_, bytes_);
  base_ = static_cast<char*>(p);
  bytes_ = size;
  return true;
}

Ring& Segment::questions(uint32_t worker) const {
  return *reinterpret_cast<Ring*>(base_ + header().rings_offset +
                                  uint64_t(2 * worker) * align64(sizeof(Ring)));
}

Ring& Segment::answers(uint32_t worker) const {
  return *reinterpret_cast<Ring*>(base_ + header().rings_offset +
                                  uint64_t(2 * worker + 1) * align64(sizeof(Ring)));
}

WorkerStatsBlock& Segment::stats(uint32_t worker) const {
  return *reinterpret_cast<WorkerStatsBlock*>(base_ + header().stats_offset +
                                              uint64_t(worker) * sizeof(WorkerStatsBlock));
}

PikeBlock& Segment::pike(uint32_t worker) const {
  return *reinterpret_cast<PikeBlock*>(base_ + header().pike_offset + uint64_t(worker) * sizeof(PikeBlock));
}

LogRing& Segment::logs(uint32_t worker) const {
  return *reinterpret_cast<LogRing*>(base_ + header().logs_offset +
                                     uint64_t(worker) * align64(sizeof(LogRing)));
}

uint64_t Segment::slab_offset(uint32_t worker, bool answers) const {
  return header().slabs_offset + uint64_t(2 * worker + (answers ? 1 : 0)) * kRingSlots * kBufferBytes;
}

char* Segment::question_buffer(uint32_t worker, uint32_t i) const {
  return base_ + slab_offset(worker, false) + uint64_t(i) * kBufferBytes;
}

char* Segment::answer_buffer(uint32_t worker, uint32_t i) const {
  return base_ + slab_offset(worker, true) + uint64_t(i) * kBufferBytes;
}

std::span<char> Segment::program_slot(uint32_t slot) const {
  return {base_ + header().programs_offset + uint64_t(slot & 1) * kProgramBytes, size_t(kProgramBytes)};
}

std::span<char> Segment::location() const {
  return {base_ + header().location_offset, size_t(header().location_bytes)};
}

std::string_view Segment::record(uint64_t slab, const Descriptor& d) const {
  // The descriptor came from the other process: its buffer index, its offset and its length must all name
  // that buffer of this slab.
  if (d.buffer >= kRingSlots || d.length > kBufferBytes) return {};
  const uint64_t start = slab + uint64_t(d.buffer) * kBufferBytes;
  if (d.offset != start || start + d.length > bytes_) return {};
  return {base_ + start, d.length};
}

std::string_view Segment::question_record(uint32_t worker, const Descriptor& d) const {
  return worker < header().workers ? record(slab_offset(worker, false), d) : std::string_view();
}

std::string_view Segment::answer_record(uint32_t worker, const Descriptor& d) const {
  return worker < header().workers ? record(slab_offset(worker, true), d) : std::string_view();
}

Producer::Producer(const Segment& segment, uint32_t worker, bool answers)
    : ring_(answers ? segment.answers(worker) : segment.questions(worker)),
      cursor_(segment.header().cursor[2 * worker + (answers ? 1 : 0)]),
      base_(segment.base()),
      slab_(segment.slab_offset(worker, answers)) {}

char* Producer::claim() {
  if (ring_.write_available() == 0) return nullptr;
  claimed_ = true;
  return base_ + slab_ + uint64_t(cursor_.load(std::memory_order_relaxed) % kRingSlots) * kBufferBytes;
}

bool Producer::publish(uint32_t length) {
  if (!claimed_ || length > kBufferBytes) return false;
  claimed_ = false;
  const uint32_t i = cursor_.load(std::memory_order_relaxed) % kRingSlots;
  // The cursor moves before the push: a producer killed between the two leaves one buffer unused this
  // round, never one that is in the ring claimed twice.
  cursor_.store((i + 1) % kRingSlots, std::memory_order_release);
  return ring_.push(Descriptor{slab_ + uint64_t(i) * kBufferBytes, length, i});
}

Consumer::Consumer(const Segment& segment, uint32_t worker, bool answers)
    : segment_(segment),
      ring_(answers ? segment.answers(worker) : segment.questions(worker)),
      worker_(worker),
      answers_(answers) {}

std::optional<std::string_view> Consumer::peek() const {
  if (ring_.read_available() == 0) return std::nullopt;
  const Descriptor d = ring_.front();
  return answers_ ? segment_.answer_record(worker_, d) : segment_.question_record(worker_, d);
}

void Consumer::release() { ring_.pop(); }

}  // namespace sipd::shm
