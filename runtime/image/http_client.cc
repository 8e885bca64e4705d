#include "runtime/image/http_client.h"

#include <curl/curl.h>

#include <mutex>

#include "common/strings.h"

namespace nave::runtime {
namespace {

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
};

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): forget the previous one's headers.
    t->response->headers.clear();
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos) t->response->status = std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers.emplace(toLower(trim(line.substr(0, colon))),
                                 std::string(trim(line.substr(colon + 1))));
  }
  return size * n;
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  HttpResponse& r = *t->response;
  if (t->request->sink && r.status >= 200 && r.status < 300) {
    if (!t->request->sink(data, len)) {
      r.aborted = true;
      return 0;
    }
    return len;
  }
  if (r.body.size() + len > t->request->maxBody) {
    r.bodyTooLarge = true;
    if (t->request->sink) {  // an error body: keep what fits, stop reading
      r.body.append(data, t->request->maxBody - r.body.size());
    }
    return 0;
  }
  r.body.append(data, len);
  return len;
}

}  // namespace

std::string HttpResponse::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? std::string() : it->second;
}

std::vector<std::string> HttpResponse::headerAll(const std::string& lowerName) const {
  std::vector<std::string> out;
  auto [b, e] = headers.equal_range(lowerName);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

HttpResponse httpRequest(const HttpRequest& request) {
  globalInit();
  HttpResponse response;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    response.error = "curl_easy_init failed";
    return response;
  }
  Transfer transfer{&request, &response};
  curl_slist* headers = nullptr;
  for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "nave/" NAVE_VERSION);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 byte/s for a minute) fails instead of hanging the pull.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.tls.caFile.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.tls.caFile.c_str());
  if (!request.tls.certFile.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, request.tls.certFile.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, request.tls.keyFile.c_str());
  }
  if (request.tls.insecureSkipVerify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  CURLcode rc = curl_easy_perform(curl);
  char* effective = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective) {
    response.effectiveUrl = effective;
  }
  if (rc != CURLE_OK) {
    bool complete = rc == CURLE_WRITE_ERROR && response.bodyTooLarge && request.sink;
    if (!complete) {
      response.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
      while (!response.error.empty() && response.error.back() == '\n') response.error.pop_back();
      response.connectFailed = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT ||
                               rc == CURLE_COULDNT_RESOLVE_PROXY;
      response.tlsFailed = rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
                           rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE;
      if (!response.aborted && !response.bodyTooLarge) response.status = 0;
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return response;
}

}  // namespace nave::runtime
