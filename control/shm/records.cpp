#include "control/shm/records.h"

#include <cstring>

namespace sipd::shm {
namespace {

constexpr uint32_t kQuestionMagic = 0x31305153;    // "SQ01"
constexpr uint32_t kAnswerMagic = 0x31304153;      // "SA01"
constexpr uint32_t kUacRequestMagic = 0x31305553;  // "SU01"
constexpr uint32_t kUacResultMagic = 0x31305253;   // "SR01"
constexpr uint32_t kStreamInMagic = 0x31304953;    // "SI01"
constexpr uint32_t kStreamOutMagic = 0x31304f53;   // "SO01"

class Writer {
 public:
  Writer(char* out, size_t cap) : out_(out), cap_(cap) {}
  template <typename T>
  void put(T v) {
    if (!room(sizeof v)) return;
    std::memcpy(out_ + used_, &v, sizeof v);
    used_ += sizeof v;
  }
  // A string with a 16-bit length (32-bit for the request).
  void text(std::string_view s) {
    if (s.size() > 0xffff) {
      failed_ = true;
      return;
    }
    put(uint16_t(s.size()));
    bytes(s);
  }
  void long_text(std::string_view s) {
    put(uint32_t(s.size()));
    bytes(s);
  }
  size_t done() const { return failed_ ? 0 : used_; }

 private:
  bool room(size_t n) {
    if (failed_ || cap_ - used_ < n) failed_ = true;
    return !failed_;
  }
  void bytes(std::string_view s) {
    if (!room(s.size()) || s.empty()) return;  // an empty view may have no data() to copy from
    std::memcpy(out_ + used_, s.data(), s.size());
    used_ += s.size();
  }
  char* out_;
  size_t cap_;
  size_t used_ = 0;
  bool failed_ = false;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool get(T& v) {
    if (in_.size() - used_ < sizeof v) return false;
    std::memcpy(&v, in_.data() + used_, sizeof v);
    used_ += sizeof v;
    return true;
  }
  bool text(std::string_view& s) {
    uint16_t n = 0;
    return get(n) && bytes(n, s);
  }
  bool long_text(std::string_view& s) {
    uint32_t n = 0;
    return get(n) && bytes(n, s);
  }
  bool at_end() const { return used_ == in_.size(); }

