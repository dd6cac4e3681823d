// Where transactions keep their messages (the request as received and as sent on each branch, the last
// response, the best final response so far): a preallocated pool of fixed-size chunks, a message being a
// chain of them. No allocation after construction; when the pool is empty, store() fails and the caller
// answers 503 instead of creating the transaction.
//
// Who calls: the transaction layer on its worker; not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace sipd::tm {

class Store {
 public:
  static constexpr uint32_t kChunk = 1024;  // the default: a typical request in one chunk
  static constexpr uint32_t kNone = UINT32_MAX;

  struct Ref {
    uint32_t first = kNone;
    uint32_t size = 0;
    bool empty() const { return first == kNone; }
  };

  // `chunk` bytes each: small chunks waste less on short messages (the replies that waiting transactions
  // keep), large ones copy in fewer pieces.
  explicit Store(uint32_t chunks, uint32_t chunk = kChunk)
      : chunk_(chunk), data_(size_t(chunks) * chunk), next_(chunks), free_(chunks ? 0 : kNone) {
    for (uint32_t i = 0; i < chunks; ++i) next_[i] = i + 1 < chunks ? i + 1 : kNone;
    available_ = chunks;
  }

  // Copies `bytes` into the store. An empty Ref when it does not fit.
  Ref put(std::string_view bytes) { return put(bytes, {}); }
  // Copies `head` then `tail` into the store as one message (without gathering them first).
  Ref put(std::string_view head, std::string_view tail) {
    const size_t size = head.size() + tail.size();
    const uint32_t need = uint32_t((size + chunk_ - 1) / chunk_);
    if (need > available_ || size > UINT32_MAX) return {};
    Ref r{kNone, uint32_t(size)};
    uint32_t* link = &r.first;
    for (uint32_t i = 0; i < need; ++i) {
      const uint32_t c = free_;
      free_ = next_[c];
      next_[c] = kNone;
      *link = c;
      link = &next_[c];
      char* out = &data_[size_t(c) * chunk_];
      size_t room = chunk_;
      for (std::string_view* piece : {&head, &tail}) {
        const size_t n = std::min(room, piece->size());
        if (n) std::memcpy(out, piece->data(), n);
        piece->remove_prefix(n);
        out += n;
        room -= n;
      }
    }
    available_ -= need;
    return r;
  }

  void release(Ref& r) {
    for (uint32_t c = r.first; c != kNone;) {
      const uint32_t n = next_[c];
      next_[c] = free_;
      free_ = c;
      ++available_;
      c = n;
    }
    r = {};
  }

  // The message as one contiguous view: in place when it fits in one chunk, else gathered into `scratch`
  // (which must hold r.size bytes).
  std::string_view view(const Ref& r, char* scratch) const {
    if (r.first == kNone) return {};
    if (r.size <= chunk_) return {&data_[size_t(r.first) * chunk_], r.size};
    size_t done = 0;
    for (uint32_t c = r.first; c != kNone && done < r.size; c = next_[c]) {
      const size_t n = std::min<size_t>(chunk_, r.size - done);
      std::memcpy(scratch + done, &data_[size_t(c) * chunk_], n);
      done += n;
    }
    return {scratch, r.size};
  }

  // The first min(n, chunk) bytes of the message, in place.
  std::string_view head(const Ref& r, size_t n) const {
    if (r.first == kNone) return {};
    return {&data_[size_t(r.first) * chunk_], std::min<size_t>({n, r.size, chunk_})};
  }

  uint32_t available_chunks() const { return available_; }
  uint32_t chunk() const { return chunk_; }
  size_t bytes() const { return data_.size() + next_.size() * sizeof(uint32_t); }

 private:
  uint32_t chunk_;
  std::vector<char> data_;
  std::vector<uint32_t> next_;
  uint32_t free_;
  uint32_t available_ = 0;
};

}  // namespace sipd::tm
