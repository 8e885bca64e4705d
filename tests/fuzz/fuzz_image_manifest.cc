// Fuzzes the parsers that read what registries and archives send: manifests and indexes (with
// the platform choice), image configs, references, WWW-Authenticate challenges and
// registries.yaml. The first byte picks the parser; none may crash, hang or throw, and what
// they accept must satisfy the invariants the store relies on (digests fit for file names).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/image/digest.h"
#include "runtime/image/manifest.h"
#include "runtime/image/registries_config.h"
#include "runtime/image/registry_client.h"

using namespace nave::runtime;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void checkDescriptor(const Descriptor& d) {
  require(isSha256Digest(d.digest));
  require(d.size >= 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      static const std::string_view kTypes[] = {"", media::kOciManifest, media::kOciIndex,
                                                media::kDockerManifest, "application/json"};
      auto m = parseManifest(input, kTypes[size % 5]);
      if (!m.ok()) break;
      if (m->kind == ManifestKind::kManifest) {
        checkDescriptor(m->config);
        for (const Descriptor& l : m->layers) checkDescriptor(l);
      } else {
        for (const Descriptor& d : m->manifests) checkDescriptor(d);
        for (const char* p : {"linux/amd64", "linux/arm64", "linux/arm/v7"}) {
          auto chosen = selectPlatform(*m, *Platform::parse(p));
          if (chosen.ok()) checkDescriptor(*chosen);
        }
      }
      break;
    }
    case 1: {
      auto c = parseImageConfig(input);
      if (c.ok()) {
        for (const std::string& d : c->diffIds) require(isSha256Digest(d));
      }
      break;
    }
    case 2: {
      auto ref = ImageReference::parse(input);
      if (ref.ok()) {
        // Normalised references are fixed points.
        auto again = ImageReference::parse(ref->str());
        require(again.ok() && again->str() == ref->str());
        require(ref->digest.empty() || isSha256Digest(ref->digest));
      }
      break;
    }
    case 3:
      (void)parseAuthChallenges(input);
      break;
    case 4: {
      auto config = RegistriesConfig::parse(input);
      if (config.ok()) {
        for (const auto& entry : config->mirrors) {
          for (const RegistryEndpoint& ep : config->endpointsFor(entry.first)) {
            (void)ep.repositoryFor("library/busybox");
          }
        }
      }
      break;
    }
  }
  return 0;
}
