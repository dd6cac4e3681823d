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

SourceFile::SourceFile(std::string name, std::string text) : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

SourcePos SourceFile::pos(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, uint32_t(text_.size()));
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const uint32_t line = uint32_t(it - line_starts_.begin());
  const uint32_t start = line_starts_[line - 1];
  uint32_t column = 1;
  for (uint32_t i = start; i < offset; ++i)
    if ((uint8_t(text_[i]) & 0xC0) != 0x80) ++column;  // count UTF-8 sequences, not bytes
  return {offset, line, column};
}

std::string_view SourceFile::line_text(uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) return {};
  const uint32_t start = line_starts_[line - 1];
  uint32_t end = line < line_starts_.size() ? line_starts_[line] - 1 : uint32_t(text_.size());
  if (end > start && text_[end - 1] == '\r') --end;
  return std::string_view(text_).substr(start, end - start);
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
    out += file.name() + ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column) + ": " + kind +
           ": " + d.message + "\n";
    const std::string_view line = file.line_text(d.pos.line);
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
