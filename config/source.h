// A routing script as the compiler sees it: the file's name and bytes, a line index for turning offsets
// into `LINE:COL`, and the diagnostics collected while lexing, parsing and checking it. Every error an
// operator sees is rendered here, as `FILE:LINE:COL: error: message`, the line, and a caret under the spot.
//
// Who calls: the config compiler (sipd-control, sipctl, the dataplane before control exists), tests.
// Single-threaded; ordinary heap allocation (this is not the fast path).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sipd::config {

struct SourcePos {
  uint32_t offset = 0;
  uint32_t line = 1;    // 1-based
  uint32_t column = 1;  // 1-based, in characters (UTF-8 sequences count once)
};

// The whole file at `path` into `out`, bytes as they are; false when it cannot be read.
bool read_file(const std::string& path, std::string& out);

class SourceFile {
 public:
  SourceFile(std::string name, std::string text);

  const std::string& name() const { return name_; }
  std::string_view text() const { return text_; }
  SourcePos pos(uint32_t offset) const;
  // The line's text without its line ending.
  std::string_view line_text(uint32_t line) const;
  uint32_t line_count() const { return uint32_t(line_starts_.size()); }

 private:
  std::string name_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
};

enum class Severity : uint8_t { Error, Warning, Notice };

struct Diagnostic {
  Severity severity;
  SourcePos pos;
  std::string message;
};

// Collects every problem of a file in one run (the compiler does not stop at the first).
class Diagnostics {
 public:
  void error(SourcePos pos, std::string message) { add(Severity::Error, pos, std::move(message)); }
  void warning(SourcePos pos, std::string message) { add(Severity::Warning, pos, std::move(message)); }
  void notice(SourcePos pos, std::string message) { add(Severity::Notice, pos, std::move(message)); }

  const std::vector<Diagnostic>& all() const { return list_; }
  size_t error_count() const;
  bool ok() const { return error_count() == 0; }

  // `FILE:LINE:COL: error: message`, then the source line and a caret under the column, for each one.
  std::string render(const SourceFile& file) const;

 private:
  void add(Severity s, SourcePos pos, std::string message);
  std::vector<Diagnostic> list_;
};

}  // namespace sipd::config
