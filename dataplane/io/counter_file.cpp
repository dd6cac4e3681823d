#include "dataplane/io/counter_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace sipd::io {

namespace {

// A few numbers as JSON into a fixed buffer.
class JsonWriter {
 public:
  JsonWriter(char* out, size_t cap) : out_(out), cap_(cap) {}
  JsonWriter& raw(std::string_view s) {
    const size_t n = std::min(s.size(), cap_ - used_);
    std::memcpy(out_ + used_, s.data(), n);
    used_ += n;
    return *this;
  }
  JsonWriter& num(uint64_t v) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, v);
    return raw(std::string_view(digits, size_t(r.ptr - digits)));
  }
  JsonWriter& field(std::string_view name, uint64_t v) { return raw(", \"").raw(name).raw("\": ").num(v); }
  size_t size() const { return used_; }
  bool full() const { return used_ == cap_; }

 private:
  char* out_;
  size_t cap_;
  size_t used_ = 0;
};

}  // namespace

CounterFile::CounterFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ::ftruncate(fd, kSize) != 0) {
    if (fd >= 0) ::close(fd);
    return;
  }
  void* p = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p != MAP_FAILED) map_ = static_cast<char*>(p);
}

CounterFile::~CounterFile() {
  if (map_) ::munmap(map_, kSize);
}

void CounterFile::write(const std::vector<Worker*>& workers, uint64_t tsc_hz) {
  if (!map_) return;
  JsonWriter w(json_.data(), json_.size());
  w.raw("{\"tsc_hz\": ").num(tsc_hz).raw(", \"workers\": [");
  for (const Worker* wk : workers) {
    w.raw(wk->id() ? ", {\"worker\": " : "{\"worker\": ").num(wk->id());
    const auto table = wk->counters();
    for (size_t i = 0; i < table.size(); ++i) w.field(table[i].name, wk->published(i));
    // Where the sampled turns' cycles went: [calls, vectors, cycles] per stage (proxy/runtime.h).
    w.raw(", \"runtime\": {\"turns\": ").num(wk->published_sampled_turns());
    for (size_t s = 0; s < proxy::kStageNames.size(); ++s) {
      const proxy::StageCount c = wk->published_stage(proxy::Stage(s));
      w.raw(", \"").raw(proxy::kStageNames[s]).raw("\": [").num(c.calls).raw(", ").num(c.vectors);
      w.raw(", ").num(c.cycles).raw("]");
    }
    w.raw("}}");
  }
  w.raw("]}\n");
  if (w.full()) return;  // a JSON cut short is worse than last second's
  std::memcpy(map_, json_.data(), w.size());
  std::memset(map_ + w.size(), ' ', kSize - w.size() - 1);
  map_[kSize - 1] = '\n';
}

}  // namespace sipd::io
