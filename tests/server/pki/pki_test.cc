#include "server/pki/pki.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "common/yaml.h"
#include "server/pki/x509.h"

namespace nave::pki {
namespace {

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    oldUmask_ = ::umask(022);  // the modes asserted below are those of a usual umask
    char tmpl[] = "/tmp/nave-pki-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/server/tls";
  }
  void TearDown() override {
    std::filesystem::remove_all(root_);
    ::umask(oldUmask_);
  }

  static std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static unsigned modeOf(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
  }
  static ino_t inodeOf(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_ino;
  }

  std::string root_;
  std::string dir_;
  mode_t oldUmask_ = 022;
};

X509Ptr cert(const std::string& pem) {
  auto c = parseCertificatePem(pem);
  EXPECT_TRUE(c.ok());
  return c.ok() ? std::move(*c) : nullptr;
}

// Verifies `leafPem` against `caPem` for `purpose` (X509_PURPOSE_SSL_SERVER/CLIENT); returns
// X509_V_OK or the verification error.
int verify(const std::string& leafPem, const std::string& caPem, int purpose) {
  X509Ptr leaf = cert(leafPem), ca = cert(caPem);
  if (!leaf || !ca) return -1;
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return result;
}

std::vector<std::string> sansOf(X509* c) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(c, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.push_back(
          "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName))));
    } else if (n->type == GEN_IPADD) {
      char text[INET6_ADDRSTRLEN];
      int len = ASN1_STRING_length(n->d.iPAddress);
      inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), text,
                sizeof text);
      out.push_back("IP:" + std::string(text));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

