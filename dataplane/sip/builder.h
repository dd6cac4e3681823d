// Deferred edits ("lumps") against a parsed message, applied once, in one pass, when the outgoing message
// is written. Operations record what to insert, replace or delete at offsets of the original buffer; their
// text is copied into a fixed arena, so callers may pass temporaries. build() copies the untouched bytes
// around the edits into the caller's output buffer, writes a Content-Length that matches the body it
// writes, and never writes octets past the body (RFC 3261 18.3: trailing datagram noise is not forwarded).
//
// Who calls: the routing engine (script edits), the dataplane (Via, received/rport, Max-Forwards) and the
// control process. One EditList per message per thread; nothing is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/sip/message.h"

namespace sipd::sip {

// TooManyHeaders: the result would have more header fields or lines than Message takes (kMaxHeaders,
// kMaxLines), so another sipd could not parse it.
enum class BuildError : uint8_t { None, NoRoom, Conflict, Failed, TooManyHeaders };

struct BuildResult {
  size_t size = 0;
  BuildError error = BuildError::None;
  bool ok() const { return error == BuildError::None; }
};

class EditList {
 public:
  static constexpr size_t kMaxEdits = 48;
  static constexpr size_t kArenaSize = 4096;

  // `msg` must have parsed successfully (or at least have a complete header table) and outlive the list.
  explicit EditList(const Message& msg) : msg_(msg) {}
  // The same edits against `msg`, a copy of `other`'s message at another address (a script suspended with
  // its request, the request copied away until it resumes). A body set from the old buffer follows it.
  EditList(const EditList& other, const Message& msg);

  // Primitive edits, by offsets into msg.buffer(). Return false (and mark the list failed) when the
  // edit table or the arena is full.
  bool insert(uint32_t at, std::string_view text);
  bool replace(Span span, std::string_view text);
  bool remove(Span span);

  // SIP-level edits. Several inserts at the same spot keep their call order (two add_top_via calls put the
  // first call's Via on top).
  bool add_top_via(std::string_view via_value);    // a new first "Via: value" line
  bool add_top_via_param(std::string_view param);  // appended to the top Via value, e.g. ";received=1.2.3.4"
  // Like add_top_via, but a second call replaces the first one's Via (one per branch of a fork).
  bool set_top_via(std::string_view via_value);
  bool remove_top_via();  // the first value of the first Via line
  // The same, when the caller has walked the Via values already (ValueIterator): `first` and `second` are
  // the first two values. No list is read again.
  bool remove_top_via(std::string_view first, std::string_view second);
  bool set_request_uri(std::string_view uri);  // replaces any earlier call's edit
  bool set_max_forwards(uint32_t value);       // rewrites the value, or adds the header
  // The address of the first From or To field (`id`), display name and parameters kept; a bare addr-spec
  // gets angle brackets, since the new URI may carry parameters. Replaces any earlier call's edit.
  bool set_address_uri(HeaderId id, std::string_view uri);
  // "Record-Route: value" above existing ones; with `slot`, a later call with the same slot rewrites it.
  bool add_record_route(std::string_view value, int* slot = nullptr);
  bool add_header(std::string_view name, std::string_view value);        // at the end of the header block
  bool add_header_first(std::string_view name, std::string_view value);  // right after the start line
  bool remove_header(uint16_t index);  // the whole field, continuation lines included
  size_t remove_headers(HeaderId id);  // every field with this id; returns how many
  size_t remove_headers_named(std::string_view name);
  void set_body(std::string_view body);  // replaces the body; Content-Length follows

  bool failed() const { return failed_; }
  size_t edit_count() const { return count_; }

  // Writes the edited message into out[0, cap); NoRoom past cap or Message::kMaxSize.
  [[nodiscard]] BuildResult build(char* out, size_t cap) const;

 private:
  struct Edit {
    uint32_t off;
    uint32_t del;
    uint16_t text_off;
    uint16_t text_len;
    uint16_t seq;
  };

  // Edits with a slot replace the edit recorded earlier through the same slot (R-URI, Max-Forwards).
  bool record(uint32_t off, uint32_t del, std::string_view text, int* slot = nullptr);
  bool commit(uint32_t off, uint32_t del, size_t text_off, size_t len, int* slot);
  char* stage(size_t len);
  bool add_line(uint32_t at, std::string_view name, std::string_view value, int* slot = nullptr);
  uint32_t first_line_offset() const;
  std::string_view text(const Edit& e) const { return {arena_ + e.text_off, e.text_len}; }
  uint32_t empty_line_offset() const;
  bool header_removed(uint16_t index) const;

  const Message& msg_;
  Edit edits_[kMaxEdits];
  size_t count_ = 0;
  uint16_t seq_ = 0;
  char arena_[kArenaSize];
  size_t arena_used_ = 0;
  int ruri_slot_ = -1;
  int mf_slot_ = -1;
  int from_slot_ = -1, to_slot_ = -1, via_slot_ = -1;
  bool failed_ = false;
  bool body_set_ = false;
  std::string_view body_;
  uint16_t removed_[kMaxEdits];  // header indices removed, to keep Content-Length bookkeeping right
  size_t removed_count_ = 0;
};

}  // namespace sipd::sip
