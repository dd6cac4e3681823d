// The workers' counters as JSON in a fixed-size shared mapping (padded with spaces), rewritten in place once
// a second by the main lcore, so reading them never calls into a worker: {"tsc_hz": N, "workers": [{"worker":
// 0, "rx": ..., ..., "runtime": {"turns": N, "loop": [calls, vectors, cycles], ...}}, ...]} with each
// worker's counter table in its order, then where its sampled turns' cycles went, stage by stage.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dataplane/io/worker.h"

namespace sipd::io {

class CounterFile {
 public:
  static constexpr size_t kSize = 65536;
  explicit CounterFile(const std::string& path);
  ~CounterFile();
  CounterFile(const CounterFile&) = delete;
  CounterFile& operator=(const CounterFile&) = delete;
  // What the workers published last. No allocation: it runs on a worker's lcore.
  void write(const std::vector<Worker*>& workers, uint64_t tsc_hz);

 private:
  char* map_ = nullptr;
  std::array<char, kSize> json_;
};

}  // namespace sipd::io
