#include "server/pki/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>

#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/yaml.h"
#include "server/pki/x509.h"

namespace nave::pki {
namespace {

constexpr int kCaDays = 3650;
constexpr int kLeafDays = 365;
constexpr int kRenewWithinDays = 90;
constexpr size_t kMaxPemFile = 1024 * 1024;
constexpr char kAdminUser[] = "system:admin";
constexpr char kAdminGroup[] = "system:masters";
constexpr char kServingName[] = "kube-apiserver";
constexpr char kKubeletClientFile[] = "client-kube-apiserver";
constexpr char kKubeletServingFile[] = "serving-kubelet";

std::string parentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p: creates missing components with `mode`; existing ones are left as they are.
Result<void> makeDirectories(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return Error::fromErrno("create directory " + prefix, errno);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::fromErrno("stat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Error(ErrorCode::kInvalid, path + " is not a directory");
  return {};
}

// The file's content, or nullopt if it does not exist.
Result<std::optional<std::string>> readOptionalFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Error::fromErrno("open " + path, errno);
  }
  std::string data;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read " + path, errno);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
    if (data.size() > kMaxPemFile) return Error(ErrorCode::kInvalid, path + " is too large");
  }
  return std::optional<std::string>(std::move(data));
}

// Writes `data` to a temporary file beside `path`, syncs it and renames it over `path`, so
// readers see the old content or the new, never a mix, even across a crash.
Result<void> writeFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  std::string dir = parentOf(path);
  std::string base = path.substr(path.find_last_of('/') + 1);
  std::string temp = dir + "/." + base + ".tmpXXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return Error::fromErrno("create temporary file for " + path, errno);
  auto fail = [&](std::string_view what) {
    Error e = Error::fromErrno(what, errno);
    ::unlink(temp.c_str());
    return std::move(e).context(path);
  };
  if (::fchmod(fd.get(), mode) != 0) return fail("chmod");
  size_t offset = 0;
  while (offset < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + offset, data.size() - offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    offset += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("fsync");
  fd.reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail("rename");
  // The rename itself is durable only once the directory is synced.
  UniqueFd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirFd) ::fsync(dirFd.get());
  return {};
}

struct LoadedPair {
  X509Ptr cert;
  PkeyPtr key;
  KeyPair pem;
};

std::string certPath(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name) + ".crt";
}
std::string keyPath(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name) + ".key";
}

// A stored certificate and key that parse and belong together; nullopt if either is missing
// or unusable (a leaf is then simply issued again).
Result<std::optional<LoadedPair>> loadPair(const std::string& dir, std::string_view name) {
  auto certPem = TRY(readOptionalFile(certPath(dir, name)));
  auto keyPem = TRY(readOptionalFile(keyPath(dir, name)));
  if (!certPem || !keyPem) return std::optional<LoadedPair>();
  auto cert = parseCertificatePem(*certPem);
  auto key = parsePrivateKeyPem(*keyPem);
  if (!cert.ok() || !key.ok() || X509_check_private_key(cert->get(), key->get()) != 1) {
    log::warning("stored certificate is unusable; issuing a new one",
                 {{"certificate", certPath(dir, name)}});
    return std::optional<LoadedPair>();
  }
  return std::optional<LoadedPair>(LoadedPair{std::move(*cert), std::move(*key),
                                              KeyPair{std::move(*certPem), std::move(*keyPem)}});
}

// The key goes first: a crash between the two writes leaves a certificate that does not match
// its key, which loadPair() treats as missing.
Result<void> storePair(const std::string& dir, std::string_view name, const KeyPair& pair) {
  TRY(writeFileAtomic(keyPath(dir, name), pair.keyPem, 0600));
  TRY(writeFileAtomic(certPath(dir, name), pair.certPem, 0644));
  return {};
}

Result<LoadedPair> issuePair(const CertificateSpec& spec, X509* caCert, EVP_PKEY* caKey) {
  PkeyPtr key = TRY(generateKey());
  X509Ptr cert = TRY(issueCertificate(spec, key.get(), caCert, caKey));
  KeyPair pem{certificatePem(cert.get()), privateKeyPem(key.get())};
  return LoadedPair{std::move(cert), std::move(key), std::move(pem)};
}

