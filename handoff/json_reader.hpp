// The strict JSON reading both handoff documents use: every field typed, every unknown field an
// error naming its path. Internal to handoff/.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace runcvm::handoff::detail {

using Json = nlohmann::ordered_json;

// Reads one JSON object strictly: every key must be taken exactly once by a field reader, and
// finish() rejects the keys nobody asked for.
class Reader {
 public:
  Reader(const Json& object, std::string path, std::string document = "launch document")
      : object_(object), path_(std::move(path)), document_(std::move(document)) {
    if (!object_.is_object()) throw Error(where("") + "expected an object, got " + object_.dump());
  }

  template <class T>
  T required(const std::string& key) {
    auto it = object_.find(key);
    if (it == object_.end()) throw Error(where(key) + "is required");
    return convert<T>(*it, key);
  }

  template <class T>
  T optional(const std::string& key, T fallback) {
    auto it = object_.find(key);
    return it == object_.end() ? fallback : convert<T>(*it, key);
  }

  const Json& child(const std::string& key) {
    auto it = object_.find(key);
    if (it == object_.end()) throw Error(where(key) + "is required");
    taken_.insert(key);
    return *it;
  }

  // The document's format version at `key`; anything but `supported` is refused, with `hint`.
  int version(const std::string& key, int supported, const std::string& hint = {}) {
    int found = required<int>(key);
    if (found == supported) return found;
    Error error(document_ + ": " + key + " " + std::to_string(found) + " is not supported (this program reads " +
                std::to_string(supported) + ")");
    if (!hint.empty()) error.with_hint(hint);
    throw error;
  }

  bool has(const std::string& key) const { return object_.contains(key); }
  const std::string& document() const { return document_; }
  std::string path_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  void finish() const {
    for (const auto& [key, value] : object_.items())
      if (taken_.count(key) == 0) throw Error(where(key) + "unknown field");
  }

 private:
  std::string where(const std::string& key) const { return document_ + ": field `" + path_of(key) + "`: "; }

  template <class T>
  static constexpr bool kInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;
  template <class T>
  struct IntegerList : std::false_type {};
  template <class I>
  struct IntegerList<std::vector<I>> : std::bool_constant<kInteger<I>> {};

  template <class T>
  T convert(const Json& value, const std::string& key) {
    taken_.insert(key);
    if constexpr (kInteger<T>) {
      return integer<T>(value, key);
    } else if constexpr (IntegerList<T>::value) {
      if (!value.is_array()) throw Error(where(key) + "has the wrong type: " + value.dump());
      T out;
      for (std::size_t i = 0; i < value.size(); ++i)
        out.push_back(integer<typename T::value_type>(value[i], key + "[" + std::to_string(i) + "]"));
      return out;
    }
    try {
      return value.get<T>();
    } catch (const Json::exception&) {
      throw Error(where(key) + "has the wrong type: " + value.dump());
    }
  }

  // nlohmann converts true to 1, 5.9 to 5 and wraps 4294967301 to 5 for a uint32_t: an integer
  // takes an integer that fits, or nothing.
  template <class T>
  T integer(const Json& value, const std::string& key) const {
    if (!value.is_number_integer()) throw Error(where(key) + "has the wrong type: " + value.dump());
    bool fits = value.is_number_unsigned() ? std::in_range<T>(value.get<std::uint64_t>())
                                           : std::in_range<T>(value.get<std::int64_t>());
    if (!fits) throw Error(where(key) + "is out of range: " + value.dump());
    return value.is_number_unsigned() ? static_cast<T>(value.get<std::uint64_t>())
                                      : static_cast<T>(value.get<std::int64_t>());
  }

  const Json& object_;
  std::string path_;
  std::string document_;
  std::set<std::string> taken_;
};

template <class T, class F>
std::vector<T> read_list(Reader& parent, const std::string& key, F read_item) {
  std::vector<T> out;
  const Json& list = parent.child(key);
  if (!list.is_array()) throw Error(parent.document() + ": field `" + parent.path_of(key) + "`: expected a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    Reader item(list[i], parent.path_of(key) + "[" + std::to_string(i) + "]", parent.document());
    out.push_back(read_item(item));
    item.finish();
  }
  return out;
}

inline Json parse_json(std::string_view json_text, std::string_view what) {
  try {
    return Json::parse(json_text);
  } catch (const Json::exception& e) {
    throw Error(std::string(what) + ": not valid JSON: " + e.what());
  }
}

}  // namespace runcvm::handoff::detail
