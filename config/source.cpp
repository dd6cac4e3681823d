#include "config/source.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace sipd::config {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}
namespace {

size_t utf8_length(uint8_t lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

uint32_t decode_utf8(std::string_view s) {
  if (s.size() == 1) return uint8_t(s[0]);
  uint32_t cp = uint8_t(s[0]) & (0x7F >> s.size());
  for (size_t i = 1; i < s.size(); ++i) cp = (cp << 6) | (uint8_t(s[i]) & 0x3F);
  return cp;
}

// East Asian wide and fullwidth ranges (Hangul, CJK, fullwidth forms): two terminal cells each.
bool is_wide(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

}  // namespace

SourceFile::File SourceFile::make(std::string name, std::string text, uint32_t base, int depth) {
  File f{std::move(name), std::move(text), base, {0}, depth};
  for (uint32_t i = 0; i < f.text.size(); ++i)
    if (f.text[i] == '\n') f.line_starts.push_back(i + 1);
  return f;
}

SourceFile::SourceFile(std::string name, std::string text) {
  files_.push_back(make(std::move(name), std::move(text), 0, 0));
}

uint16_t SourceFile::file_of(uint32_t offset) const {
  uint16_t f = 0;
  while (f + 1u < files_.size() && files_[f + 1].base <= offset) ++f;
  return f;
}

SourcePos SourceFile::pos(uint32_t offset) const {
  const uint16_t f = file_of(offset);
  const File& file = files_[f];
  const uint32_t local = std::min<uint32_t>(offset - file.base, uint32_t(file.text.size()));
  const auto it = std::upper_bound(file.line_starts.begin(), file.line_starts.end(), local);
  const uint32_t line = uint32_t(it - file.line_starts.begin());
  const uint32_t start = file.line_starts[line - 1];
  uint32_t column = 1;
  for (uint32_t i = start; i < local; ++i)
    if ((uint8_t(file.text[i]) & 0xC0) != 0x80) ++column;  // count UTF-8 sequences, not bytes
  return {offset, line, column, f};
}

std::string_view SourceFile::line_text(uint16_t f, uint32_t line) const {
  if (f >= files_.size()) return {};
  const File& file = files_[f];
  if (line == 0 || line > file.line_starts.size()) return {};
  const uint32_t start = file.line_starts[line - 1];
  uint32_t end = line < file.line_starts.size() ? file.line_starts[line] - 1 : uint32_t(file.text.size());
  if (end > start && file.text[end - 1] == '\r') --end;
  return std::string_view(file.text).substr(start, end - start);
}

std::string_view SourceFile::text_from(uint32_t offset) const {
  const File& file = files_[file_of(offset)];
  const uint32_t local = std::min<uint32_t>(offset - file.base, uint32_t(file.text.size()));
  return std::string_view(file.text).substr(local);
}

int SourceFile::include(const std::string& path, uint32_t at, std::string& error) const {
  const File& from = files_[file_of(at)];
  if (from.depth + 1 > kMaxIncludeDepth) {
    error = "include_file nested more than " + std::to_string(kMaxIncludeDepth) +
            " deep (does a file include itself?)";
    return -1;
  }
  std::vector<std::string> tries = {path};
  if (!path.empty() && path[0] != '/') {
    const size_t slash = from.name.rfind('/');
    if (slash != std::string::npos) tries.push_back(from.name.substr(0, slash + 1) + path);
  }
  for (const std::string& candidate : tries) {
    std::string text;
    const bool ok = loader_ ? loader_(candidate, text, loader_context_) : read_file(candidate, text);
    if (!ok) continue;
    const File& last = files_.back();
    const uint32_t base = last.base + uint32_t(last.text.size()) + 1;  // one past, so file ends stay distinct
    files_.push_back(make(candidate, std::move(text), base, from.depth + 1));
    return int(files_.size() - 1);
  }
  error = "cannot read '" + path + "'" + (tries.size() > 1 ? " (nor '" + tries[1] + "')" : "");
  return -1;
}

void Diagnostics::add(Severity s, SourcePos pos, std::string message) {
  list_.push_back({s, pos, std::move(message)});
}

size_t Diagnostics::error_count() const {
  return size_t(std::count_if(list_.begin(), list_.end(),
                              [](const Diagnostic& d) { return d.severity == Severity::Error; }));
}

std::string Diagnostics::render(const SourceFile& file) const {
  std::string out;
  for (const Diagnostic& d : list_) {
    const char* kind = d.severity == Severity::Error     ? "error"
                       : d.severity == Severity::Warning ? "warning"
                                                         : "note";
    out += file.name_of(d.pos.file) + ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column) +
           ": " + kind + ": " + d.message + "\n";
    const std::string_view line = file.line_text(d.pos.file, d.pos.line);
    out += "  ";
    out += line;
    out += "\n  ";
    // The caret lines up under the column: tabs are kept so terminals indent the same way, and wide
    // (East Asian) characters take two cells, as a terminal draws them.
    uint32_t column = 1;
    for (size_t i = 0; i < line.size() && column < d.pos.column; ++column) {
      const size_t n = utf8_length(uint8_t(line[i]));
      out += line[i] == '\t' ? "\t" : is_wide(decode_utf8(line.substr(i, n))) ? "  " : " ";
      i += n;
    }
    out += "^\n";
  }
  return out;
}

}  // namespace sipd::config