TEST_F(PkiTest, CreatesACaAndCertificatesThatVerifyAgainstIt) {
  auto pki = ensureServerPki(dir_, {"localhost", "127.0.0.1", "::1", "Node-1.Example.com",
                                    "127.0.0.1", " ", "kubernetes.default.svc"});
  ASSERT_TRUE(pki.ok()) << pki.error().message();

  X509Ptr ca = cert(pki->ca.certPem);
  ASSERT_TRUE(ca);
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_NE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_NE(X509_get_key_usage(ca.get()) & KU_CRL_SIGN, 0u);
  EXPECT_FALSE(expiresWithin(ca.get(), 9 * 365));  // about ten years
  EXPECT_TRUE(expiresWithin(ca.get(), 11 * 365));
  EXPECT_EQ(verify(pki->ca.certPem, pki->ca.certPem, X509_PURPOSE_ANY), X509_V_OK);

  EXPECT_EQ(verify(pki->serving.certPem, pki->ca.certPem, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(verify(pki->adminClient.certPem, pki->ca.certPem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  // Each for its purpose only.
  EXPECT_NE(verify(pki->serving.certPem, pki->ca.certPem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(verify(pki->adminClient.certPem, pki->ca.certPem, X509_PURPOSE_SSL_SERVER), X509_V_OK);

  X509Ptr serving = cert(pki->serving.certPem);
  ASSERT_TRUE(serving);
  EXPECT_EQ(X509_check_ca(serving.get()), 0);
  EXPECT_EQ(sansOf(serving.get()),
            (std::vector<std::string>{"DNS:localhost", "IP:127.0.0.1", "IP:::1",
                                      "DNS:node-1.example.com", "DNS:kubernetes.default.svc"}));
  EXPECT_EQ(X509_check_host(serving.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(serving.get(), "127.0.0.1", 0), 1);
  EXPECT_FALSE(expiresWithin(serving.get(), 300));
  EXPECT_TRUE(expiresWithin(serving.get(), 400));

  X509Ptr admin = cert(pki->adminClient.certPem);
  ASSERT_TRUE(admin);
  EXPECT_EQ(subjectCommonName(admin.get()), "system:admin");
  EXPECT_EQ(subjectOrganizations(admin.get()), std::vector<std::string>{"system:masters"});

  // Serial numbers are random, not counters.
  ASN1_INTEGER* s1 = X509_get_serialNumber(serving.get());
  ASN1_INTEGER* s2 = X509_get_serialNumber(admin.get());
  EXPECT_NE(ASN1_INTEGER_cmp(s1, s2), 0);
  EXPECT_GE(ASN1_STRING_length(s1), 15);

  // The files are what was returned; keys are private.
  EXPECT_EQ(readFile(dir_ + "/ca.crt"), pki->ca.certPem);
  EXPECT_EQ(readFile(dir_ + "/serving.key"), pki->serving.keyPem);
  EXPECT_EQ(readFile(dir_ + "/admin.crt"), pki->adminClient.certPem);
  for (const char* name : {"ca", "serving", "admin"}) {
    EXPECT_EQ(modeOf(dir_ + "/" + name + ".key"), 0600u) << name;
    EXPECT_EQ(modeOf(dir_ + "/" + name + ".crt"), 0644u) << name;
  }
  EXPECT_EQ(modeOf(dir_), 0700u);
  // No temporary files are left behind.
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 8);  // ca, serving, admin and the kubelet-client pair
  // The key is an ECDSA P-256 key.
  auto key = parsePrivateKeyPem(pki->serving.keyPem);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(EVP_PKEY_get_base_id(key->get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key->get()), 256);
}

TEST_F(PkiTest, ReloadingKeepsEverythingAsItIs) {
  auto first = ensureServerPki(dir_, {"localhost", "10.0.0.1"});
  ASSERT_TRUE(first.ok());
  ino_t servingInode = inodeOf(dir_ + "/serving.crt");
  // Same SANs in another order and spelling: nothing to do.
  auto second = ensureServerPki(dir_, {"10.0.0.1", "LOCALHOST"});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->ca.certPem, first->ca.certPem);
  EXPECT_EQ(second->ca.keyPem, first->ca.keyPem);
  EXPECT_EQ(second->serving.certPem, first->serving.certPem);
  EXPECT_EQ(second->serving.keyPem, first->serving.keyPem);
  EXPECT_EQ(second->adminClient.certPem, first->adminClient.certPem);
  EXPECT_EQ(inodeOf(dir_ + "/serving.crt"), servingInode);  // not even rewritten
  // A subset of the SANs is still covered.
  auto subset = ensureServerPki(dir_, {"localhost"});
  ASSERT_TRUE(subset.ok());
  EXPECT_EQ(subset->serving.certPem, first->serving.certPem);
}

TEST_F(PkiTest, ANewSanReissuesOnlyTheServingCertificate) {
  auto first = ensureServerPki(dir_, {"localhost"});
  ASSERT_TRUE(first.ok());
  auto second = ensureServerPki(dir_, {"localhost", "192.168.1.5"});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->ca.certPem, first->ca.certPem);
  EXPECT_EQ(second->adminClient.certPem, first->adminClient.certPem);
  EXPECT_EQ(second->adminClient.keyPem, first->adminClient.keyPem);
  EXPECT_NE(second->serving.certPem, first->serving.certPem);
  EXPECT_EQ(sansOf(cert(second->serving.certPem).get()),
            (std::vector<std::string>{"DNS:localhost", "IP:192.168.1.5"}));
  EXPECT_EQ(readFile(dir_ + "/serving.crt"), second->serving.certPem);
  EXPECT_EQ(verify(second->serving.certPem, first->ca.certPem, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST_F(PkiTest, ReissuesExpiringDamagedOrForeignLeaves) {
  auto first = ensureServerPki(dir_, {"localhost"});
  ASSERT_TRUE(first.ok());
  auto caCert = parseCertificatePem(first->ca.certPem);
  auto caKey = parsePrivateKeyPem(first->ca.keyPem);
  ASSERT_TRUE(caCert.ok() && caKey.ok());

  // A serving certificate with 30 days left is renewed.
  auto key = generateKey();
  ASSERT_TRUE(key.ok());
  CertificateSpec spec{CertificateUsage::kServing, "short", {}, {{false, "localhost"}}, 30};
  auto shortLived = issueCertificate(spec, key->get(), caCert->get(), caKey->get());
  ASSERT_TRUE(shortLived.ok());
  {
    std::ofstream(dir_ + "/serving.crt") << certificatePem(shortLived->get());
    std::ofstream(dir_ + "/serving.key") << privateKeyPem(key->get());
  }
  // The admin key no longer matches its certificate (a torn write).
  std::ofstream(dir_ + "/admin.key") << first->serving.keyPem;

  auto second = ensureServerPki(dir_, {"localhost"});
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->ca.certPem, first->ca.certPem);
  EXPECT_FALSE(expiresWithin(cert(second->serving.certPem).get(), 300));
  EXPECT_NE(second->adminClient.certPem, first->adminClient.certPem);
  EXPECT_EQ(verify(second->adminClient.certPem, second->ca.certPem, X509_PURPOSE_SSL_CLIENT),
            X509_V_OK);

  // Leaves from another CA are replaced.
  std::string otherDir = root_ + "/other";
  auto other = ensureServerPki(otherDir, {"localhost"});
  ASSERT_TRUE(other.ok());
  std::filesystem::copy_file(otherDir + "/serving.crt", dir_ + "/serving.crt",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(otherDir + "/serving.key", dir_ + "/serving.key",
                             std::filesystem::copy_options::overwrite_existing);
  auto third = ensureServerPki(dir_, {"localhost"});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(verify(third->serving.certPem, first->ca.certPem, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST_F(PkiTest, ADamagedCaIsReportedNotReplaced) {
  ASSERT_TRUE(ensureServerPki(dir_, {"localhost"}).ok());
  std::string caCert = readFile(dir_ + "/ca.crt");
  std::filesystem::remove(dir_ + "/ca.key");
  auto r = ensureServerPki(dir_, {"localhost"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("ca.key"), std::string::npos) << r.error().message();
  std::ofstream(dir_ + "/ca.key") << "garbage";
  EXPECT_FALSE(ensureServerPki(dir_, {"localhost"}).ok());
  EXPECT_EQ(readFile(dir_ + "/ca.crt"), caCert);
}

TEST_F(PkiTest, RefusesSansThatAreNeitherAddressesNorNames) {
  auto r = ensureServerPki(dir_, {"localhost", "bad name"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_FALSE(ensureServerPki(dir_, {"a,DNS:evil"}).ok());
}

TEST_F(PkiTest, IssuesClientCertificatesWithGroups) {
  auto pki = ensureServerPki(dir_, {"localhost"});
  ASSERT_TRUE(pki.ok());
  auto client = issueClientCertificate(pki->ca, "system:node:n1", {"system:nodes", "extra"}, 10);
  ASSERT_TRUE(client.ok()) << client.error().message();
  X509Ptr c = cert(client->certPem);
  EXPECT_EQ(subjectCommonName(c.get()), "system:node:n1");
  EXPECT_EQ(subjectOrganizations(c.get()), (std::vector<std::string>{"system:nodes", "extra"}));
  EXPECT_EQ(verify(client->certPem, pki->ca.certPem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_FALSE(expiresWithin(c.get(), 9));
  EXPECT_TRUE(expiresWithin(c.get(), 11));
  auto key = parsePrivateKeyPem(client->keyPem);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(X509_check_private_key(c.get(), key->get()), 1);

  EXPECT_FALSE(issueClientCertificate(pki->ca, "x", {}, 0).ok());
  EXPECT_FALSE(issueClientCertificate(KeyPair{"junk", "junk"}, "x", {}, 1).ok());
}

TEST_F(PkiTest, WritesAKubeconfigThatEmbedsTheCredentials) {
  auto pki = ensureServerPki(dir_, {"127.0.0.1"});
  ASSERT_TRUE(pki.ok());
  std::string path = root_ + "/etc/nave/nave.yaml";
  ASSERT_TRUE(
      writeKubeconfig(path, 0640, "https://127.0.0.1:6443", pki->ca.certPem, pki->adminClient)
          .ok());
  EXPECT_EQ(modeOf(path), 0640u);
  EXPECT_EQ(modeOf(root_ + "/etc/nave"), 0755u);
  auto doc = parseYaml(readFile(path));
  ASSERT_TRUE(doc.ok()) << doc.error().message();
  const Json& k = *doc;
  EXPECT_EQ(k["apiVersion"], "v1");
  EXPECT_EQ(k["kind"], "Config");
  EXPECT_EQ(k["current-context"], "default");
  ASSERT_EQ(k["clusters"].size(), 1u);
  EXPECT_EQ(k["clusters"][0]["name"], "default");
  EXPECT_EQ(k["clusters"][0]["cluster"]["server"], "https://127.0.0.1:6443");
  ASSERT_EQ(k["contexts"].size(), 1u);
  EXPECT_EQ(k["contexts"][0]["name"], "default");
  EXPECT_EQ(k["contexts"][0]["context"]["cluster"], "default");
  EXPECT_EQ(k["contexts"][0]["context"]["user"], "default");
  ASSERT_EQ(k["users"].size(), 1u);
  EXPECT_EQ(k["users"][0]["name"], "default");
  std::string decoded;
  ASSERT_TRUE(base64Decode(
      k["clusters"][0]["cluster"]["certificate-authority-data"].get<std::string>(), decoded));
  EXPECT_EQ(decoded, pki->ca.certPem);
  ASSERT_TRUE(
      base64Decode(k["users"][0]["user"]["client-certificate-data"].get<std::string>(), decoded));
  EXPECT_EQ(decoded, pki->adminClient.certPem);
  ASSERT_TRUE(base64Decode(k["users"][0]["user"]["client-key-data"].get<std::string>(), decoded));
  EXPECT_EQ(decoded, pki->adminClient.keyPem);

  // Rewriting replaces the file whole, with the new mode.
  ASSERT_TRUE(
      writeKubeconfig(path, 0600, "https://10.0.0.1:6443", pki->ca.certPem, pki->adminClient).ok());
  EXPECT_EQ(modeOf(path), 0600u);
  EXPECT_NE(readFile(path).find("https://10.0.0.1:6443"), std::string::npos);
}

TEST(LocalAddresses, ListsNonLoopbackAddressesOnly) {
  std::vector<std::string> addresses = localAddresses();
  if (addresses.empty()) GTEST_SKIP() << "this machine has no non-loopback address";
  for (const std::string& a : addresses) {
    unsigned char buf[16];
    bool v4 = inet_pton(AF_INET, a.c_str(), buf) == 1;
    bool v6 = inet_pton(AF_INET6, a.c_str(), buf) == 1;
    EXPECT_TRUE(v4 || v6) << a;
    EXPECT_NE(a.rfind("127.", 0), 0u) << a;
    EXPECT_NE(a, "::1");
    EXPECT_NE(a.rfind("fe80:", 0), 0u) << a;
  }
}

}  // namespace
}  // namespace nave::pki
