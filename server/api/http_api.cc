#include "server/api/http_api.h"

#include <sys/utsname.h>

#include <chrono>
#include <map>

#include "common/log.h"
#include "common/strings.h"
#include "common/yaml.h"
#include "server/api/status.h"
#include "server/api/tables.h"
#include "server/protobuf/protobuf.h"
#include "server/schema/schema.h"
#include "server/openapiv2/document_cache.h"
#include "server/version.h"

namespace nave::api {
namespace {

using Query = std::multimap<std::string, std::string, std::less<>>;

Query parseQuery(std::string_view raw) {
  Query q;
  if (raw.empty()) return q;
  for (const std::string& pair : split(raw, '&')) {
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string k = urlDecode(pair.substr(0, eq), true);
    std::string v = eq == std::string::npos ? "" : urlDecode(pair.substr(eq + 1), true);
    q.emplace(std::move(k), std::move(v));
  }
  return q;
}

const std::string* queryValue(const Query& q, std::string_view key) {
  auto it = q.find(key);
  return it == q.end() ? nullptr : &it->second;
}

std::string queryString(const Query& q, std::string_view key) {
  const std::string* v = queryValue(q, key);
  return v ? *v : std::string();
}

Result<std::optional<bool>> queryBool(const Query& q, std::string_view key) {
  const std::string* v = queryValue(q, key);
  if (v == nullptr) return std::optional<bool>();
  if (*v == "" || *v == "true" || *v == "1" || *v == "True" || *v == "TRUE") return std::optional<bool>(true);
  if (*v == "false" || *v == "0" || *v == "False" || *v == "FALSE") return std::optional<bool>(false);
  return badRequest("invalid boolean value for " + std::string(key) + ": " + *v);
}

Result<int64_t> queryInt(const Query& q, std::string_view key) {
  const std::string* v = queryValue(q, key);
  if (v == nullptr || v->empty()) return int64_t{0};
  int64_t n = 0;
  bool neg = (*v)[0] == '-';
  for (size_t i = neg ? 1 : 0; i < v->size(); ++i) {
    char c = (*v)[i];
    if (c < '0' || c > '9' || n > (INT64_MAX - 9) / 10)
      return badRequest("invalid value for " + std::string(key) + ": " + *v);
    n = n * 10 + (c - '0');
  }
  return neg ? -n : n;
}

// One media range of an Accept header, e.g. application/json;as=Table;v=v1;g=meta.k8s.io.
struct MediaRange {
  std::string type;
  std::map<std::string, std::string> params;
};

std::vector<MediaRange> parseAccept(std::string_view header) {
  std::vector<MediaRange> out;
  for (const std::string& part : split(header, ',')) {
    auto fields = split(part, ';');
    MediaRange m;
    m.type = toLower(trim(fields[0]));
    for (size_t i = 1; i < fields.size(); ++i) {
      auto f = trim(fields[i]);
      auto eq = f.find('=');
      if (eq == std::string_view::npos) continue;
      m.params[toLower(trim(f.substr(0, eq)))] = std::string(trim(f.substr(eq + 1)));
    }
    if (!m.type.empty()) out.push_back(std::move(m));
  }
  if (out.empty()) out.push_back({"application/json", {}});
  return out;
}

enum class Format { kJson, kYaml, kTable, kPartial, kPartialList };

struct Output {
  Format format = Format::kJson;
  std::string metaVersion = "v1";  // Table / PartialObjectMetadata version
};

Result<Output> negotiate(std::string_view accept) {
  for (const MediaRange& m : parseAccept(accept)) {
    bool json = m.type == "application/json" || m.type == "*/*" || m.type == "application/*";
    auto as = m.params.find("as");
    if (as != m.params.end()) {
      if (!json) continue;
      auto g = m.params.find("g");
      auto v = m.params.find("v");
      if (g == m.params.end() || g->second != "meta.k8s.io" || v == m.params.end() ||
          (v->second != "v1" && v->second != "v1beta1"))
        continue;
      if (as->second == "Table") return Output{Format::kTable, v->second};
      if (as->second == "PartialObjectMetadata") return Output{Format::kPartial, v->second};
      if (as->second == "PartialObjectMetadataList") return Output{Format::kPartialList, v->second};
      continue;
    }
    if (json) return Output{Format::kJson, "v1"};
    if (m.type == "application/yaml") return Output{Format::kYaml, "v1"};
  }
  return Error(ErrorCode::kNotAcceptable,
               "only the following media types are accepted: application/json, application/yaml, "
               "application/json;as=Table;v=v1;g=meta.k8s.io");
}

std::string warningHeaderValue(const std::string& text) {
  std::string v = "299 - \"";
  for (char c : text) {
    if (c == '"' || c == '\\') v += '\\';
    v += c;
  }
  return v + "\"";
}

std::vector<http::Header> baseHeaders(const char* contentType, const RequestContext& ctx) {
  std::vector<http::Header> h{{"Content-Type", contentType}, {"Cache-Control", "no-cache, private"}};
  for (const std::string& w : ctx.warnings) h.push_back({"Warning", warningHeaderValue(w)});
  return h;
}

void sendJson(http::ResponseWriter& resp, int status, const Json& body, const RequestContext& ctx,
              Format format = Format::kJson) {
  if (format == Format::kYaml) {
    resp.send(status, baseHeaders("application/yaml", ctx), dumpYaml(body));
  } else {
    resp.send(status, baseHeaders("application/json", ctx), dumpJson(body));
  }
}

void sendError(http::ResponseWriter& resp, const Error& error, const RequestContext& ctx) {
  Json status = statusFromError(error);
  std::vector<http::Header> h = baseHeaders("application/json", ctx);
  if (error.retryAfterSeconds > 0) h.push_back({"Retry-After", std::to_string(error.retryAfterSeconds)});
  resp.send(httpStatusFor(error.code()), h, dumpJson(status));
}

void sendText(http::ResponseWriter& resp, int status, std::string_view text) {
  resp.send(status, {{"Content-Type", "text/plain; charset=utf-8"},
                     {"X-Content-Type-Options", "nosniff"}},
            text);
}

std::string platform() {
  utsname u{};
  uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") m = "amd64";
  else if (m == "aarch64") m = "arm64";
  else if (m.starts_with("arm")) m = "arm";
  return "linux/" + m;
}

Json versionInfo() {
  return {{"major", kKubernetesMajor},         {"minor", kKubernetesMinor},
          {"gitVersion", kKubernetesGitVersion}, {"gitCommit", kNaveVersion},
          {"gitTreeState", "clean"},           {"buildDate", __DATE__ " " __TIME__},
          {"goVersion", "n/a (nave " + std::string(kNaveVersion) + ")"},
          {"compiler", "gcc"},                 {"platform", platform()}};
}

// Custom resources have no protobuf form (as in Kubernetes).
Result<Body> decodeBody(const http::Request& req, bool protobufAllowed) {
  std::string ct = toLower(trim(std::string(req.header("Content-Type")).substr(
      0, std::string(req.header("Content-Type")).find(';'))));
  if (ct.empty() || ct == "application/json" || ct == "*/*") {
    auto parsed = parseJson(req.body);
    if (!parsed.ok())
      return badRequest("couldn't get version/kind; json parse error: " + parsed.error().message());
    return Body{std::move(parsed->value), std::move(parsed->duplicateFields)};
  }
  if (ct == "application/yaml") {
    auto parsed = parseYaml(req.body);
    if (!parsed.ok()) return badRequest(parsed.error().message());
    return Body{std::move(*parsed), {}};
  }
  if (ct == "application/vnd.kubernetes.protobuf" && protobufAllowed) {
    auto decoded = protobuf::decodeObject(req.body, schema::builtinSchemas());
    if (!decoded.ok()) return std::move(decoded).error();
    return Body{std::move(decoded->object), {}};
  }
  return Error(ErrorCode::kUnsupportedMediaType,
               std::string("the body of the request was in an unknown format - accepted media types include: "
                           "application/json, application/yaml") +
                   (protobufAllowed ? ", application/vnd.kubernetes.protobuf" : ""));
}

Result<WriteOptions> writeOptions(const Query& q) {
  WriteOptions o;
  if (const std::string* d = queryValue(q, "dryRun")) {
    if (*d != "All") return badRequest("Invalid dryRun value: " + *d + ". Supported values: \"All\"");
    o.dryRun = true;
  }
  o.fieldManager = queryString(q, "fieldManager");
  std::string fv = queryString(q, "fieldValidation");
  std::string lower = toLower(fv);
  if (lower.empty() || lower == "warn") o.fieldValidation = FieldValidation::kWarn;
  else if (lower == "strict") o.fieldValidation = FieldValidation::kStrict;
  else if (lower == "ignore") o.fieldValidation = FieldValidation::kIgnore;
  else
    return badRequest("fieldValidation: Unsupported value: \"" + fv +
                      "\": supported values: \"Ignore\", \"Strict\", \"Warn\"");
  auto force = TRY(queryBool(q, "force"));
  o.force = force.value_or(false);
  return o;
}

Result<ListOptions> listOptions(const Query& q) {
  ListOptions o;
  o.labelSelector = queryString(q, "labelSelector");
  o.fieldSelector = queryString(q, "fieldSelector");
  o.limit = TRY(queryInt(q, "limit"));
  o.continueToken = queryString(q, "continue");
  o.resourceVersion = queryString(q, "resourceVersion");
  o.resourceVersionMatch = queryString(q, "resourceVersionMatch");
  o.allowWatchBookmarks = TRY(queryBool(q, "allowWatchBookmarks")).value_or(false);
  o.sendInitialEvents = TRY(queryBool(q, "sendInitialEvents"));
  o.timeoutSeconds = TRY(queryInt(q, "timeoutSeconds"));
  return o;
}

Result<DeleteOptions> deleteOptions(const Query& q, const std::string& body) {
  DeleteOptions o;
  Json b = Json::object();
  if (!trim(body).empty()) {
    auto parsed = parseJson(body);
    if (!parsed.ok()) return badRequest("couldn't decode DeleteOptions: " + parsed.error().message());
    if (!parsed->value.is_object()) return badRequest("DeleteOptions must be an object");
    b = std::move(parsed->value);
  }
  if (b.contains("gracePeriodSeconds") && b["gracePeriodSeconds"].is_number_integer())
    o.gracePeriodSeconds = b["gracePeriodSeconds"].get<int64_t>();
  if (queryValue(q, "gracePeriodSeconds")) o.gracePeriodSeconds = TRY(queryInt(q, "gracePeriodSeconds"));
  o.propagationPolicy = getString(b, "propagationPolicy");
  if (const std::string* p = queryValue(q, "propagationPolicy")) o.propagationPolicy = *p;
  if (b.contains("orphanDependents") && b["orphanDependents"].is_boolean())
    o.orphanDependents = b["orphanDependents"].get<bool>();
  if (auto od = TRY(queryBool(q, "orphanDependents"))) o.orphanDependents = od;
  if (const Json* pre = findMember(b, "preconditions"); pre && pre->is_object()) {
    if (pre->contains("uid") && (*pre)["uid"].is_string()) o.preconditionUid = (*pre)["uid"].get<std::string>();
    if (pre->contains("resourceVersion") && (*pre)["resourceVersion"].is_string())
      o.preconditionResourceVersion = (*pre)["resourceVersion"].get<std::string>();
  }
  if (const Json* d = findMember(b, "dryRun"); d && d->is_array() && !d->empty()) o.dryRun = true;
  if (const std::string* d = queryValue(q, "dryRun")) {
    if (*d != "All") return badRequest("Invalid dryRun value: " + *d + ". Supported values: \"All\"");
    o.dryRun = true;
  }
  return o;
}

IncludeObject includeObject(const Query& q) {
  std::string v = queryString(q, "includeObject");
  if (v == "None") return IncludeObject::kNone;
  if (v == "Object") return IncludeObject::kObject;
  return IncludeObject::kMetadata;
}

Json listMeta(int64_t revision, const std::string& cont, std::optional<int64_t> remaining) {
  Json m = {{"resourceVersion", std::to_string(revision)}};
  if (!cont.empty()) m["continue"] = cont;
  if (remaining) m["remainingItemCount"] = *remaining;
  return m;
}

void sendObject(http::ResponseWriter& resp, int status, const registry::ResourceType& type,
                const Json& obj, const Output& out, const RequestContext& ctx, const Query& q) {
  switch (out.format) {
    case Format::kTable: {
      if (obj.value("kind", "") == "Status") return sendJson(resp, status, obj, ctx);
      Json meta = {{"resourceVersion", obj.value("metadata", Json::object()).value("resourceVersion", "")}};
      std::vector<const Json*> objs{&obj};
      return sendJson(resp, status, renderTable(type, objs, includeObject(q), meta, true, out.metaVersion), ctx);
    }
    case Format::kPartial:
    case Format::kPartialList:
      return sendJson(resp, status, partialMetadata(type, obj, out.metaVersion), ctx);
    default:
      return sendJson(resp, status, obj, ctx, out.format);
  }
}

void sendList(http::ResponseWriter& resp, const registry::ResourceType& type, ListResult& list,
              const Output& out, const RequestContext& ctx, const Query& q) {
  Json meta = listMeta(list.revision, list.continueToken, list.remainingItemCount);
  if (out.format == Format::kTable) {
    std::vector<const Json*> objs;
    objs.reserve(list.items.size());
    for (const auto& o : list.items) objs.push_back(&o->object);
    return sendJson(resp, 200, renderTable(type, objs, includeObject(q), meta, true, out.metaVersion), ctx);
  }
  if (out.format == Format::kPartial || out.format == Format::kPartialList) {
    Json items = Json::array();
    for (const auto& o : list.items) items.push_back(partialMetadata(type, o->object, out.metaVersion));
    return sendJson(resp, 200,
                    {{"kind", "PartialObjectMetadataList"},
                     {"apiVersion", "meta.k8s.io/" + out.metaVersion},
                     {"metadata", meta},
                     {"items", items}},
                    ctx);
  }
  if (out.format == Format::kYaml) {
    Json items = Json::array();
    for (const auto& o : list.items) items.push_back(ResourceApi::toServed(type, o->object));
    return sendJson(resp, 200,
                    {{"kind", type.kind + "List"}, {"apiVersion", type.apiVersion()},
                     {"metadata", meta}, {"items", items}},
                    ctx, Format::kYaml);
  }
  // JSON: items are already serialised in the cache; concatenate them.
  std::string body;
  size_t total = 128;
  for (const auto& o : list.items) total += o->json.size() + 1;
  body.reserve(total);
  body += "{\"apiVersion\":";
  body += Json(type.apiVersion()).dump();
  body += ",\"items\":[";
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (i) body += ',';
    body += ResourceApi::servedJson(type, list.items[i]);
  }
  body += "],\"kind\":";
  body += Json(type.kind + "List").dump();
  body += ",\"metadata\":";
  body += dumpJson(meta);
  body += '}';
  resp.send(200, baseHeaders("application/json", ctx), body);
}

void serveWatch(http::ResponseWriter& resp, WatchStream& stream, const Output& out,
                const RequestContext& ctx, const Query& q) {
  const registry::ResourceType& type = stream.type();
  if (!resp.startStream(200, baseHeaders("application/json", ctx))) return;
  constexpr auto kBookmarkInterval = std::chrono::seconds(60);
  bool firstTable = true;
  std::vector<WatchEvent> events;
  auto encode = [&](const WatchEvent& e, std::string& buf) {
    buf += "{\"type\":\"";
    buf += watchEventTypeName(e.type);
    buf += "\",\"object\":";
    if (!e.object) {
      buf += dumpJson(e.special);
    } else if (out.format == Format::kTable) {
      std::vector<const Json*> objs{&e.object->object};
      Json meta = {{"resourceVersion", std::to_string(e.object->revision)}};
      buf += dumpJson(renderTable(type, objs, includeObject(q), meta, firstTable, out.metaVersion));
      firstTable = false;
    } else if (out.format == Format::kPartial || out.format == Format::kPartialList) {
      buf += dumpJson(partialMetadata(type, e.object->object, out.metaVersion));
    } else {
      buf += ResourceApi::servedJson(type, e.object);
    }
    buf += "}\n";
  };
  auto lastSend = std::chrono::steady_clock::now();
  for (;;) {
    events.clear();
    bool alive = stream.poll(events);
    if (!events.empty()) {
      std::string buf;
      for (const WatchEvent& e : events) {
        encode(e, buf);
        if (buf.size() > (1 << 20)) {
          if (!resp.write(buf)) return;
          buf.clear();
        }
      }
      if (!buf.empty() && !resp.write(buf)) return;
      lastSend = std::chrono::steady_clock::now();
    }
    if (!alive) break;
    auto now = std::chrono::steady_clock::now();
    if (now >= stream.deadline()) break;
    auto untilBookmark = lastSend + kBookmarkInterval - now;
    auto untilDeadline = stream.deadline() - now;
    auto wait = std::min<std::chrono::steady_clock::duration>(untilBookmark, untilDeadline);
    int waitMs = static_cast<int>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()));
    auto wake = resp.wait(stream.fd(), waitMs);
    if (wake == http::ResponseWriter::Wake::kClientGone) return;
    if (wake == http::ResponseWriter::Wake::kTimeout &&
        std::chrono::steady_clock::now() - lastSend >= kBookmarkInterval) {
      if (auto b = stream.bookmark()) {
        std::string buf;
        encode(*b, buf);
        if (!resp.write(buf)) return;
      }
      lastSend = std::chrono::steady_clock::now();
    }
  }
  resp.end();
}

}  // namespace

