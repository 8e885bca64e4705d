// The PKI end to end: the API server's TLS set up from ensureServerPki(), reached with the
// credentials of the kubeconfig it writes, through libcurl (which checks the SANs as clients do).
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "common/yaml.h"
#include "server/http/http_server.h"
#include "server/pki/pki.h"

namespace nave::pki {
namespace {

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct KubeconfigCredentials {
  std::string server, ca, cert, key;
};

KubeconfigCredentials readKubeconfig(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = parseYaml(ss.str());
  EXPECT_TRUE(doc.ok());
  KubeconfigCredentials c;
  if (!doc.ok()) return c;
  const Json& cluster = (*doc)["clusters"][0]["cluster"];
  const Json& user = (*doc)["users"][0]["user"];
  c.server = cluster["server"].get<std::string>();
  EXPECT_TRUE(base64Decode(cluster["certificate-authority-data"].get<std::string>(), c.ca));
  EXPECT_TRUE(base64Decode(user["client-certificate-data"].get<std::string>(), c.cert));
  EXPECT_TRUE(base64Decode(user["client-key-data"].get<std::string>(), c.key));
  return c;
}

// GETs `url` as a kubeconfig user would; `host` is resolved to 127.0.0.1.
CURLcode fetch(const KubeconfigCredentials& k, const std::string& host, int port,
               bool withClientCert, std::string& body) {
  CURL* curl = curl_easy_init();
  std::string url = "https://" + host + ":" + std::to_string(port) + "/whoami";
  std::string resolve = host + ":" + std::to_string(port) + ":127.0.0.1";
  curl_slist* resolves = curl_slist_append(nullptr, resolve.c_str());
  curl_blob ca{const_cast<char*>(k.ca.data()), k.ca.size(), CURL_BLOB_COPY};
  curl_blob cert{const_cast<char*>(k.cert.data()), k.cert.size(), CURL_BLOB_COPY};
  curl_blob key{const_cast<char*>(k.key.data()), k.key.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_RESOLVE, resolves);
  curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  if (withClientCert) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  curl_slist_free_all(resolves);
  return rc;
}

TEST(PkiWithHttpServer, KubeconfigCredentialsAuthenticateAsTheAdmin) {
  char tmpl[] = "/tmp/nave-pki-http-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;

  auto pki = ensureServerPki(root + "/tls", {"localhost", "127.0.0.1", "kubernetes"});
  ASSERT_TRUE(pki.ok()) << pki.error().message();
  http::ServerOptions options;
  options.bindAddress = "127.0.0.1";
  options.certPem = pki->serving.certPem;
  options.keyPem = pki->serving.keyPem;
  options.clientCaPem = pki->ca.certPem;
  auto server = http::HttpServer::start(options, [](http::Request& req, http::ResponseWriter& w) {
    std::string groups = join(req.peer.organizations, ",");
    w.send(200, {},
           req.peer.present ? "user=" + req.peer.commonName + " groups=" + groups
                            : std::string("anonymous"));
  });
  ASSERT_TRUE(server.ok()) << server.error().message();
  int port = (*server)->port();

  std::string kubeconfig = root + "/kube/config";
  ASSERT_TRUE(writeKubeconfig(kubeconfig, 0600, "https://127.0.0.1:" + std::to_string(port),
                              pki->ca.certPem, pki->adminClient)
                  .ok());
  KubeconfigCredentials k = readKubeconfig(kubeconfig);
  EXPECT_EQ(k.server, "https://127.0.0.1:" + std::to_string(port));

  for (const char* host : {"127.0.0.1", "localhost", "kubernetes"}) {
    std::string body;
    ASSERT_EQ(fetch(k, host, port, true, body), CURLE_OK) << host;
    EXPECT_EQ(body, "user=system:admin groups=system:masters") << host;
  }
  std::string body;
  ASSERT_EQ(fetch(k, "localhost", port, false, body), CURLE_OK);
  EXPECT_EQ(body, "anonymous");
  // A name that is not among the SANs fails verification.
  body.clear();
  EXPECT_EQ(fetch(k, "elsewhere.example", port, true, body), CURLE_PEER_FAILED_VERIFICATION);

  (*server)->stop();
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace nave::pki
