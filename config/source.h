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
  uint16_t file = 0;    // which file of the script: 0 is the one named, others came by include_file
};

// The whole file at `path` into `out`, bytes as they are; false when it cannot be read.
bool read_file(const std::string& path, std::string& out);

// A script's files: the one named, and those it brings in with include_file/import_file. Offsets run
// through all of them (each file has its own range), so one uint32_t names any byte of the script and
// every later pass can report FILE:LINE:COL in the right file.
class SourceFile {
 public:
  SourceFile(std::string name, std::string text);

  // The file named (file 0).
  const std::string& name() const { return files_.front().name; }
  std::string_view text() const { return files_.front().text; }

  SourcePos pos(uint32_t offset) const;
  const std::string& name_of(uint16_t file) const { return files_[file].name; }
  // The line's text without its line ending (file 0 when no file is given).
  std::string_view line_text(uint32_t line) const { return line_text(0, line); }
  std::string_view line_text(uint16_t file, uint32_t line) const;
  uint32_t line_count() const { return uint32_t(files_.front().line_starts.size()); }

  // The text of the file holding `offset`, from there to that file's end.
  std::string_view text_from(uint32_t offset) const;
  // Where each file starts in the offset space, and its text.
  uint16_t file_count() const { return uint16_t(files_.size()); }
  uint32_t base(uint16_t file) const { return files_[file].base; }
  std::string_view text_of(uint16_t file) const { return files_[file].text; }

  // Brings in `path` for an include_file at `at` (an offset in the including file): a relative path is
  // looked up from the working directory, then from the including file's directory. Returns the new
  // file's index, or -1 with `error` set (unreadable, or nested deeper than kMaxIncludeDepth). The set
  // of files grows while the script is lexed; what it held never changes, hence const.
  int include(const std::string& path, uint32_t at, std::string& error) const;
  static constexpr int kMaxIncludeDepth = 20;  // as OpenSIPS 3.x

  // Where included files come from (the disk by default; tests give their own).
  using Loader = bool (*)(const std::string& path, std::string& out, void* context);
  void set_loader(Loader loader, void* context) {
    loader_ = loader;
    loader_context_ = context;
  }

 private:
  struct File {
    std::string name;
    std::string text;
    uint32_t base = 0;
    std::vector<uint32_t> line_starts;
    int depth = 0;  // 0 for the file named, 1 for what it includes...
  };
  static File make(std::string name, std::string text, uint32_t base, int depth);
  uint16_t file_of(uint32_t offset) const;

  mutable std::vector<File> files_;
  Loader loader_ = nullptr;
  void* loader_context_ = nullptr;
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
