#include "config/transforms.h"

#include "config/registry.h"

namespace sipd::config {
namespace {

using enum TrArg;
using Id = TransformId;

// clang-format off
constexpr TransformSpec kTransforms[] = {
    {"s", "len",       Id::SLen,      0, 0},
    {"s", "int",       Id::SInt,      0, 0},
    {"s", "substr",    Id::SSubstr,   2, 2, {Int, Int}},
    {"s", "select",    Id::SSelect,   2, 2, {Int, Char}},
    {"s", "tolower",   Id::STolower,  0, 0},
    {"s", "toupper",   Id::SToupper,  0, 0},
    {"uri", "user",    Id::UriUser,   0, 0},
    {"uri", "host",    Id::UriHost,   0, 0},
    {"uri", "port",    Id::UriPort,   0, 0},
    {"uri", "params",  Id::UriParams, 0, 0},
    {"uri", "param",   Id::UriParam,  1, 1, {String}},
    {"param", "value", Id::ParamValue, 1, 1, {String}},
    {"param", "count", Id::ParamCount, 0, 0},
};
// clang-format on

std::string count_text(unsigned lo, unsigned hi) {
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
}

bool all_digits(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::span<const TransformSpec> transform_table() { return kTransforms; }

const TransformSpec* find_transform(std::string_view dotted) {
  for (const TransformSpec& t : kTransforms)
    if (dotted.size() == t.klass.size() + 1 + t.name.size() && dotted.starts_with(t.klass) &&
        dotted[t.klass.size()] == '.' && dotted.substr(t.klass.size() + 1) == t.name)
      return &t;
  return nullptr;
}

bool parse_transform(std::string_view text, TransformCode& out, std::string& error) {
  out = TransformCode{};
  out.text = std::string(text);
  const size_t comma = text.find(',');
  const std::string_view head = text.substr(0, comma);
  const TransformSpec* spec = find_transform(head);
  if (!spec) {
    std::vector<std::string> full;
    for (const TransformSpec& t : kTransforms)
      full.push_back(std::string(t.klass) + "." + std::string(t.name));
    std::vector<std::string_view> names(full.begin(), full.end());
    const std::string_view best = closest(head, names);
    error = "unknown transformation {" + std::string(head) + "}" +
            (best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)");
    return false;
  }
  out.id = spec->id;
  // The arguments, split at commas; a Char argument is the one character after its comma, whatever it is.
  if (comma != std::string_view::npos) {
    std::string_view rest = text.substr(comma + 1);
    if (spec->raw) {
      out.args.push_back(TransformArg{std::string(rest), false});
      rest = {};
    }
    for (size_t i = 0; !spec->raw;) {
      const TrArg kind = i < spec->args.size() ? spec->args[i] : Any;
      size_t end = kind == Char && !rest.empty() ? 1 : rest.find(',');
      if (end == std::string_view::npos) end = rest.size();
      TransformArg a;
      a.text = std::string(rest.substr(0, end));
      a.is_pvar = !a.text.empty() && a.text[0] == '$' && kind != Char;
      out.args.push_back(std::move(a));
      ++i;
      if (end >= rest.size()) break;
      if (rest[end] != ',') {  // a Char argument longer than one character
        error = "argument " + std::to_string(i) + " of {" + std::string(head) + "} is one character";
        return false;
      }
      rest.remove_prefix(end + 1);
    }
  }
  const size_t n = out.args.size();
  if (n < spec->min_args || n > spec->max_args) {
    error = "transformation {" + std::string(head) + "} takes " + count_text(spec->min_args, spec->max_args) +
            " argument(s), not " + std::to_string(n);
    return false;
  }
  for (size_t i = 0; i < n && i < spec->args.size(); ++i) {
    const TransformArg& a = out.args[i];
    if (spec->args[i] == Int && !a.is_pvar && !all_digits(a.text)) {
      error = "argument " + std::to_string(i + 1) + " of {" + std::string(head) +
              "} must be a number, not '" + a.text + "'";
      return false;
    }
  }
  return true;
}

}  // namespace sipd::config
