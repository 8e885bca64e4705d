#include "server/join_service.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"

namespace nave {
namespace {

constexpr std::string_view kPrefix = "/v1-nave/";

void sendText(http::ResponseWriter& resp, int status, std::string_view text) {
  resp.send(status, {{"Content-Type", "text/plain; charset=utf-8"}}, text);
}

bool validNodeName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return name.front() != '-' && name.front() != '.' && name.back() != '-' && name.back() != '.';
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<ClusterToken> parseClusterToken(std::string_view token) {
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
    token.remove_suffix(1);
  if (token.empty()) return Error(ErrorCode::kInvalid, "the token is empty");
  ClusterToken t;
  if (!token.starts_with("K10")) {
    t.secret = std::string(token);
    return t;
  }
  auto sep = token.find("::");
  if (sep == std::string_view::npos) return Error(ErrorCode::kInvalid, "malformed token: no '::' after the CA hash");
  t.caHash = std::string(token.substr(3, sep - 3));
  std::string_view creds = token.substr(sep + 2);
  auto colon = creds.find(':');
  t.secret = std::string(colon == std::string_view::npos ? creds : creds.substr(colon + 1));
  if (t.caHash.size() != 64 || t.caHash.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Error(ErrorCode::kInvalid, "malformed token: the CA hash is not a hex SHA-256");
  if (t.secret.empty()) return Error(ErrorCode::kInvalid, "malformed token: no secret");
  return t;
}

std::string secureToken(const std::string& caPem, const std::string& secret) {
  return "K10" + sha256Hex(caPem) + "::server:" + secret;
}

Result<std::string> ensureClusterToken(const std::string& dir, const std::string& given,
                                       const std::string& caPem) {
  std::string path = dir + "/token";
  std::string secret;
  if (!given.empty()) {
    ClusterToken t = TRY(parseClusterToken(given));
    if (!t.caHash.empty() && t.caHash != sha256Hex(caPem))
      return Error(ErrorCode::kInvalid, "--token names another cluster CA than this server's");
    secret = t.secret;
  } else {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) {
      if (auto t = parseClusterToken(line); t.ok()) secret = t->secret;
    }
  }
  if (secret.empty()) {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return Error(ErrorCode::kInternal, "no randomness for the token");
    static const char* kHex = "0123456789abcdef";
    for (unsigned char c : raw) {
      secret += kHex[c >> 4];
      secret += kHex[c & 15];
    }
  }
  TRY(writeFileAtomic(path, secureToken(caPem, secret) + "\n", 0600));
  return secret;
}

bool JoinService::authorized(const http::Request& request) const {
  std::string_view auth = request.header("Authorization");
  if (!auth.starts_with("Basic ")) return false;
  std::string decoded;
  if (!base64Decode(auth.substr(6), decoded)) return false;
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  std::string password = decoded.substr(colon + 1);
  return password.size() == secret_.size() &&
         CRYPTO_memcmp(password.data(), secret_.data(), secret_.size()) == 0;
}

bool JoinService::handle(http::Request& request, http::ResponseWriter& response) {
  const std::string& path = request.path;
  if (path == "/cacerts") {
    if (request.method != "GET") sendText(response, 405, "method not allowed\n");
    else response.send(200, {{"Content-Type", "application/x-pem-file"}}, ca_.certPem);
    return true;
  }
  if (!path.starts_with(kPrefix)) return false;
  std::string what = path.substr(kPrefix.size());
  if (request.method != "GET") {
    sendText(response, 405, "method not allowed\n");
    return true;
  }
  if (!authorized(request)) {
    log::warning("a join request with a wrong token was refused",
                 {{"path", path}, {"remote", request.remoteAddress}});
    response.send(401, {{"Content-Type", "text/plain; charset=utf-8"},
                        {"WWW-Authenticate", "Basic realm=\"nave\""}},
                  "Unauthorized\n");
    return true;
  }
  if (what == "config") {
    response.send(200, {{"Content-Type", "application/json"}}, settings_.dump());
    return true;
  }
  std::string node(request.header("Nave-Node-Name"));
  if (what != "client-kubelet.crt" && what != "serving-kubelet.crt") {
    sendText(response, 404, "404 page not found\n");
    return true;
  }
  if (!validNodeName(node)) {
    sendText(response, 400, "the Nave-Node-Name header must be a valid node name\n");
    return true;
  }
  Result<pki::KeyPair> issued = Error(ErrorCode::kInternal, "");
  if (what == "client-kubelet.crt") {
    issued = pki::issueClientCertificate(ca_, "system:node:" + node, {"system:nodes"}, 365);
  } else {
    std::vector<std::string> addresses;
    for (std::string& a : split(std::string(request.header("Nave-Node-IP")), ','))
      if (!a.empty()) addresses.push_back(std::move(a));
    issued = pki::issueKubeletServingCertificate(ca_, node, addresses);
  }
  if (!issued.ok()) {
    log::error("issuing a node certificate failed", {{"node", node}, {"error", issued.error().message()}});
    sendText(response, 500, "issuing the certificate failed\n");
    return true;
  }
  log::info("Issued a node certificate", {{"node", node}, {"kind", what}, {"remote", request.remoteAddress}});
  response.send(200, {{"Content-Type", "application/x-pem-file"}}, issued->certPem + issued->keyPem);
  return true;
}

}  // namespace nave