void HttpApi::handle(http::Request& req, http::ResponseWriter& resp) {
  auto started = std::chrono::steady_clock::now();
  RequestContext ctx;
  ctx.userAgent = std::string(req.header("User-Agent"));
  bool authenticated = req.peer.present;
  if (authenticated) {
    ctx.user = req.peer.commonName;
    ctx.groups = req.peer.organizations;
    ctx.groups.push_back("system:authenticated");
  } else {
    ctx.user = "system:anonymous";
    ctx.groups = {"system:unauthenticated"};
  }
  const std::string& path = req.path;
  std::vector<std::string> parts;
  for (std::string& p : split(path, '/'))
    if (!p.empty()) parts.push_back(std::move(p));

  auto finish = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started).count();
    log::v(3, "HTTP", {{"verb", req.method}, {"URI", req.target}, {"latency_us", ms},
                       {"userAgent", ctx.userAgent}, {"user", ctx.user}});
  };

  if (req.bodyTooLarge) {
    sendError(resp, Error(ErrorCode::kTooLarge, "Request entity too large: limit is 3145728"), ctx);
    return finish();
  }
  if (!parts.empty() && (parts[0] == "healthz" || parts[0] == "livez" || parts[0] == "readyz")) {
    bool ok = parts[0] != "readyz" || ready_;
    if (req.rawQuery.find("verbose") != std::string::npos) {
      sendText(resp, ok ? 200 : 500,
               std::string(ok ? "[+]ping ok\n[+]etcd ok\n" : "[+]ping ok\n[-]informer-sync failed\n") +
                   parts[0] + (ok ? " check passed\n" : " check failed\n"));
    } else {
      sendText(resp, ok ? 200 : 500, ok ? "ok" : "[-]informer-sync failed: not finished\n");
    }
    return finish();
  }
  if (parts.size() == 1 && parts[0] == "version") {
    sendJson(resp, 200, versionInfo(), ctx);
    return finish();
  }
  bool discoveryPath = !parts.empty() && (parts[0] == "api" || parts[0] == "apis") &&
                       (parts.size() <= (parts[0] == "api" ? 2u : 3u));
  if (!authenticated && !discoveryPath) {
    sendError(resp, Error(ErrorCode::kUnauthorized, "Unauthorized"), ctx);
    return finish();
  }
  if (parts.empty() || (parts[0] != "api" && parts[0] != "apis" && parts[0] != "openapi")) {
    sendText(resp, 404, "404 page not found\n");
    return finish();
  }
  if (parts[0] == "openapi") {
    if (parts.size() >= 2 && parts[1] == "v3") {
      if (parts.size() == 2) {
        sendJson(resp, 200, openapi_.index(), ctx);
      } else {
        std::string gv = join(std::vector<std::string>(parts.begin() + 2, parts.end()), "/");
        auto doc = openapi_.document(gv);
        if (!doc.ok()) {
          sendText(resp, 404, "404 page not found\n");
        } else {
          bool immutable = req.rawQuery.find("hash=" + doc->hash) != std::string::npos;
          resp.send(200,
                    {{"Content-Type", "application/json"},
                     {"Etag", "\"" + doc->hash + "\""},
                     {"Cache-Control", immutable ? "public, immutable" : "no-cache, private"}},
                    doc->json);
        }
      }
    } else if (parts.size() == 2 && parts[1] == "v2") {
      // /openapi/v2 (Swagger 2.0): gnostic protobuf for clients that ask for it (kubectl
      // 1.27-1.29 via client-go's OpenAPISchema), JSON otherwise.
      static openapiv2::DocumentCache v2Cache;
      auto doc = v2Cache.get(resources_.types().all());
      bool protobuf = false;
      for (const MediaRange& m : parseAccept(req.header("Accept"))) {
        if (m.type.starts_with("application/com.github.proto-openapi.spec.v2")) protobuf = true;
        if (protobuf || m.type == "application/json") break;
      }
      std::vector<http::Header> headers =
          baseHeaders(protobuf ? openapiv2::kProtobufContentType : "application/json", ctx);
      headers.push_back({"Etag", doc->etag});
      headers.push_back({"Vary", "Accept"});
      if (req.header("If-None-Match") == doc->etag) {
        resp.send(304, headers, "");
      } else {
        resp.send(200, headers, protobuf ? doc->protobuf : doc->json);
      }
    } else {
      sendText(resp, 404, "404 page not found\n");
    }
    return finish();
  }
  bool core = parts[0] == "api";
  if (discoveryPath) {
    if (req.method != "GET" && req.method != "HEAD") {
      sendError(resp, Error(ErrorCode::kMethodNotAllowed, "the server does not allow this method on the requested resource"), ctx);
      return finish();
    }
    std::string accept(req.header("Accept"));
    Result<Json> doc = Error(ErrorCode::kNotFound, "the server could not find the requested resource");
    std::string contentType = "application/json";
    if (parts.size() == 1) {
      std::string aggregatedVersion;
      for (const MediaRange& m : parseAccept(accept)) {
        auto as = m.params.find("as");
        auto g = m.params.find("g");
        auto v = m.params.find("v");
        if (as != m.params.end() && as->second == "APIGroupDiscoveryList" && g != m.params.end() &&
            g->second == "apidiscovery.k8s.io" && v != m.params.end() &&
            (v->second == "v2" || v->second == "v2beta1")) {
          aggregatedVersion = v->second;
          break;
        }
        if (as == m.params.end()) break;  // plain JSON preferred before any aggregated form
      }
      if (!aggregatedVersion.empty()) {
        doc = discovery_.aggregated(core, aggregatedVersion);
        contentType = "application/json;g=apidiscovery.k8s.io;v=" + aggregatedVersion +
                      ";as=APIGroupDiscoveryList";
      } else {
        doc = core ? discovery_.apiVersions() : discovery_.apiGroupList();
      }
    } else if (core) {
      doc = discovery_.resourceList("", parts[1]);
    } else if (parts.size() == 2) {
      doc = discovery_.apiGroup(parts[1]);
    } else {
      doc = discovery_.resourceList(parts[1], parts[2]);
    }
    if (!doc.ok()) {
      sendError(resp, doc.error(), ctx);
    } else {
      resp.send(200, baseHeaders(contentType.c_str(), ctx), dumpJson(*doc));
    }
    return finish();
  }
  handleResource(req, resp, ctx, parts, core);
  finish();
}

