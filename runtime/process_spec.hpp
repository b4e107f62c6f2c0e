// Reading OCI spec fields (config.json, process.json) with errors that name the document and the
// field, and the OCI process -> handoff process conversion shared by `create` and `exec`.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/error.hpp"
#include "handoff/launch.hpp"

namespace runcvm::runtime {

// A field location for messages: document "config.json", path "process.user.uid".
struct Field {
  std::string_view document;
  std::string path;
  std::string describe() const { return std::string(document) + ": field `" + path + "`"; }
};

// The value of object[key], or fallback when absent or null; a value of the wrong type is an
// error naming the field (foreign formats are read leniently, but never misread).
template <class T>
T spec_value(const nlohmann::json& object, const char* key, const Field& field, T fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(field.describe() + ": unexpected value " + it->dump());
  }
}

// object[key] when it is an object, an empty object when absent; anything else is an error.
const nlohmann::json& object_at(const nlohmann::json& object, const char* key, const Field& field);

// The OCI process (as in config.json's "process" or exec's process.json) as the guest will run
// it: RUNCVM_* entries removed from its env. `document` and `prefix` locate errors.
handoff::Process saved_process(const nlohmann::json& process, std::string_view document, std::string_view prefix);

}  // namespace runcvm::runtime
