// A small JSON value (RFC 8259) with a bounded parser and a compact writer: what the management interface
// (JSON-RPC 2.0, as OpenSIPS 3's MI speaks it) reads from its clients and writes back, and what `sipctl`
// decodes. Objects keep their members in insertion order, so answers print their fields in the order
// OpenSIPS prints them. Integers are kept exactly (int64); other numbers are doubles.
//
// Who calls: sipd-control's main thread (mgmt.h) and sipctl. A value is an ordinary object with no shared
// state: any thread may use its own values. Nothing here throws except std::bad_alloc from the allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace sipd::control {

struct JsonLimits {
  size_t max_bytes = 64 * 1024;  // longer input is refused before it is read
  unsigned max_depth = 32;       // nested arrays/objects; deeper input is refused (bounds the recursion)
};

class Json {
 public:
  enum class Type : uint8_t { Null, Bool, Int, Double, String, Array, Object };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Json(T n) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (n > uint64_t(INT64_MAX)) {
        v_ = double(n);
        return;
      }
    }
    v_ = int64_t(n);
  }
  Json(double d) : v_(d) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  Type type() const { return Type(v_.index()); }
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_int() const { return type() == Type::Int; }
  bool is_number() const { return type() == Type::Int || type() == Type::Double; }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }

  // Typed reads: the value when it has that type, else the fallback (never throws).
  bool as_bool(bool fallback = false) const;
  int64_t as_int(int64_t fallback = 0) const;  // an Int, or a Double that is a whole number in range
  double as_double(double fallback = 0) const;
  std::string_view as_string(std::string_view fallback = {}) const;
  const Array& items() const;     // an empty array unless this is one
  const Object& members() const;  // an empty object unless this is one
  size_t size() const;            // elements of an array or members of an object, else 0

  // The member's value (the last one when a key repeats), or null when absent or this is no object.
  const Json* find(std::string_view key) const;

  // Building. set() makes this an object if it is null and replaces a member with the same key; push()
  // makes it an array if it is null. Both return the stored value.
  Json& set(std::string_view key, Json value);
  Json& push(Json value);

  // Compact text. Strings that are not valid UTF-8 (bytes out of SIP headers) have each bad byte written as
  // U+FFFD, so the output is always valid JSON; non-finite doubles are written as null.
  std::string dump() const;
  void write(std::string& out) const;

  // Parses exactly one value (surrounding whitespace allowed). On failure returns false with a short
  // reason and the byte offset it refers to ("at 17: bad escape"); `out` is then unspecified.
  [[nodiscard]] static bool parse(std::string_view text, Json& out, std::string& error,
                                  const JsonLimits& limits = {});

  friend bool operator==(const Json& a, const Json& b) { return a.v_ == b.v_; }

 private:
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v_;
};

// Appends `s` as a JSON string literal (quotes included) to `out`.
void write_json_string(std::string_view s, std::string& out);

}  // namespace sipd::control
