// JSON values (nlohmann::json) and a hardened decoder for untrusted input.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nave {

using Json = nlohmann::json;

struct JsonParseOptions {
  // Objects and arrays nested deeper than this are refused (our tree walkers recurse).
  size_t maxDepth = 256;
};

struct ParsedJson {
  Json value;
  // Paths of keys that appeared twice in one object ("spec.replicas"); the last one wins in
  // `value`. Strict field validation refuses them, Warn reports them.
  std::vector<std::string> duplicateFields;
};

// Decodes one JSON document. Errors (kBadRequest) for invalid syntax, invalid UTF-8, trailing
// data and nesting beyond maxDepth. Never throws.
Result<ParsedJson> parseJson(std::string_view text, const JsonParseOptions& options = {});

// Serialises compactly. Never throws: invalid UTF-8 in strings (which the decoder refuses, so
// only from internal bugs) is replaced with U+FFFD.
std::string dumpJson(const Json& value);

// Helpers for optional fields of objects: the member if `obj` is an object holding `key`
// with the expected type, else the fallback.
const Json* findMember(const Json& obj, std::string_view key);
// The member `key` of `obj` when it is a JSON object, else a shared empty object: a reference
// that stays valid (unlike value(key, Json::object()), which returns a copy), e.g. to iterate
// with items().
const Json& objectMember(const Json& obj, std::string_view key);
// The same for arrays: the member `key` when it is a JSON array, else a shared empty array.
const Json& arrayMember(const Json& obj, std::string_view key);
std::string getString(const Json& obj, std::string_view key, std::string_view fallback = "");
int64_t getInt(const Json& obj, std::string_view key, int64_t fallback = 0);
bool getBool(const Json& obj, std::string_view key, bool fallback = false);

}  // namespace nave
