// Every handoff document is read and written from one list of its fields. A type a document holds
// as a JSON object lists its fields once, in a specialisation of Fields<T>; the writer (to_json)
// and the strict reader (read_object, over json_reader.hpp's Reader) are made from that list, so a
// field cannot be written under one name and read under another, or written and never read.
// Internal to handoff/.
//
//   template <> struct Fields<Mount> {
//     static constexpr std::tuple list{field("destination", &Mount::destination),
//                                      field("read_only", &Mount::read_only)};
//   };
//
// Every member of T is listed: a member added to the struct and not to its list fails to compile
// (read_object's static_assert), since it would be neither written nor read. A document's version,
// read and written apart, is counted by `static constexpr std::size_t kMembersApart = 1;`.
//
// A std::optional member is left out when empty and may be absent; a std::vector of a listed type
// is a JSON list of objects; anything else is a JSON value read with Reader::required. A
// specialisation may add `static void check(const T&, const Reader&)`, run once the fields are
// read, for what a type cannot say (bounds, a list of known values).
#pragma once

#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "handoff/json_reader.hpp"

namespace runcvm::handoff::detail {

template <class Owner, class Member>
struct Field {
  const char* key;
  Member Owner::*member;
};

template <class Owner, class Member>
constexpr Field<Owner, Member> field(const char* key, Member Owner::*member) {
  return {key, member};
}

template <class T>
struct Fields;

template <class T>
concept Listed = requires {
  Fields<T>::list;
};

// How many members aggregate T has: the most initialisers T{…} takes, each of a type that
// converts to anything (so no brace elision folds two into a nested member).
struct AnyMember {
  template <class U>
  operator U() const;  // NOLINT(google-explicit-constructor): only named in unevaluated contexts
};
template <class T, class... Initialisers>
consteval std::size_t member_count() {
  if constexpr (requires { T{Initialisers{}..., AnyMember{}}; })
    return member_count<T, Initialisers..., AnyMember>();
  else
    return sizeof...(Initialisers);
}

template <class T>
concept Checked = requires(const T& value, const Reader& reader) {
  Fields<T>::check(value, reader);
};

template <class T>
struct OptionalOf : std::false_type {};
template <class T>
struct OptionalOf<std::optional<T>> : std::true_type {
  using type = T;
};

template <class T>
struct ListOf : std::false_type {};
template <Listed T>
struct ListOf<std::vector<T>> : std::true_type {
  using type = T;
};

template <class T>
Json to_json(const T& value);

template <class T>
void write_field(Json& out, const char* key, const T& value) {
  if constexpr (OptionalOf<T>::value) {
    if (value) write_field(out, key, *value);
  } else {
    out[key] = to_json(value);
  }
}

// Appends the fields of `object` to `out`, in their list's order.
template <Listed T>
void write_fields(Json& out, const T& object) {
  std::apply([&](const auto&... f) { (write_field(out, f.key, object.*(f.member)), ...); }, Fields<T>::list);
}

template <class T>
Json to_json(const T& value) {
  if constexpr (Listed<T>) {
    Json out = Json::object();
    write_fields(out, value);
    return out;
  } else if constexpr (ListOf<T>::value) {
    Json out = Json::array();
    for (const auto& item : value) out.push_back(to_json(item));
    return out;
  } else {
    return Json(value);
  }
}

template <Listed T>
T read_object(Reader& r);

template <class T>
void read_field(Reader& r, const char* key, T& target) {
  if constexpr (OptionalOf<T>::value) {
    if (!r.has(key)) return;
    typename OptionalOf<T>::type value{};
    read_field(r, key, value);
    target = std::move(value);
  } else if constexpr (Listed<T>) {
    Reader child(r.child(key), r.path_of(key), r.document());
    target = read_object<T>(child);
    child.finish();
  } else if constexpr (ListOf<T>::value) {
    using Item = typename ListOf<T>::type;
    target = read_list<Item>(r, key, [](Reader& item) { return read_object<Item>(item); });
  } else {
    target = r.required<T>(key);
  }
}

// Reads the fields of a T from `r` and checks them; the caller finishes `r` (which refuses any
// key no field took).
template <Listed T>
T read_object(Reader& r) {
  constexpr std::size_t apart = [] {
    if constexpr (requires { Fields<T>::kMembersApart; })
      return Fields<T>::kMembersApart;
    else
      return std::size_t{0};
  }();
  static_assert(member_count<T>() == std::tuple_size_v<std::remove_cvref_t<decltype(Fields<T>::list)>> + apart,
                "every member of a handoff document's type is in its field list");
  T out{};
  std::apply([&](const auto&... f) { (read_field(r, f.key, out.*(f.member)), ...); }, Fields<T>::list);
  if constexpr (Checked<T>) Fields<T>::check(out, r);
  return out;
}

}  // namespace runcvm::handoff::detail
