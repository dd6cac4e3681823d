#include "control/daemon/prometheus.h"

#include <map>
#include <set>

namespace sipd::control {
namespace {

std::string metric_chars(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':'))
      c = '_';
  return out;
}

// "group: /REGEX/SUBST/" (any delimiter after the first '/' is the one the rule uses, as in subst()).
bool label_rule(std::string_view text, PrometheusSettings::LabelRule& out, std::string& error) {
  const auto fail = [&](std::string why) {
    error = "prometheus: labels \"" + std::string(text) + "\": " + why;
    return false;
  };
  std::string_view t = text;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  if (!t.starts_with("group:"))
    return fail(
        "labels from anything but the group name are not implemented in this build (only \"group: "
        "/REGEX/SUBST/\")");
  t.remove_prefix(6);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  if (t.size() < 3) return fail("expected /REGEX/SUBST/");
  const char d = t.front();
  const size_t mid = t.find(d, 1);
  const size_t end = mid == std::string_view::npos ? mid : t.find(d, mid + 1);
  if (end == std::string_view::npos || end + 1 != t.size()) return fail("expected /REGEX/SUBST/");
  try {
    out.match = std::regex(std::string(t.substr(1, mid - 1)), std::regex::extended);
  } catch (const std::regex_error& e) {
    return fail(std::string("the regex does not compile: ") + e.what());
  }
  // \N is std::regex_replace's $N; a literal '$' is "$$".
  out.format.clear();
  const std::string_view subst = t.substr(mid + 1, end - mid - 1);
  for (size_t i = 0; i < subst.size(); ++i) {
    if (subst[i] == '\\' && i + 1 < subst.size() && subst[i + 1] >= '0' && subst[i + 1] <= '9') {
      out.format += '$';
      out.format += subst[++i];
    } else if (subst[i] == '\\' && i + 1 < subst.size()) {
      out.format += subst[++i];
    } else if (subst[i] == '$') {
      out.format += "$$";
    } else {
      out.format += subst[i];
    }
  }
  return true;
}

}  // namespace

bool prometheus_settings(const config::Program& program, PrometheusSettings& out, std::string& error) {
  out = {};
  const auto text = [&](const char* param, std::string& field) {
    if (program.modparam_set("prometheus", param)) field = std::string(program.modparam("prometheus", param));
  };
  text("root", out.root);
  text("prefix", out.prefix);
  text("delimiter", out.delimiter);
  text("group_prefix", out.group_prefix);
  text("group_label", out.group_label);
  if (program.modparam_set("prometheus", "group_mode")) {
    const int64_t m = program.modparam_int("prometheus", "group_mode");
    if (m < 0 || m > 2) {
      error = "prometheus: invalid group_mode " + std::to_string(m) + " (0, 1 or 2)";
      return false;
    }
    out.group_mode = int(m);
  }
  for (const char c : out.root)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      error = "prometheus: root \"" + out.root + "\" may hold letters, digits and '_' only";
      return false;
    }
  for (const config::ModParamValue& m : program.modparams) {
    if (m.module != "prometheus") continue;
    if (m.param == "labels") {
      PrometheusSettings::LabelRule rule;
      if (!label_rule(m.value, rule, error)) return false;
      out.labels.push_back(std::move(rule));
      continue;
    }
    if (m.param != "statistics") continue;
    std::string_view list = m.value;
    while (!list.empty()) {
      const size_t start = list.find_first_not_of(" \t\r\n");
      if (start == std::string_view::npos) break;
      list.remove_prefix(start);
      const std::string_view item = list.substr(0, list.find_first_of(" \t\r\n"));
      list.remove_prefix(item.size());
      if (item == "all")
        out.all = true;
      else if (item.size() > 1 && item.back() == ':')
        out.groups.emplace_back(item.substr(0, item.size() - 1));
      else
        out.names.emplace_back(item);
    }
  }
  return true;
}

std::string prometheus_page(const PrometheusSettings& s, const Statistics& stats) {
  std::vector<StatValue> chosen;
  if (s.all) {
    chosen = stats.all();
  } else {
    std::vector<std::string> items;
    for (const std::string& g : s.groups) items.push_back(g + ":");
    items.insert(items.end(), s.names.begin(), s.names.end());
    bool found = false;
    chosen = stats.select(items, found);
  }
  // The text format wants every sample of one metric together, after its one TYPE line: samples are
  // gathered by metric name, the names in the order they first appear.
  struct Metric {
    bool gauge;
    std::string samples;
  };
  std::vector<std::pair<std::string, Metric>> metrics;
  std::map<std::string, size_t, std::less<>> index;
  std::set<std::string> series;  // a statistic asked for twice (by group and by name) is one sample
  for (const StatValue& v : chosen) {
    std::string group = v.group, labels;
    for (const PrometheusSettings::LabelRule& rule : s.labels) {
      if (!std::regex_match(group, rule.match)) continue;
      const std::string replaced = std::regex_replace(group, rule.match, rule.format);
      const size_t colon = replaced.find(':');
      labels = colon == std::string::npos ? "" : replaced.substr(colon + 1);
      group = replaced.substr(0, colon);
      break;
    }
    const std::string& stat_name = v.worker >= 0 ? v.counter : v.name;
    std::string prefix = s.prefix;
    if (prefix.empty() && s.delimiter.empty() && s.group_mode == 0 && !stat_name.empty() &&
        stat_name[0] >= '0' && stat_name[0] <= '9')
      prefix = "_";  // a metric's name may not start with a digit
    std::string name = prefix + s.delimiter;
    if (s.group_mode == 1) name += s.group_prefix + group + s.delimiter;
    name += metric_chars(stat_name);
    std::string all_labels;
    const auto label = [&all_labels](const std::string& l) {
      if (l.empty()) return;
      if (!all_labels.empty()) all_labels += ',';
      all_labels += l;
    };
    if (s.group_mode == 2) label(s.group_label + "=\"" + s.group_prefix + group + "\"");
    label(labels);
    if (v.worker >= 0) label("worker=\"" + std::to_string(v.worker) + "\"");
    if (!series.insert(name + "{" + all_labels + "}").second) continue;
    const auto [it, added] = index.emplace(name, metrics.size());
    if (added) metrics.push_back({name, Metric{v.gauge, {}}});
    std::string& out = metrics[it->second].second.samples;
    out += name;
    if (!all_labels.empty()) out += "{" + all_labels + "}";
    out += " " + std::to_string(v.value) + "\n";
  }
  std::string page;
  page.reserve(chosen.size() * 96);
  for (const auto& [name, m] : metrics)
    page += "# TYPE " + name + (m.gauge ? " gauge\n" : " counter\n") + m.samples;
  page += "\n";
  return page;
}

}  // namespace sipd::control
