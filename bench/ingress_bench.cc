// The ingress proxy alone, with one static route, for bench/ingress_bench.sh (no cluster):
//   ingress_bench --port 8083 --backend 127.0.0.1:8081 [--threads N]
//                 [--https-port 8443 --cert cert.pem --key key.pem]
// Every request, whatever its host and path, goes to the backend. Runs until SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "network/ingress/proxy.h"

int main(int argc, char** argv) {
  using namespace nave::ingress;
  ProxyOptions o;
  o.httpsPort = -1;
  std::string backend = "127.0.0.1:8081";
  std::string certFile, keyFile;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--port") {
      o.httpPort = std::stoi(argv[i + 1]);
    } else if (flag == "--backend") {
      backend = argv[i + 1];
    } else if (flag == "--https-port") {
      o.httpsPort = std::stoi(argv[i + 1]);
    } else if (flag == "--cert") {
      certFile = argv[i + 1];
    } else if (flag == "--key") {
      keyFile = argv[i + 1];
    } else if (flag == "--threads") {
      o.threads = std::stoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  auto up = std::make_shared<Upstream>();
  up->name = backend;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  size_t colon = backend.rfind(':');
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(backend.substr(colon + 1))));
  if (colon == std::string::npos ||
      ::inet_pton(AF_INET, backend.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "bad --backend %s\n", backend.c_str());
    return 2;
  }
  up->endpoints.push_back(sa);
  auto table = std::make_shared<RouteTable>();
  table->addPath("", "/", PathType::kPrefix, up);
  table->finish();

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the loop threads inherit the mask
  std::shared_ptr<const CertificateStore> certs;
  if (o.httpsPort >= 0) {
    auto read = [](const std::string& path) {
      std::ifstream in(path);
      std::stringstream ss;
      ss << in.rdbuf();
      return ss.str();
    };
    auto store = CertificateStore::build({}, {read(certFile), read(keyFile)});
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.error().message().c_str());
      return 1;
    }
    certs = *store;
  }
  auto proxy = IngressProxy::start(o, certs);
  if (!proxy.ok()) {
    std::fprintf(stderr, "%s\n", proxy.error().message().c_str());
    return 1;
  }
  (*proxy)->update(table, nullptr);
  std::printf("listening on %d\n", (*proxy)->httpPort());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  (*proxy)->stop();
  return 0;
}
