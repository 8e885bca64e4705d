// What the benchmarks that drive a real `nave server` share: its kubeconfig's TLS material,
// libcurl handles with the client certificate, one request, and a process's RSS.
#pragma once

#include <curl/curl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/json.h"
#include "common/strings.h"
#include "common/yaml.h"

namespace nave::bench {

struct Tls {
  std::string url, ca, cert, key;
};

// The first cluster and user of a kubeconfig; an empty url while the file is not complete yet
// (the server writes it while the caller polls).
inline Tls readKubeconfig(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  Tls t;
  auto kc = parseYaml(ss.str());
  if (!kc.ok() || !kc->is_object() || !(*kc)["clusters"].is_array() || !(*kc)["users"].is_array()) {
    return t;
  }
  const Json& cluster = (*kc)["clusters"][0]["cluster"];
  const Json& user = (*kc)["users"][0]["user"];
  t.url = cluster.value("server", "");
  base64Decode(cluster.value("certificate-authority-data", ""), t.ca);
  base64Decode(user.value("client-certificate-data", ""), t.cert);
  base64Decode(user.value("client-key-data", ""), t.key);
  return t;
}

// Appends to the std::string `out` points at (nothing when null).
inline size_t appendTo(char* d, size_t s, size_t n, void* out) {
  if (out) static_cast<std::string*>(out)->append(d, s * n);
  return s * n;
}

inline void setBlob(CURL* c, CURLoption o, const std::string& v) {
  curl_blob b{const_cast<char*>(v.data()), v.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, o, &b);
}

inline CURL* newHandle(const Tls& tls) {
  CURL* c = curl_easy_init();
  setBlob(c, CURLOPT_CAINFO_BLOB, tls.ca);
  setBlob(c, CURLOPT_SSLCERT_BLOB, tls.cert);
  setBlob(c, CURLOPT_SSLKEY_BLOB, tls.key);
  curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  return c;
}

// One request on a reusable handle; the HTTP status, or -1 when the transfer failed.
inline long request(CURL* c, const std::string& url, const char* method, const std::string& body,
                    std::string* out, curl_slist* headers) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &appendTo);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  if (!body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (curl_easy_perform(c) != CURLE_OK) return -1;
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

inline long rssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// CPU time (user + system) the process has used so far, in seconds.
inline double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {  // fields 14 and 15 (1-based) of stat(5)
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace nave::bench
