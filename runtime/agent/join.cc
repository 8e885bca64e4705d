#include "runtime/agent/join.h"

#include <curl/curl.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "server/join_service.h"

namespace nave::agent {
namespace {

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Curl = std::unique_ptr<CURL, CurlFree>;
using Slist = std::unique_ptr<curl_slist, CurlFree>;

size_t appendBody(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * n > (1u << 20)) return 0;  // no answer here is near 1 MB
  body->append(data, size * n);
  return size * n;
}

// GET serverUrl+path. caPem empty: the server's certificate is not verified (only for
// /cacerts, whose answer is checked against the token instead).
Result<std::string> get(const JoinRequest& r, const std::string& path, const std::string& caPem,
                        const std::string& secret) {
  Curl c(curl_easy_init());
  if (!c) return Error(ErrorCode::kInternal, "curl initialisation failed");
  CURL* h = c.get();
  std::string url = r.serverUrl + path;
  std::string body;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 15L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "nave-agent");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  if (caPem.empty()) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_blob blob{const_cast<char*>(caPem.data()), caPem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  curl_slist* l = nullptr;
  if (!secret.empty()) {
    l = curl_slist_append(l, ("Authorization: Basic " + base64Encode("node:" + secret)).c_str());
    l = curl_slist_append(l, ("Nave-Node-Name: " + r.nodeName).c_str());
    l = curl_slist_append(l, ("Nave-Node-IP: " + join(r.nodeIps, ",")).c_str());
  }
  Slist headers(l);
  if (l) curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK)
    return Error(ErrorCode::kUnavailable, "GET " + url + ": " + curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status == 401)
    return Error(ErrorCode::kUnauthorized, "the server refused the token (401 Unauthorized)");
  if (status != 200)
    return Error(status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalid,
                 "GET " + url + ": HTTP " + std::to_string(status) + ": " + std::string(trim(body)));
  return body;
}

// Splits "CERT PEM...KEY PEM" as the server sends a certificate with its key.
Result<pki::KeyPair> splitPair(const std::string& pem) {
  auto key = pem.find("-----BEGIN ", pem.find("-----END CERTIFICATE-----"));
  if (pem.find("-----BEGIN CERTIFICATE-----") != 0 || key == std::string::npos)
    return Error(ErrorCode::kInvalid, "the server's answer is not a certificate and a key");
  return pki::KeyPair{pem.substr(0, key), pem.substr(key)};
}

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<void> save(const std::string& dir, const NodeCredentials& c) {
  TRY(writeFileAtomic(dir + "/server-ca.crt", c.caPem, 0644));
  TRY(writeFileAtomic(dir + "/client-kubelet.crt", c.client.certPem, 0644));
  TRY(writeFileAtomic(dir + "/client-kubelet.key", c.client.keyPem, 0600));
  TRY(writeFileAtomic(dir + "/serving-kubelet.crt", c.serving.certPem, 0644));
  TRY(writeFileAtomic(dir + "/serving-kubelet.key", c.serving.keyPem, 0600));
  TRY(writeFileAtomic(dir + "/cluster.json", c.settings.dump(), 0600));
  return {};
}

}  // namespace

Result<NodeCredentials> joinCluster(const JoinRequest& r) {
  ClusterToken token = TRY(parseClusterToken(r.token));
  if (!r.serverUrl.starts_with("https://"))
    return Error(ErrorCode::kInvalid, "--server must be an https:// URL, not \"" + r.serverUrl + "\"");
  NodeCredentials c;
  c.caPem = TRY(get(r, "/cacerts", "", ""));
  if (c.caPem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return Error(ErrorCode::kInvalid, "the server's /cacerts is not a PEM certificate");
  if (!token.caHash.empty() && sha256Hex(c.caPem) != token.caHash)
    return Error(ErrorCode::kConflict,
                 "token CA hash does not match the Cluster CA certificate hash: " + token.caHash +
                     " != " + sha256Hex(c.caPem));
  std::string settings = TRY(get(r, "/v1-nave/config", c.caPem, token.secret));
  auto parsed = parseJson(settings);
  if (!parsed.ok() || !parsed->value.is_object())
    return Error(ErrorCode::kInvalid, "the server's agent configuration is not a JSON object");
  c.settings = std::move(parsed->value);
  c.client = TRY(splitPair(TRY(get(r, "/v1-nave/client-kubelet.crt", c.caPem, token.secret))));
  c.serving = TRY(splitPair(TRY(get(r, "/v1-nave/serving-kubelet.crt", c.caPem, token.secret))));
  c.settings["nodeName"] = r.nodeName;
  if (auto saved = save(r.agentDir, c); !saved.ok())
    log::warning("keeping the node credentials failed", {{"error", saved.error().message()}});
  return c;
}

Result<NodeCredentials> savedCredentials(const std::string& agentDir, const std::string& tokenText,
                                         const std::string& nodeName) {
  ClusterToken token = TRY(parseClusterToken(tokenText));
  NodeCredentials c;
  c.caPem = readAll(agentDir + "/server-ca.crt");
  c.client = {readAll(agentDir + "/client-kubelet.crt"), readAll(agentDir + "/client-kubelet.key")};
  c.serving = {readAll(agentDir + "/serving-kubelet.crt"), readAll(agentDir + "/serving-kubelet.key")};
  auto settings = parseJson(readAll(agentDir + "/cluster.json"));
  if (c.caPem.empty() || c.client.keyPem.empty() || c.serving.keyPem.empty() || !settings.ok())
    return Error(ErrorCode::kNotFound, "no saved node credentials in " + agentDir);
  if (!token.caHash.empty() && sha256Hex(c.caPem) != token.caHash)
    return Error(ErrorCode::kNotFound, "the saved credentials are of another cluster");
  if (getString(settings->value, "nodeName") != nodeName && !getString(settings->value, "nodeName").empty())
    return Error(ErrorCode::kNotFound, "the saved credentials are of another node");
  c.settings = std::move(settings->value);
  return c;
}

}  // namespace nave::agent
