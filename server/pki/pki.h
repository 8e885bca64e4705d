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

struct ServerPki {
  KeyPair ca;           // self-signed cluster CA
  KeyPair serving;      // the API server's certificate, signed by ca
  KeyPair adminClient;  // CN=system:admin, O=system:masters, signed by ca
};

// Loads the PKI from `dir`, creating what is missing: the CA (10 years) on first start, the
// admin client certificate (1 year), and the serving certificate (1 year) for the given SANs
// (DNS names and IP addresses, mixed; duplicates ignored). The serving certificate is
// re-issued when a SAN is missing from it or it expires within 90 days. Files are
// `dir/{ca,serving,admin}.{crt,key}`; keys are written 0600 and atomically (temp + rename).
Result<ServerPki> ensureServerPki(const std::string& dir, const std::vector<std::string>& sans);

// Issues a client certificate signed by `ca`: CN=commonName, one O per organization.
Result<KeyPair> issueClientCertificate(const KeyPair& ca, const std::string& commonName,
                                       const std::vector<std::string>& organizations, int days);

// Writes a kubeconfig (cluster "default", user "default", context "default") for `serverUrl`
// with the CA and client certificate embedded (base64), atomically, with `mode`. Creates
// missing parent directories (0755).
Result<void> writeKubeconfig(const std::string& path, unsigned mode, const std::string& serverUrl,
                             const std::string& caPem, const KeyPair& client);

// Addresses of this machine's interfaces (IPv4 and IPv6, without loopback), for SANs.
std::vector<std::string> localAddresses();

}  // namespace nave::pki
