#include "runtime/image/manifest.h"

#include "runtime/image/digest.h"

namespace nave::runtime {

std::string media::acceptHeader() {
  return std::string(kOciIndex) + ", " + std::string(kDockerManifestList) + ", " +
         std::string(kOciManifest) + ", " + std::string(kDockerManifest);
}

bool isIndexMediaType(std::string_view t) {
  return t == media::kOciIndex || t == media::kDockerManifestList;
}

bool isManifestMediaType(std::string_view t) {
  return t == media::kOciManifest || t == media::kDockerManifest;
}

namespace {

Error bad(std::string msg) { return Error(ErrorCode::kBadRequest, std::move(msg)); }

Error schema1() {
  return bad(
      "Docker schema 1 manifests are not supported: push the image again with a current client "
      "(Docker schema 2 or OCI)");
}

Result<Descriptor> parseDescriptor(const Json& j, std::string_view what) {
  if (!j.is_object()) return bad(std::string(what) + ": descriptor is not an object");
  Descriptor d;
  d.mediaType = getString(j, "mediaType");
  d.digest = getString(j, "digest");
  if (auto ok = checkDigest(d.digest); !ok) {
    return bad(std::string(what) + ": " + ok.error().message());
  }
  const Json* size = findMember(j, "size");
  if (size == nullptr || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return bad(std::string(what) + " " + d.digest + ": missing or invalid size");
  }
  d.size = size->get<int64_t>();
  if (const Json* p = findMember(j, "platform"); p != nullptr && p->is_object()) {
    Platform platform;
    platform.os = getString(*p, "os");
    platform.architecture = getString(*p, "architecture");
    platform.variant = getString(*p, "variant");
    if (!platform.os.empty() && !platform.architecture.empty()) {
      d.platform = platform.normalized();
    }
  }
  if (const Json* a = findMember(j, "annotations"); a != nullptr && a->is_object()) {
    for (const auto& [k, v] : a->items()) {
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
    }
  }
  return d;
}

std::vector<std::string> stringList(const Json& obj, std::string_view key) {
  std::vector<std::string> out;
  const Json* a = findMember(obj, key);
  if (a == nullptr || !a->is_array()) return out;
  for (const Json& v : *a) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::vector<std::string> objectKeys(const Json& obj, std::string_view key) {
  std::vector<std::string> out;
  const Json* o = findMember(obj, key);
  if (o == nullptr || !o->is_object()) return out;
  for (const auto& [k, v] : o->items()) out.push_back(k);
  return out;
}

}  // namespace

Result<ParsedManifest> parseManifest(std::string_view bytes, std::string_view mediaType) {
  if (static_cast<int64_t>(bytes.size()) > kMaxManifestSize) return bad("manifest too large");
  auto parsed = parseJson(bytes);
  if (!parsed) return bad("invalid manifest: " + parsed.error().message());
  const Json& j = parsed->value;
  if (!j.is_object()) return bad("invalid manifest: not a JSON object");
  ParsedManifest m;
  std::string declared = getString(j, "mediaType");
  std::string type = !declared.empty() ? declared : std::string(mediaType);
  // Registries answer application/json or text/plain for some documents; decide by content.
  if (!isIndexMediaType(type) && !isManifestMediaType(type)) {
    if (type == media::kDockerSchema1 || type == media::kDockerSchema1Signed ||
        getInt(j, "schemaVersion") == 1) {
      return schema1();
    }
    if (!declared.empty() || !(type.empty() || type.starts_with("application/json") ||
                                type.starts_with("text/plain"))) {
      return bad("unsupported manifest media type \"" + type + "\"");
    }
    if (findMember(j, "manifests") != nullptr) {
      type = std::string(media::kOciIndex);
    } else if (findMember(j, "config") != nullptr) {
      type = std::string(media::kOciManifest);
    } else {
      return bad("invalid manifest: neither an image manifest nor an index");
    }
  }
  if (getInt(j, "schemaVersion") != 2) return bad("invalid manifest: schemaVersion is not 2");
  m.mediaType = type;
  if (isIndexMediaType(type)) {
    m.kind = ManifestKind::kIndex;
    const Json* list = findMember(j, "manifests");
    if (list == nullptr || !list->is_array()) return bad("invalid index: no manifests list");
    for (const Json& e : *list) {
      m.manifests.push_back(TRY(parseDescriptor(e, "index entry")));
    }
    return m;
  }
  m.kind = ManifestKind::kManifest;
  const Json* config = findMember(j, "config");
  if (config == nullptr) return bad("invalid manifest: no config");
  m.config = TRY(parseDescriptor(*config, "config"));
  const Json* layers = findMember(j, "layers");
  if (layers != nullptr && !layers->is_null()) {
    if (!layers->is_array()) return bad("invalid manifest: layers is not a list");
    for (const Json& l : *layers) m.layers.push_back(TRY(parseDescriptor(l, "layer")));
  }
  return m;
}

Result<Descriptor> selectPlatform(const ParsedManifest& index, const Platform& target) {
  const Descriptor* best = nullptr;
  int bestScore = 0;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform) continue;
    int score = platformScore(target, *d.platform);
    if (score > bestScore) {  // first of equals wins, as the index orders them
      best = &d;
      bestScore = score;
    }
  }
  if (best == nullptr) {
    return Error(ErrorCode::kNotFound,
                 "no match for platform " + target.str() + " in manifest list");
  }
  return *best;
}