Result<LoadedPair> ensureCa(const std::string& dir) {
  auto certPem = TRY(readOptionalFile(certPath(dir, "ca")));
  if (!certPem) {
    CertificateSpec spec;
    spec.usage = CertificateUsage::kCa;
    spec.commonName = "nave-ca@" + std::to_string(::time(nullptr));
    spec.days = kCaDays;
    LoadedPair ca = TRY(issuePair(spec, nullptr, nullptr));
    TRY(storePair(dir, "ca", ca.pem));
    log::info("created the cluster CA", {{"certificate", certPath(dir, "ca")}});
    return ca;
  }
  // Everything else was signed by this CA: a damaged one is reported, never replaced.
  auto keyPem = TRY(readOptionalFile(keyPath(dir, "ca")));
  if (!keyPem) {
    return Error(ErrorCode::kInternal, keyPath(dir, "ca") +
                                           " is missing; it is needed to sign "
                                           "certificates for " +
                                           certPath(dir, "ca"));
  }
  auto cert = parseCertificatePem(*certPem);
  if (!cert.ok()) return std::move(cert).error().context(certPath(dir, "ca"));
  auto key = parsePrivateKeyPem(*keyPem);
  if (!key.ok()) return std::move(key).error().context(keyPath(dir, "ca"));
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return Error(ErrorCode::kInternal,
                 keyPath(dir, "ca") + " does not match " + certPath(dir, "ca"));
  }
  return LoadedPair{std::move(*cert), std::move(*key), KeyPair{*certPem, *keyPem}};
}

bool isCurrentLeaf(const LoadedPair& leaf, const LoadedPair& ca) {
  return isSignedBy(leaf.cert.get(), ca.cert.get()) &&
         !expiresWithin(leaf.cert.get(), kRenewWithinDays);
}

}  // namespace

Result<ServerPki> ensureServerPki(const std::string& dir, const std::vector<std::string>& sans) {
  TRY(makeDirectories(dir, 0700));
  std::vector<SubjectAltName> names = TRY(parseSubjectAltNames(sans));
  LoadedPair ca = TRY(ensureCa(dir));

  auto serving = TRY(loadPair(dir, "serving"));
  if (!serving || !isCurrentLeaf(*serving, ca) || !hasSubjectAltNames(serving->cert.get(), names)) {
    CertificateSpec spec;
    spec.usage = CertificateUsage::kServing;
    spec.commonName = kServingName;
    spec.sans = names;
    spec.days = kLeafDays;
    serving = TRY(issuePair(spec, ca.cert.get(), ca.key.get()));
    TRY(storePair(dir, "serving", serving->pem));
    log::info("issued the API server's serving certificate",
              {{"certificate", certPath(dir, "serving")}, {"sans", join(sans, ",")}});
  }

  auto admin = TRY(loadPair(dir, "admin"));
  if (!admin || !isCurrentLeaf(*admin, ca) || subjectCommonName(admin->cert.get()) != kAdminUser ||
      subjectOrganizations(admin->cert.get()) != std::vector<std::string>{kAdminGroup}) {
    admin.emplace(TRY(issuePair(
        CertificateSpec{CertificateUsage::kClient, kAdminUser, {kAdminGroup}, {}, kLeafDays},
        ca.cert.get(), ca.key.get())));
    TRY(storePair(dir, "admin", admin->pem));
    log::info("issued the admin client certificate", {{"certificate", certPath(dir, "admin")}});
  }
  auto kubeletClient = TRY(loadPair(dir, kKubeletClientFile));
  if (!kubeletClient || !isCurrentLeaf(*kubeletClient, ca) ||
      subjectCommonName(kubeletClient->cert.get()) != kKubeletClientCommonName ||
      subjectOrganizations(kubeletClient->cert.get()) !=
          std::vector<std::string>{kKubeletClientOrganization}) {
    kubeletClient.emplace(TRY(issuePair(CertificateSpec{CertificateUsage::kClient,
                                                        kKubeletClientCommonName,
                                                        {kKubeletClientOrganization},
                                                        {},
                                                        kLeafDays},
                                        ca.cert.get(), ca.key.get())));
    TRY(storePair(dir, kKubeletClientFile, kubeletClient->pem));
    log::info("issued the API server's kubelet client certificate",
              {{"certificate", certPath(dir, kKubeletClientFile)}});
  }
  return ServerPki{std::move(ca.pem), std::move(serving->pem), std::move(admin->pem),
                   std::move(kubeletClient->pem)};
}

namespace {
std::vector<std::string> kubeletSans(const std::string& nodeName,
                                     const std::vector<std::string>& addresses) {
  std::vector<std::string> sans = {nodeName, "localhost", "127.0.0.1"};
  sans.insert(sans.end(), addresses.begin(), addresses.end());
  return sans;
}
}  // namespace

