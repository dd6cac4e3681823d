#include "dataplane/engine/transforms.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "dataplane/sip/chars.h"
#include "dataplane/sip/list.h"
#include "dataplane/sip/uri.h"

namespace sipd::engine {

// The transformations' bodies. Arguments are views; nothing is allocated (lists and parameters are walked
// in place, new text goes to the arena).
Value apply_transform(VmState& st, config::TransformId id, std::span<const Value> values, const Value& in) {
  using config::TransformId;
  const std::string_view s = to_text(st, in);
  std::array<std::string_view, 3> args;
  for (size_t i = 0; i < values.size() && i < args.size(); ++i) args[i] = to_text(st, values[i]);
  auto arg = [&](size_t i) {
    int64_t v = 0;
    if (i < values.size()) std::from_chars(args[i].data(), args[i].data() + args[i].size(), v);
    return v;
  };
  switch (id) {
    case TransformId::SLen:
      return Value::integer(int64_t(s.size()));
    case TransformId::SInt: {
      int64_t v = 0;
      std::from_chars(s.data(), s.data() + s.size(), v);
      return Value::integer(v);
    }
    case TransformId::SSubstr: {
      int64_t off = arg(0), len = arg(1);
      if (off < 0) off = std::max<int64_t>(0, int64_t(s.size()) + off);
      if (size_t(off) >= s.size()) return Value::string("");
      if (len <= 0) len = int64_t(s.size()) - off + len;
      return Value::string(s.substr(size_t(off), size_t(std::max<int64_t>(0, len))));
    }
    case TransformId::SSelect: {  // {s.select,index,separator}; a negative index counts from the end
      const char sep = values.size() > 1 && !args[1].empty() ? args[1][0] : ',';
      int64_t i = arg(0);
      if (i < 0) i += int64_t(std::count(s.begin(), s.end(), sep)) + 1;
      if (i < 0) return Value::null();
      size_t b = 0;
      for (; i > 0; --i) {
        b = s.find(sep, b);
        if (b == std::string_view::npos) return Value::null();
        ++b;
      }
      const size_t e = s.find(sep, b);
      return Value::string(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
    }
    case TransformId::STolower:
    case TransformId::SToupper: {
      std::string_view out = arena_copy(st, s);
      char* p = const_cast<char*>(out.data());
      for (size_t i = 0; i < out.size(); ++i)
        p[i] = id == TransformId::STolower ? sip::to_lower(p[i])
                                           : (p[i] >= 'a' && p[i] <= 'z' ? char(p[i] - 32) : p[i]);
      return Value::string(out);
    }
    case TransformId::UriUser:
    case TransformId::UriHost:
    case TransformId::UriPort:
    case TransformId::UriParams:
    case TransformId::UriParam: {
      sip::Uri u;
      if (sip::parse_uri(s, u) != sip::UriError::None) return Value::null();
      if (id == TransformId::UriUser) return Value::string(u.user);
      if (id == TransformId::UriHost) return Value::string(u.host);
      if (id == TransformId::UriPort) return Value::string(u.port_text);
      if (id == TransformId::UriParams)
        return Value::string(u.params.empty() ? u.params : u.params.substr(1));
      std::string_view v;
      return values.empty() || !sip::find_param(u.params, args[0], v) ? Value::null() : Value::string(v);
    }
    case TransformId::ParamValue:
    case TransformId::ParamCount: {                       // "a=1;b=2;c=3"{param.value,c} = "3"
      const std::string_view semi = arena_copy(st, ";");  // the list with a leading ';', built in the arena
      const std::string_view body = arena_copy(st, s);
      std::string_view rest(semi.data(), semi.size() + body.size());
      sip::Param p;
      int64_t count = 0;
      while (sip::next_param(rest, p) == sip::ParamStatus::Ok) {
        ++count;
        if (id == TransformId::ParamValue && !values.empty() && sip::iequals(p.name, args[0]))
          return Value::string(sip::unquote(p.value));
      }
      return id == TransformId::ParamCount ? Value::integer(count) : Value::null();
    }
    case TransformId::kCount:
      return Value::null();
  }
  return Value::null();
}

}  // namespace sipd::engine