Result<ParsedConfig> parseImageConfig(std::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) > kMaxConfigSize) return bad("image config too large");
  auto parsed = parseJson(bytes);
  if (!parsed) return bad("invalid image config: " + parsed.error().message());
  ParsedConfig c;
  c.raw = std::move(parsed->value);
  if (!c.raw.is_object()) return bad("invalid image config: not a JSON object");
  c.platform.os = getString(c.raw, "os", "linux");
  c.platform.architecture = getString(c.raw, "architecture");
  c.platform.variant = getString(c.raw, "variant");
  c.platform = c.platform.normalized();
  if (const Json* rootfs = findMember(c.raw, "rootfs"); rootfs != nullptr) {
    c.diffIds = stringList(*rootfs, "diff_ids");
    for (const std::string& d : c.diffIds) {
      if (auto ok = checkDigest(d); !ok) {
        return bad("invalid image config: diff_id: " + ok.error().message());
      }
    }
  }
  if (const Json* cfg = findMember(c.raw, "config"); cfg != nullptr && cfg->is_object()) {
    ImageConfig& ic = c.config;
    ic.entrypoint = stringList(*cfg, "Entrypoint");
    ic.cmd = stringList(*cfg, "Cmd");
    ic.env = stringList(*cfg, "Env");
    ic.workingDir = getString(*cfg, "WorkingDir");
    ic.user = getString(*cfg, "User");
    ic.exposedPorts = objectKeys(*cfg, "ExposedPorts");
    ic.volumes = objectKeys(*cfg, "Volumes");
    ic.stopSignal = getString(*cfg, "StopSignal");
    if (const Json* labels = findMember(*cfg, "Labels"); labels != nullptr && labels->is_object()) {
      for (const auto& [k, v] : labels->items()) {
        if (v.is_string()) ic.labels[k] = v.get<std::string>();
      }
    }
  }
  return c;
}

std::string makeDockerManifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                               bool oci) {
  Json m = Json::object();
  m["schemaVersion"] = 2;
  m["mediaType"] = oci ? media::kOciManifest : media::kDockerManifest;
  m["config"] = {{"mediaType", config.mediaType}, {"digest", config.digest}, {"size", config.size}};
  Json ls = Json::array();
  for (const Descriptor& l : layers) {
    ls.push_back({{"mediaType", l.mediaType}, {"digest", l.digest}, {"size", l.size}});
  }
  m["layers"] = std::move(ls);
  return dumpJson(m);
}

}  // namespace nave::runtime