Result<KeyPair> issueKubeletServingCertificate(const KeyPair& ca, const std::string& nodeName,
                                               const std::vector<std::string>& addresses,
                                               int days) {
  if (nodeName.empty()) return Error(ErrorCode::kInvalid, "kubelet certificate: empty node name");
  if (days <= 0) return Error(ErrorCode::kInvalid, "kubelet certificate: days must be positive");
  X509Ptr caCert = TRY(parseCertificatePem(ca.certPem));
  PkeyPtr caKey = TRY(parsePrivateKeyPem(ca.keyPem));
  CertificateSpec spec;
  spec.usage = CertificateUsage::kServing;
  spec.commonName = nodeName;
  spec.sans = TRY(parseSubjectAltNames(kubeletSans(nodeName, addresses)));
  spec.days = days;
  LoadedPair pair = TRY(issuePair(spec, caCert.get(), caKey.get()));
  return std::move(pair.pem);
}

Result<KeyPair> ensureKubeletServingCertificate(const std::string& dir, const KeyPair& ca,
                                                const std::string& nodeName,
                                                const std::vector<std::string>& addresses) {
  TRY(makeDirectories(dir, 0700));
  std::vector<SubjectAltName> names = TRY(parseSubjectAltNames(kubeletSans(nodeName, addresses)));
  X509Ptr caCert = TRY(parseCertificatePem(ca.certPem));
  auto current = TRY(loadPair(dir, kKubeletServingFile));
  if (current && isSignedBy(current->cert.get(), caCert.get()) &&
      !expiresWithin(current->cert.get(), kRenewWithinDays) &&
      hasSubjectAltNames(current->cert.get(), names) &&
      subjectCommonName(current->cert.get()) == nodeName) {
    return std::move(current->pem);
  }
  KeyPair issued = TRY(issueKubeletServingCertificate(ca, nodeName, addresses, kLeafDays));
  TRY(storePair(dir, kKubeletServingFile, issued));
  log::info("issued the kubelet serving certificate",
            {{"certificate", certPath(dir, kKubeletServingFile)}, {"node", nodeName}});
  return issued;
}

Result<KeyPair> issueClientCertificate(const KeyPair& ca, const std::string& commonName,
                                       const std::vector<std::string>& organizations, int days) {
  if (commonName.empty())
    return Error(ErrorCode::kInvalid, "client certificate: empty common name");
  if (days <= 0) return Error(ErrorCode::kInvalid, "client certificate: days must be positive");
  X509Ptr caCert = TRY(parseCertificatePem(ca.certPem));
  PkeyPtr caKey = TRY(parsePrivateKeyPem(ca.keyPem));
  CertificateSpec spec{CertificateUsage::kClient, commonName, organizations, {}, days};
  LoadedPair pair = TRY(issuePair(spec, caCert.get(), caKey.get()));
  return std::move(pair.pem);
}

Result<void> writeKubeconfig(const std::string& path, unsigned mode, const std::string& serverUrl,
                             const std::string& caPem, const KeyPair& client) {
  if (path.empty()) return Error(ErrorCode::kInvalid, "kubeconfig: empty path");
  TRY(makeDirectories(parentOf(path), 0755));
  Json config = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", Json::array({{{"name", "default"},
                                 {"cluster",
                                  {{"server", serverUrl},
                                   {"certificate-authority-data", base64Encode(caPem)}}}}})},
      {"contexts", Json::array({{{"name", "default"},
                                 {"context", {{"cluster", "default"}, {"user", "default"}}}}})},
      {"current-context", "default"},
      {"preferences", Json::object()},
      {"users", Json::array({{{"name", "default"},
                              {"user",
                               {{"client-certificate-data", base64Encode(client.certPem)},
                                {"client-key-data", base64Encode(client.keyPem)}}}}})},
  };
  return writeFileAtomic(path, dumpYaml(config), mode);
}

std::string hostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return toLower(buf);
}

std::vector<std::string> localAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    log::warning("getifaddrs failed", {{"error", Error::fromErrno("getifaddrs", errno).message()}});
    return out;
  }
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || (ifa->ifa_flags & IFF_LOOPBACK) != 0 ||
        (ifa->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    char text[INET6_ADDRSTRLEN] = "";
    if (ifa->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ifa->ifa_addr)->sin_addr, text,
                sizeof text);
    } else if (ifa->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& a = reinterpret_cast<sockaddr_in6*>(ifa->ifa_addr)->sin6_addr;
      // Link-local addresses only mean something with a zone, which a SAN cannot carry.
      if (IN6_IS_ADDR_LINKLOCAL(&a)) continue;
      inet_ntop(AF_INET6, &a, text, sizeof text);
    } else {
      continue;
    }
    if (text[0] != '\0' && std::find(out.begin(), out.end(), text) == out.end()) {
      out.emplace_back(text);
    }
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace nave::pki
