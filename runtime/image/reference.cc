// Image references as Docker's distribution/reference normalises them (ParseNormalizedNamed):
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component [ "/" path-component ]*
//   domain    := host [ ":" port ]     host: DNS name or [IPv6]
//   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag       := [\w][\w.-]{0,127}
// The first component is a registry only when it contains "." or ":" or is "localhost"
// (and is lowercase-free of capitals); otherwise the image is on docker.io, and a single
// component there lives under library/.
#include <cctype>

#include "runtime/image/digest.h"
#include "runtime/image/image_store.h"

namespace nave::runtime {
namespace {

constexpr size_t kNameMaxLength = 255;
constexpr std::string_view kDefaultRegistry = "docker.io";

Error invalid(std::string_view detail = "") {
  std::string msg = "invalid reference format";
  if (!detail.empty()) {
    msg += ": ";
    msg += detail;
  }
  return Error(ErrorCode::kBadRequest, std::move(msg));
}

bool isAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool validPathComponent(std::string_view s) {
  if (s.empty() || !isAlnumLower(s.front()) || !isAlnumLower(s.back())) return false;
  size_t i = 0;
  while (i < s.size()) {
    if (isAlnumLower(s[i])) {
      ++i;
      continue;
    }
    // A separator: ".", "_", "__" or a run of "-", always followed by an alphanumeric.
    size_t start = i;
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == start || i >= s.size() || !isAlnumLower(s[i])) return false;
  }
  return true;
}

bool validDomainComponent(std::string_view s) {
  if (s.empty()) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

bool validDomain(std::string_view d) {
  std::string_view host = d;
  std::string_view port;
  if (!d.empty() && d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
    }
    std::string_view rest = d.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    if (port.empty()) return false;
  } else {
    size_t colon = d.find(':');
    if (colon != std::string_view::npos) {
      host = d.substr(0, colon);
      port = d.substr(colon + 1);
      if (port.empty()) return false;
    }
    size_t start = 0;
    while (true) {
      size_t dot = host.find('.', start);
      if (!validDomainComponent(host.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
        return false;
      }
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool validTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool hasUpper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

}  // namespace

Result<ImageReference> ImageReference::parse(std::string_view text) {
  if (text.empty()) return invalid();
  if (text.size() == 64 && isLowerHex(text)) {
    return invalid("repository name cannot be a 64-byte hexadecimal string");
  }
  ImageReference ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!isSha256Digest(digest)) {
      if (digest.substr(0, 7) == "sha256:" || digest.find(':') == std::string_view::npos) {
        return invalid("invalid digest");
      }
      return invalid("unsupported digest algorithm (only sha256)");
    }
    ref.digest = std::string(digest);
  }
  size_t lastSlash = rest.rfind('/');
  size_t lastColon = rest.rfind(':');
  if (lastColon != std::string_view::npos &&
      (lastSlash == std::string_view::npos || lastColon > lastSlash)) {
    std::string_view tag = rest.substr(lastColon + 1);
    if (!validTag(tag)) return invalid();
    ref.tag = std::string(tag);
    rest = rest.substr(0, lastColon);
  }
  if (rest.empty()) return invalid();

  std::string_view domain = kDefaultRegistry;
  std::string_view remainder = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    bool isDomain = first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                    hasUpper(first);
    if (isDomain) {
      domain = first;
      remainder = rest.substr(slash + 1);
    }
  }
  if (!validDomain(domain)) return invalid();
  ref.registry = domain == "index.docker.io" ? std::string(kDefaultRegistry) : std::string(domain);
  if (hasUpper(remainder)) {
    return invalid("repository name (" + std::string(remainder) + ") must be lowercase");
  }
  if (ref.registry == kDefaultRegistry && remainder.find('/') == std::string_view::npos) {
    ref.repository = "library/";
  }
  ref.repository += remainder;
  size_t start = 0;
  while (true) {
    size_t slash = ref.repository.find('/', start);
    std::string_view comp = std::string_view(ref.repository).substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!validPathComponent(comp)) return invalid();
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (ref.registry.size() + 1 + ref.repository.size() > kNameMaxLength) {
    return invalid("repository name must not be more than 255 characters");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string ImageReference::name() const { return registry + "/" + repository; }

std::string ImageReference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

}  // namespace nave::runtime
