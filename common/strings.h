// Small string helpers used across the tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nave {

std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);
std::string toLower(std::string_view s);
// Percent-decodes a URL component ('+' stays '+' unless formDecode).
std::string urlDecode(std::string_view s, bool formDecode = false);
std::string urlEncode(std::string_view s);
std::string base64Encode(std::string_view data);
// `bytes` random bytes (OpenSSL's generator) as lowercase hex: container and sandbox IDs.
std::string randomHex(size_t bytes);
// Returns false on invalid input (standard alphabet, padding optional).
bool base64Decode(std::string_view text, std::string& out);
std::string base64UrlEncode(std::string_view data);  // no padding
bool base64UrlDecode(std::string_view text, std::string& out);
// A string quoted the way Go's %q / strconv.Quote does for ASCII control characters (Kubernetes'
// messages embed values this way): "a\"b\n".
std::string goQuote(std::string_view s);
// Validates UTF-8 (no overlongs, no surrogates).
bool isValidUtf8(std::string_view s);

// A random (version 4) UUID, as Kubernetes gives objects for metadata.uid.
std::string newUuid();

}  // namespace nave
