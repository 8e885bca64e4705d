// The cluster's certificates: a CA, the API server's serving certificate, client certificates
// (the admin's, later agents'), and the kubeconfig that embeds them. OpenSSL 3.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace nave::pki {

struct KeyPair {
  std::string certPem;
  std::string keyPem;
};

// The identity of the API server's client certificate for kubelets (exec, attach,
// port-forward, logs), as k3s names it (client-kube-apiserver.crt). The node API accepts only
// this subject.
inline constexpr char kKubeletClientCommonName[] = "system:apiserver";
inline constexpr char kKubeletClientOrganization[] = "system:masters";

struct ServerPki {
  KeyPair ca;             // self-signed cluster CA
  KeyPair serving;        // the API server's certificate, signed by ca
  KeyPair adminClient;    // CN=system:admin, O=system:masters, signed by ca
  KeyPair kubeletClient;  // CN=system:apiserver, O=system:masters: the API server to kubelets
};

// Loads the PKI from `dir`, creating what is missing: the CA (10 years) on first start, the
// admin client certificate (1 year), and the serving certificate (1 year) for the given SANs
// (DNS names and IP addresses, mixed; duplicates ignored). The serving certificate is
// re-issued when a SAN is missing from it or it expires within 90 days. Files are
// `dir/{ca,serving,admin,client-kube-apiserver}.{crt,key}`; keys are written 0600 and
// atomically (temp + rename).
Result<ServerPki> ensureServerPki(const std::string& dir, const std::vector<std::string>& sans);

// Issues a client certificate signed by `ca`: CN=commonName, one O per organization.
Result<KeyPair> issueClientCertificate(const KeyPair& ca, const std::string& commonName,
                                       const std::vector<std::string>& organizations, int days);

// Issues a kubelet serving certificate signed by `ca` (k3s' serving-kubelet.crt): CN=nodeName,
// SANs nodeName, "localhost", 127.0.0.1 and `addresses` (IPs or DNS names). The API server
// checks the node's address against it.
Result<KeyPair> issueKubeletServingCertificate(const KeyPair& ca, const std::string& nodeName,
                                               const std::vector<std::string>& addresses,
                                               int days = 365);
// Loads `dir/serving-kubelet.{crt,key}`, issuing them again (as above) when missing, not
// signed by `ca`, expiring within 90 days or lacking one of the names.
Result<KeyPair> ensureKubeletServingCertificate(const std::string& dir, const KeyPair& ca,
                                                const std::string& nodeName,
                                                const std::vector<std::string>& addresses);

// Writes a kubeconfig (cluster "default", user "default", context "default") for `serverUrl`
// with the CA and client certificate embedded (base64), atomically, with `mode`. Creates
// missing parent directories (0755).
Result<void> writeKubeconfig(const std::string& path, unsigned mode, const std::string& serverUrl,
                             const std::string& caPem, const KeyPair& client);

// Addresses of this machine's interfaces (IPv4 and IPv6, without loopback), for SANs.
std::vector<std::string> localAddresses();
// This machine's host name, lower-cased ("localhost" when it has none): the default node
// name, and a SAN.
std::string hostName();

}  // namespace nave::pki
