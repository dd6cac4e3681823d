#include "dataplane/sip/builder.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/name_addr.h"

// Performance notes: edits are recorded in arrival order and sorted once in build() (insertion sort over
// a few dozen entries); the output is written with one memcpy per untouched stretch.

namespace sipd::sip {
namespace {

struct Piece {
  uint32_t off;
  uint32_t del;
  std::string_view text;
  uint32_t seq;
};

// Inserts at an offset go before a deletion starting there, then arrival order.
bool before(const Piece& a, const Piece& b) {
  if (a.off != b.off) return a.off < b.off;
  if ((a.del == 0) != (b.del == 0)) return a.del == 0;
  return a.seq < b.seq;
}

// Whether our own parser could read a whole message's header block: at most Message::kMaxHeaders fields and
// Message::kMaxLines lines (continuation lines, starting with SP or HTAB, count as lines, not fields).
bool parser_can_read(std::string_view m) {
  size_t fields = 0, lines = 1;
  size_t at = m.find('\n');
  while (at != std::string_view::npos && at + 1 < m.size()) {
    const char c = m[at + 1];
    if (c == '\n' || (c == '\r' && at + 2 < m.size() && m[at + 2] == '\n')) break;  // the empty line
    ++lines;
    if (c != ' ' && c != '\t') ++fields;
    at = m.find('\n', at + 1);
  }
  return fields <= Message::kMaxHeaders && lines <= Message::kMaxLines;
}

}  // namespace

bool EditList::commit(uint32_t off, uint32_t del, size_t text_off, size_t len, int* slot) {
  const bool reuse = slot && *slot >= 0;
  if ((!reuse && count_ == kMaxEdits) || off + uint64_t(del) > msg_.buffer().size()) {
    failed_ = true;
    return false;
  }
  const size_t index = reuse ? size_t(*slot) : count_++;
  edits_[index] = Edit{off, del, uint16_t(text_off), uint16_t(len), seq_++};
  if (slot) *slot = int(index);
  return true;
}

char* EditList::stage(size_t len) {
  if (failed_ || len > kArenaSize - arena_used_) {
    failed_ = true;
    return nullptr;
  }
  char* p = arena_ + arena_used_;
  arena_used_ += len;
  return p;
}

bool EditList::record(uint32_t off, uint32_t del, std::string_view text, int* slot) {
  char* p = stage(text.size());
  if (!p) return false;  // stage(0) still returns a valid position
  if (!text.empty()) std::memcpy(p, text.data(), text.size());
  return commit(off, del, size_t(p - arena_), text.size(), slot);
}

EditList::EditList(const EditList& other, const Message& msg)
    : msg_(msg),
      count_(other.count_),
      seq_(other.seq_),
      arena_used_(other.arena_used_),
      ruri_slot_(other.ruri_slot_),
      mf_slot_(other.mf_slot_),
      from_slot_(other.from_slot_),
      to_slot_(other.to_slot_),
      via_slot_(other.via_slot_),
      failed_(other.failed_),
      body_set_(other.body_set_),
      body_(other.body_),
      removed_count_(other.removed_count_) {
  std::copy(other.edits_, other.edits_ + count_, edits_);
  std::memcpy(arena_, other.arena_, arena_used_);
  std::copy(other.removed_, other.removed_ + removed_count_, removed_);
  const std::string_view old_buf = other.msg_.buffer();
  if (!body_.empty() && body_.data() >= old_buf.data() &&
      body_.data() + body_.size() <= old_buf.data() + old_buf.size())
    body_ = std::string_view(msg.buffer().data() + (body_.data() - old_buf.data()), body_.size());
}

bool EditList::insert(uint32_t at, std::string_view text) { return record(at, 0, text); }
bool EditList::replace(Span span, std::string_view text) { return record(span.off, span.len, text); }
bool EditList::remove(Span span) { return record(span.off, span.len, {}); }

// Records the insertion of a whole "name: value\r\n" line, written straight into the arena.
bool EditList::add_line(uint32_t at, std::string_view name, std::string_view value, int* slot) {
  const size_t need = name.size() + 2 + value.size() + 2;
  char* p = stage(need);
  if (!p) return false;
  std::memcpy(p, name.data(), name.size());
  std::memcpy(p + name.size(), ": ", 2);
  std::memcpy(p + name.size() + 2, value.data(), value.size());
  std::memcpy(p + need - 2, "\r\n", 2);
  return commit(at, 0, size_t(p - arena_), need, slot);
}

uint32_t EditList::first_line_offset() const {
  return msg_.header_count() ? msg_.header(0).line.off : empty_line_offset();
}

uint32_t EditList::empty_line_offset() const {
  const uint32_t end = msg_.header_end();
  const std::string_view b = msg_.buffer();
  return (end >= 2 && b[end - 2] == '\r') ? end - 2 : end - 1;
}

bool EditList::add_top_via(std::string_view via_value) {
  const uint16_t first = msg_.first(HeaderId::Via);
  return add_line(first != kNoHeader ? msg_.header(first).line.off : first_line_offset(), "Via", via_value);
}

bool EditList::set_top_via(std::string_view via_value) {
  const uint16_t first = msg_.first(HeaderId::Via);
  return add_line(first != kNoHeader ? msg_.header(first).line.off : first_line_offset(), "Via", via_value,
                  &via_slot_);
}

bool EditList::add_top_via_param(std::string_view param) {
  const uint16_t first = msg_.first(HeaderId::Via);
  if (first == kNoHeader) return false;
  std::string_view rest = msg_.value(first), item;
  bool bad = false;
  if (!next_list_item(rest, item, bad)) return false;
  return insert(uint32_t(item.data() + item.size() - msg_.buffer().data()), param);
}

bool EditList::remove_top_via() {
  const uint16_t first = msg_.first(HeaderId::Via);
  if (first == kNoHeader) return false;
  std::string_view rest = msg_.value(first), item, more;
  bool bad = false;
  if (!next_list_item(rest, item, bad)) return false;
  std::string_view after = rest;
  if (!next_list_item(after, more, bad)) return remove_header(first);
  // Several values on the line: delete the first one, its comma and the LWS up to the next value.
  const uint32_t from = uint32_t(item.data() - msg_.buffer().data());
  const uint32_t to = uint32_t(more.data() - msg_.buffer().data());
  return remove(Span{from, to - from});
}

bool EditList::remove_top_via(std::string_view first, std::string_view second) {
  const uint16_t line = msg_.first(HeaderId::Via);
  if (line == kNoHeader) return false;
  const Span v = msg_.header(line).value;
  const auto inside = [&](std::string_view s) {
    const size_t at = size_t(s.data() - msg_.buffer().data());
    return s.data() >= msg_.buffer().data() && at >= v.off && at < v.off + v.len;
  };
  if (!inside(first)) return false;  // the first line holds no value (an empty Via line)
  if (!inside(second)) return remove_header(line);
  const uint32_t from = uint32_t(first.data() - msg_.buffer().data());
  return remove(Span{from, uint32_t(second.data() - first.data())});
}

bool EditList::set_request_uri(std::string_view uri) {
  if (!msg_.is_request()) return false;
  const Span s = msg_.request_uri_span();
  return record(s.off, s.len, uri, &ruri_slot_);
}

bool EditList::set_address_uri(HeaderId id, std::string_view uri) {
  if (id != HeaderId::From && id != HeaderId::To) return false;
  const uint16_t f = msg_.first(id);
  NameAddr na;
  if (f == kNoHeader || !parse_name_addr(msg_.value(f), na) || na.uri.empty()) return false;
  const uint32_t off = uint32_t(na.uri.data() - msg_.buffer().data());
  int* slot = id == HeaderId::From ? &from_slot_ : &to_slot_;
  if (na.bracketed) return record(off, uint32_t(na.uri.size()), uri, slot);
  char text[1024];
  if (uri.size() + 2 > sizeof text) {
    failed_ = true;
    return false;
  }
  text[0] = '<';
  std::memcpy(text + 1, uri.data(), uri.size());
  text[uri.size() + 1] = '>';
  return record(off, uint32_t(na.uri.size()), std::string_view(text, uri.size() + 2), slot);
}

bool EditList::set_max_forwards(uint32_t value) {
  char digits[12];
  const auto r = std::to_chars(digits, digits + sizeof digits, value);
  const std::string_view text(digits, size_t(r.ptr - digits));
  const uint16_t f = msg_.first(HeaderId::MaxForwards);
  if (f == kNoHeader) return add_line(first_line_offset(), "Max-Forwards", text, &mf_slot_);
  return record(msg_.header(f).value.off, msg_.header(f).value.len, text, &mf_slot_);
}

bool EditList::add_record_route(std::string_view value, int* slot) {
  // Above the existing Record-Routes; when there are none, below the Vias (so a Via added at the top stays
  // the first line after the start line, where people look for it).
  const uint16_t first = msg_.first(HeaderId::RecordRoute);
  if (first != kNoHeader) return add_line(msg_.header(first).line.off, "Record-Route", value, slot);
  uint32_t at = first_line_offset();
  for (uint16_t v = msg_.first(HeaderId::Via); v != kNoHeader; v = msg_.next(v))
    at = msg_.header(v).line.end();
  return add_line(at, "Record-Route", value, slot);
}

bool EditList::add_header(std::string_view name, std::string_view value) {
  return add_line(empty_line_offset(), name, value);
}

bool EditList::add_header_first(std::string_view name, std::string_view value) {
  return add_line(first_line_offset(), name, value);
}

bool EditList::remove_header(uint16_t index) {
  if (index >= msg_.header_count() || header_removed(index)) return false;
  if (!remove(msg_.header(index).line)) return false;
  if (removed_count_ < kMaxEdits) removed_[removed_count_++] = index;
  return true;
}

bool EditList::header_removed(uint16_t index) const {
  return std::find(removed_, removed_ + removed_count_, index) != removed_ + removed_count_;
}

size_t EditList::remove_headers(HeaderId id) {
  size_t n = 0;
  for (uint16_t i = msg_.first(id); i != kNoHeader; i = msg_.next(i)) n += remove_header(i);
  return n;
}

size_t EditList::remove_headers_named(std::string_view name) {
  const HeaderId id = lookup_header(name);
  if (id != HeaderId::Other) return remove_headers(id);
  size_t n = 0;
  for (uint16_t i = msg_.first(HeaderId::Other); i != kNoHeader; i = msg_.next(i))
    if (iequals(msg_.name(i), name)) n += remove_header(i);
  return n;
}

void EditList::set_body(std::string_view body) {
  body_set_ = true;
  body_ = body;
}

BuildResult EditList::build(char* out, size_t cap) const {
  if (failed_) return {0, BuildError::Failed};
  cap = std::min(cap, Message::kMaxSize);  // no larger than sipd itself would take
  // Left uninitialised: only the first n are written and read (an array of Piece would clear all 50
  // string_views first, 150 instructions a message).
  union Slots {
    Slots() {}
    Piece p[kMaxEdits + 2];
  } slots;
  Piece* const pieces = slots.p;
  size_t n = 0;
  for (size_t i = 0; i < count_; ++i)
    pieces[n++] = Piece{edits_[i].off, edits_[i].del, text(edits_[i]), edits_[i].seq};

  // Content-Length follows the body that is written: a new body, or the old one with the edits that fall
  // in it (replace_body, subst_body...; an edit that starts in the headers gives the body only the bytes
  // it removes there).
  const Span body = msg_.body_span();
  const std::string_view new_body = body_set_ ? body_ : msg_.body();
  int64_t body_size = int64_t(new_body.size());
  if (!body_set_) {
    for (size_t i = 0; i < count_; ++i) {
      const Edit& e = edits_[i];
      if (e.off >= body.off && e.off <= body.end())
        body_size += int64_t(text(e).size()) - int64_t(e.del);
      else if (e.off < body.off && e.off + e.del > body.off)
        body_size -= int64_t(std::min(e.off + e.del, body.end()) - body.off);
    }
  }
  char digits[12];
  const auto r = std::to_chars(digits, digits + sizeof digits, uint64_t(std::max<int64_t>(body_size, 0)));
  const std::string_view length(digits, size_t(r.ptr - digits));
  char cl_line[40];
  const uint16_t cl = msg_.first(HeaderId::ContentLength);
  if (cl != kNoHeader && !header_removed(cl)) {
    if (msg_.value(cl) != length)
      pieces[n++] = Piece{msg_.header(cl).value.off, msg_.header(cl).value.len, length, 0x10000};
  } else {
    const size_t len = size_t(std::string_view("Content-Length: ").copy(cl_line, 16));
    std::memcpy(cl_line + len, length.data(), length.size());
    std::memcpy(cl_line + len + length.size(), "\r\n", 2);
    pieces[n++] = Piece{empty_line_offset(), 0, {cl_line, len + length.size() + 2}, 0x10000};
  }
  if (body_set_) pieces[n++] = Piece{body.off, body.len, new_body, 0x10001};

  for (size_t i = 1; i < n; ++i)
    for (size_t j = i; j > 0 && before(pieces[j], pieces[j - 1]); --j) std::swap(pieces[j], pieces[j - 1]);

  const std::string_view src = msg_.buffer();
  const std::string_view m = msg_.message();
  uint32_t cursor = uint32_t(m.data() - src.data());
  const uint32_t end = cursor + uint32_t(m.size());
  size_t w = 0;
  auto put = [&](std::string_view s) {
    if (s.size() > cap - w) return false;
    std::memcpy(out + w, s.data(), s.size());
    w += s.size();
    return true;
  };
  for (size_t i = 0; i < n; ++i) {
    const Piece& p = pieces[i];
    if (p.off < cursor || p.off + p.del > end) return {0, BuildError::Conflict};
    if (!put(src.substr(cursor, p.off - cursor)) || !put(p.text)) return {0, BuildError::NoRoom};
    cursor = p.off + p.del;
  }
  if (!put(src.substr(cursor, end - cursor))) return {0, BuildError::NoRoom};
  // What sipd sends, sipd must be able to read. Each added line costs at least one arena byte (its LF), so
  // only a message already near the limits is counted (a line count is never below the field count).
  if (msg_.line_count() + arena_used_ + 1 > Message::kMaxHeaders &&
      !parser_can_read(std::string_view(out, w)))
    return {0, BuildError::TooManyHeaders};
  return {w, BuildError::None};
}

}  // namespace sipd::sip