 private:
  bool bytes(size_t n, std::string_view& s) {
    if (in_.size() - used_ < n) return false;
    s = in_.substr(used_, n);
    used_ += n;
    return true;
  }
  std::string_view in_;
  size_t used_ = 0;
};

}  // namespace

namespace {

void put_avps(Writer& w, const std::array<AnswerAvp, kMaxAnswerAvps>& avps, uint8_t n) {
  for (uint8_t i = 0; i < n; ++i) {
    const AnswerAvp& v = avps[i];
    w.text(v.name);
    w.put(uint8_t(v.is_int));
    if (v.is_int)
      w.put(v.i);
    else
      w.text(v.s);
  }
}

bool get_avps(Reader& r, std::array<AnswerAvp, kMaxAnswerAvps>& avps, uint8_t n) {
  for (uint8_t i = 0; i < n; ++i) {
    AnswerAvp& v = avps[i];
    uint8_t is_int = 0;
    if (!r.text(v.name) || !r.get(is_int) || is_int > 1) return false;
    v.is_int = is_int;
    if (v.is_int ? !r.get(v.i) : !r.text(v.s)) return false;
  }
  return true;
}

}  // namespace

size_t encode(const QuestionRecord& q, char* out, size_t cap) {
  if (q.argc > kMaxArgs || q.value_count > kMaxAnswerAvps) return 0;
  Writer w(out, cap);
  w.put(kQuestionMagic);
  w.put(q.epoch);
  w.put(q.id);
  w.put(q.src_ip);
  w.put(q.connection);
  w.put(q.src_port);
  w.put(q.transport);
  w.put(q.argc);
  w.text(q.function);
  for (uint8_t i = 0; i < q.argc; ++i) w.text(q.args[i]);
  w.long_text(q.request);
  w.put(q.value_count);
  put_avps(w, q.values, q.value_count);
  return w.done();
}

bool decode(std::string_view bytes, QuestionRecord& q) {
  Reader r(bytes);
  uint32_t magic = 0;
  if (!r.get(magic) || magic != kQuestionMagic) return false;
  if (!r.get(q.epoch) || !r.get(q.id) || !r.get(q.src_ip) || !r.get(q.connection) || !r.get(q.src_port) ||
      !r.get(q.transport) || !r.get(q.argc) || q.argc > kMaxArgs || !r.text(q.function))
    return false;
  for (uint8_t i = 0; i < q.argc; ++i)
    if (!r.text(q.args[i])) return false;
  return r.long_text(q.request) && r.get(q.value_count) && q.value_count <= kMaxAnswerAvps &&
         get_avps(r, q.values, q.value_count) && r.at_end();
}

size_t encode(const AnswerRecord& a, char* out, size_t cap) {
  if (a.header_count > kMaxAnswerHeaders || a.avp_count > kMaxAnswerAvps) return 0;
  Writer w(out, cap);
  w.put(kAnswerMagic);
  w.put(a.epoch);
  w.put(a.id);
  w.put(a.result);
  w.put(a.reply_code);
  w.put(a.header_count);
  w.put(a.avp_count);
  w.text(a.reply_reason);
  for (uint8_t i = 0; i < a.header_count; ++i) w.text(a.headers[i]);
  put_avps(w, a.avps, a.avp_count);
  return w.done();
}

bool decode(std::string_view bytes, AnswerRecord& a) {
  Reader r(bytes);
  uint32_t magic = 0;
  if (!r.get(magic) || magic != kAnswerMagic) return false;
  if (!r.get(a.epoch) || !r.get(a.id) || !r.get(a.result) || !r.get(a.reply_code) || !r.get(a.header_count) ||
      !r.get(a.avp_count) || a.header_count > kMaxAnswerHeaders || a.avp_count > kMaxAnswerAvps ||
      !r.text(a.reply_reason))
    return false;
  for (uint8_t i = 0; i < a.header_count; ++i)
    if (!r.text(a.headers[i])) return false;
  if (!get_avps(r, a.avps, a.avp_count)) return false;
  return r.at_end();
}

RecordKind record_kind(std::string_view bytes) {
  uint32_t magic = 0;
  if (bytes.size() < sizeof magic) return RecordKind::Unknown;
  std::memcpy(&magic, bytes.data(), sizeof magic);
  switch (magic) {
    case kQuestionMagic:
      return RecordKind::Question;
    case kAnswerMagic:
      return RecordKind::Answer;
    case kUacRequestMagic:
      return RecordKind::UacRequest;
    case kUacResultMagic:
      return RecordKind::UacResult;
    case kStreamInMagic:
      return RecordKind::StreamIn;
    case kStreamOutMagic:
      return RecordKind::StreamOut;
    default:
      return RecordKind::Unknown;
  }
}

size_t encode(const UacRequestRecord& q, char* out, size_t cap) {
  if (q.branch_at > q.request.size()) return 0;
  Writer w(out, cap);
  w.put(kUacRequestMagic);
  w.put(q.epoch);
  w.put(q.id);
  w.put(q.dst_ip);
  w.put(q.dst_port);
  w.put(q.branch_at);
  w.long_text(q.request);
  return w.done();
}

bool decode(std::string_view bytes, UacRequestRecord& q) {
  Reader r(bytes);
  uint32_t magic = 0;
  if (!r.get(magic) || magic != kUacRequestMagic) return false;
  return r.get(q.epoch) && r.get(q.id) && r.get(q.dst_ip) && r.get(q.dst_port) && r.get(q.branch_at) &&
         r.long_text(q.request) && q.branch_at <= q.request.size() && r.at_end();
}

size_t encode(const UacResultRecord& a, char* out, size_t cap) {
  Writer w(out, cap);
  w.put(kUacResultMagic);
  w.put(a.epoch);
  w.put(a.id);
  w.put(a.code);
  w.text(a.reason);
  w.long_text(a.response);
  return w.done();
}

bool decode(std::string_view bytes, UacResultRecord& a) {
  Reader r(bytes);
  uint32_t magic = 0;
  if (!r.get(magic) || magic != kUacResultMagic) return false;
  return r.get(a.epoch) && r.get(a.id) && r.get(a.code) && r.text(a.reason) && r.long_text(a.response) &&
         r.at_end();
}

namespace {
// Only the stream transports travel in these records (sip::Transport's Tcp and Tls).
bool stream_transport(uint8_t t) { return t == 1 || t == 2; }

// A message for a connection or an address; or, with `alias`, no message and the connection and port to
// alias.
bool stream_out_valid(const StreamOutRecord& m) {
  if (!stream_transport(m.transport)) return false;
  if (m.alias) return m.message.empty() && m.connection != 0 && m.dst_port != 0;
  return !m.message.empty() && (m.connection != 0 || m.dst_ip != 0);
}
}  // namespace

size_t encode(const StreamInRecord& m, char* out, size_t cap) {
  if (m.connection == 0 || !stream_transport(m.transport) || m.message.empty()) return 0;
  Writer w(out, cap);
  w.put(kStreamInMagic);
  w.put(m.epoch);
  w.put(m.connection);
  w.put(m.transport);
  w.put(m.src_ip);
  w.put(m.src_port);
  w.put(m.local_port);
  w.long_text(m.message);
  return w.done();
}

bool decode(std::string_view bytes, StreamInRecord& m) {
  Reader r(bytes);
  uint32_t magic = 0;
  if (!r.get(magic) || magic != kStreamInMagic) return false;
  return r.get(m.epoch) && r.get(m.connection) && r.get(m.transport) && r.get(m.src_ip) &&
         r.get(m.src_port) && r.get(m.local_port) && r.long_text(m.message) && m.connection != 0 &&
         stream_transport(m.transport) && !m.message.empty() && r.at_end();
}

size_t encode(const StreamOutRecord& m, char* out, size_t cap) {
  if (!stream_out_valid(m)) return 0;
  Writer w(out, cap);
  w.put(kStreamOutMagic);
  w.put(m.epoch);
  w.put(m.connection);
  w.put(m.transport);
  w.put(m.dst_ip);
  w.put(m.dst_port);
  w.put(uint8_t(m.alias));
  w.long_text(m.message);
  return w.done();
}

bool decode(std::string_view bytes, StreamOutRecord& m) {
  Reader r(bytes);
  uint32_t magic = 0;
  if (!r.get(magic) || magic != kStreamOutMagic) return false;
  uint8_t alias = 0;
  if (!r.get(m.epoch) || !r.get(m.connection) || !r.get(m.transport) || !r.get(m.dst_ip) ||
      !r.get(m.dst_port) || !r.get(alias) || alias > 1 || !r.long_text(m.message) || !r.at_end())
    return false;
  m.alias = alias != 0;
  return stream_out_valid(m);
}

}  // namespace sipd::shm
