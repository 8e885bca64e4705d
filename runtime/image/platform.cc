#include "runtime/image/platform.h"

#include <sys/utsname.h>

#include "common/strings.h"

namespace nave::runtime {

Result<Platform> Platform::parse(std::string_view text) {
  std::vector<std::string> parts = split(text, '/');
  Platform p;
  if (parts.size() == 1) {
    p.architecture = parts[0];
  } else if (parts.size() == 2 || parts.size() == 3) {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  } else {
    return Error(ErrorCode::kBadRequest, "invalid platform \"" + std::string(text) + "\"");
  }
  if (p.os.empty() || p.architecture.empty() || (parts.size() == 3 && p.variant.empty())) {
    return Error(ErrorCode::kBadRequest, "invalid platform \"" + std::string(text) + "\"");
  }
  p.os = toLower(p.os);
  p.architecture = toLower(p.architecture);
  p.variant = toLower(p.variant);
  return p.normalized();
}

Platform Platform::normalized() const {
  Platform p = *this;
  p.os = toLower(p.os);
  if (p.os.empty()) p.os = "linux";
  const std::string& a = p.architecture;
  if (a == "x86_64" || a == "x86-64" || a == "amd64") {
    p.architecture = "amd64";
    if (p.variant == "v1") p.variant.clear();
  } else if (a == "i386" || a == "i486" || a == "i586" || a == "i686" || a == "386") {
    p.architecture = "386";
    p.variant.clear();
  } else if (a == "aarch64" || a == "arm64") {
    p.architecture = "arm64";
    if (p.variant.empty() || p.variant == "8" || p.variant == "v8" || p.variant == "v8.0") {
      p.variant = "v8";
    }
  } else if (a == "armhf") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (a == "armel") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (a == "arm" || a == "armv7l" || a == "armv6l" || a == "armv5l" || a == "armv8l") {
    if (a != "arm") p.variant = "v" + a.substr(4, 1);
    p.architecture = "arm";
    if (p.variant.empty()) {
      p.variant = "v7";
    } else if (p.variant.size() == 1 && p.variant[0] >= '5' && p.variant[0] <= '8') {
      p.variant = "v" + p.variant;
    }
  }
  return p;
}

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty() && !(architecture == "arm64" && variant == "v8")) s += "/" + variant;
  return s;
}

Platform Platform::host() {
  utsname u{};
  Platform p;
  if (uname(&u) == 0) p.architecture = u.machine;
  if (p.architecture.empty()) p.architecture = "amd64";
  return p.normalized();
}

int platformScore(const Platform& target, const Platform& candidate) {
  if (candidate.os != target.os) return 0;
  if (candidate.architecture == target.architecture) {
    if (candidate.variant == target.variant) return 100;
    if (target.architecture == "arm" && candidate.variant.size() == 2 &&
        target.variant.size() == 2 && candidate.variant < target.variant) {
      return 50 + (candidate.variant[1] - '0');  // older ARM variants run on newer cores
    }
    return 0;
  }
  if (target.architecture == "amd64" && candidate.architecture == "386") return 10;
  if (target.architecture == "arm64" && candidate.architecture == "arm" &&
      candidate.variant.size() == 2 && candidate.variant <= "v8") {
    return 10 + (candidate.variant[1] - '0');
  }
  return 0;
}

}  // namespace nave::runtime