void HttpApi::handleResource(http::Request& req, http::ResponseWriter& resp, RequestContext& ctx,
                             std::vector<std::string>& parts, bool core) {
  auto fail = [&](const Error& e) { sendError(resp, e, ctx); };
  auto notFoundPath = [&] {
    fail(Error(ErrorCode::kNotFound, "the server could not find the requested resource"));
  };
  std::string group = core ? "" : parts[1];
  std::string version = core ? parts[1] : parts[2];
  std::vector<std::string> rest(parts.begin() + (core ? 2 : 3), parts.end());
  bool legacyWatch = false;
  if (!rest.empty() && rest[0] == "watch") {
    legacyWatch = true;
    rest.erase(rest.begin());
  }
  std::string ns, resource, name, subresource;
  if (rest.size() >= 2 && rest[0] == "namespaces") {
    if (rest.size() == 2 || (rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
      resource = "namespaces";
      name = rest[1];
      if (rest.size() == 3) subresource = rest[2];
    } else {
      ns = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  if (resource.empty()) {
    if (rest.empty() || rest.size() > 3) return notFoundPath();
    resource = rest[0];
    if (rest.size() >= 2) name = rest[1];
    if (rest.size() == 3) subresource = rest[2];
  }
  auto type = resources_.types().find(group, version, resource);
  if (!type) return notFoundPath();
  if (!type->namespaced && !ns.empty()) return notFoundPath();
  if (type->namespaced && ns.empty() && !(req.method == "GET" && name.empty()))
    return notFoundPath();
  if (nodeProxy_ != nullptr && core && resource == "pods" && !ns.empty() && !name.empty() &&
      NodeProxy::handles(subresource)) {
    return nodeProxy_->serve(req, resp, ctx, ns, name, subresource);
  }

  Query q = parseQuery(req.rawQuery);
  auto output = negotiate(req.header("Accept"));
  if (!output.ok()) return fail(output.error());
  const std::string& method = req.method;
  bool watch = legacyWatch;
  if (method == "GET") {
    auto w = queryBool(q, "watch");
    if (!w.ok()) return fail(w.error());
    if (w->value_or(false)) watch = true;
  }

  if (method == "GET" && (watch || name.empty())) {
    auto lo = listOptions(q);
    if (!lo.ok()) return fail(lo.error());
    if (!name.empty()) {
      if (!subresource.empty()) return notFoundPath();
      lo->fieldSelector = lo->fieldSelector.empty() ? "metadata.name=" + name
                                                    : lo->fieldSelector + ",metadata.name=" + name;
    }
    if (!type->hasVerb(watch ? "watch" : "list")) return fail(methodNotSupported(*type, watch ? "watch" : "list"));
    if (watch) {
      auto stream = resources_.watch(ctx, *type, ns, *lo);
      if (!stream.ok()) return fail(stream.error());
      return serveWatch(resp, **stream, *output, ctx, q);
    }
    auto list = resources_.list(ctx, *type, ns, *lo);
    if (!list.ok()) return fail(list.error());
    return sendList(resp, *type, *list, *output, ctx, q);
  }
  if (method == "GET") {
    GetOptions go{queryString(q, "resourceVersion")};
    auto obj = resources_.get(ctx, *type, ns, name, go, subresource);
    if (!obj.ok()) return fail(obj.error());
    return sendObject(resp, 200, *type, *obj, *output, ctx, q);
  }
  if (method == "POST") {
    if (!name.empty() && subresource.empty()) return fail(methodNotSupported(*type, "create"));
    if (!type->hasVerb("create") && subresource.empty()) return fail(methodNotSupported(*type, "create"));
    auto wo = writeOptions(q);
    if (!wo.ok()) return fail(wo.error());
    auto body = decodeBody(req, !type->isCustomResource);
    if (!body.ok()) return fail(body.error());
    auto r = resources_.create(ctx, *type, ns, std::move(*body), *wo, name, subresource);
    if (!r.ok()) return fail(r.error());
    return sendObject(resp, r->status, *type, r->object, *output, ctx, q);
  }
  if (method == "PUT") {
    if (name.empty()) return fail(methodNotSupported(*type, "update"));
    if (!type->hasVerb("update")) return fail(methodNotSupported(*type, "update"));
    auto wo = writeOptions(q);
    if (!wo.ok()) return fail(wo.error());
    auto body = decodeBody(req, !type->isCustomResource);
    if (!body.ok()) return fail(body.error());
    auto r = resources_.update(ctx, *type, ns, name, std::move(*body), *wo, subresource);
    if (!r.ok()) return fail(r.error());
    return sendObject(resp, r->status, *type, r->object, *output, ctx, q);
  }
  if (method == "PATCH") {
    if (name.empty()) return fail(methodNotSupported(*type, "patch"));
    if (!type->hasVerb("patch")) return fail(methodNotSupported(*type, "patch"));
    auto wo = writeOptions(q);
    if (!wo.ok()) return fail(wo.error());
    std::string ct(req.header("Content-Type"));
    ct = toLower(trim(ct.substr(0, ct.find(';'))));
    PatchType pt;
    if (ct == "application/json-patch+json") pt = PatchType::kJson;
    else if (ct == "application/merge-patch+json") pt = PatchType::kMerge;
    else if (ct == "application/strategic-merge-patch+json") pt = PatchType::kStrategic;
    else if (ct == "application/apply-patch+yaml") pt = PatchType::kApply;
    else
      return fail(Error(ErrorCode::kUnsupportedMediaType,
                        "the body of the request was in an unknown format - accepted media types "
                        "include: application/json-patch+json, application/merge-patch+json, "
                        "application/apply-patch+yaml" +
                            std::string(type->isCustomResource ? "" : ", application/strategic-merge-patch+json")));
    if (pt != PatchType::kApply && wo->force)
      return fail(badRequest("force: Invalid value: true: may not be specified for non-apply patch"));
    auto r = resources_.patch(ctx, *type, ns, name, pt, req.body, *wo, subresource);
    if (!r.ok()) return fail(r.error());
    return sendObject(resp, r->status, *type, r->object, *output, ctx, q);
  }
  if (method == "DELETE") {
    auto dopt = deleteOptions(q, req.body);
    if (!dopt.ok()) return fail(dopt.error());
    if (name.empty()) {
      if (!type->hasVerb("deletecollection")) return fail(methodNotSupported(*type, "deletecollection"));
      auto lo = listOptions(q);
      if (!lo.ok()) return fail(lo.error());
      auto r = resources_.removeCollection(ctx, *type, ns, *lo, *dopt);
      if (!r.ok()) return fail(r.error());
      return sendJson(resp, 200, *r, ctx, output->format == Format::kYaml ? Format::kYaml : Format::kJson);
    }
    if (!subresource.empty()) return notFoundPath();
    if (!type->hasVerb("delete")) return fail(methodNotSupported(*type, "delete"));
    auto r = resources_.remove(ctx, *type, ns, name, *dopt);
    if (!r.ok()) return fail(r.error());
    return sendObject(resp, r->status, *type, r->object, *output, ctx, q);
  }
  fail(Error(ErrorCode::kMethodNotAllowed, "the server does not allow this method on the requested resource"));
}

}  // namespace nave::api
