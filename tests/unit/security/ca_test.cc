// The federation CA, checked in process with OpenSSL's verifier and against the openssl CLI.
#include "security/ca.h"

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace pmdb::security {
namespace {

using pmdb::testing::TempDir;

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::Init(dir_.Path("ca"), "se-pm", 3650);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<CertificateAuthority>(std::move(*ca));
  }

  // X509_V_OK or OpenSSL's verification error, with the CA's CRL checked.
  int Verify(const std::string& cert_path) {
    auto root = ReadCertificate(dir_.Path("ca/ca.crt"));
    auto crl = ReadCrl(dir_.Path("ca/ca.crl"));
    auto cert = ReadCertificate(cert_path);
    EXPECT_TRUE(root.ok() && crl.ok() && cert.ok());
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root->get());
    X509_STORE_add_crl(store, crl->get());
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, cert->get(), nullptr);
    int result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return result;
  }

  TempDir dir_;
  std::unique_ptr<CertificateAuthority> ca_;
};

TEST_F(CaTest, NodeCertificateServesAndCallsWithItsNames) {
  auto issued = ca_->Issue({"spiffe://se-pm/region/vast/node", {"localhost"}, {"127.0.0.1"}},
                           dir_.Path("vast"));
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(Verify(dir_.Path("vast.crt")), X509_V_OK);
  auto cert = ReadCertificate(dir_.Path("vast.crt"));
  ASSERT_TRUE(cert.ok());
  auto id = IdentityOfCertificate(cert->get());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->role, Role::kNode);
  EXPECT_EQ(id->region, "vast");
  EXPECT_EQ(X509_check_host(cert->get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert->get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_purpose(cert->get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_purpose(cert->get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  struct stat st;
  ASSERT_EQ(stat(dir_.Path("vast.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto key = ReadPrivateKey(dir_.Path("vast.key"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(X509_check_private_key(cert->get(), key->get()), 1);
}

TEST_F(CaTest, PeopleGetClientCertificatesOnly) {
  ASSERT_TRUE(ca_->Issue({"spiffe://se-pm/researcher/anna"}, dir_.Path("anna")).ok());
  auto cert = ReadCertificate(dir_.Path("anna.crt"));
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(X509_check_purpose(cert->get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_purpose(cert->get(), X509_PURPOSE_SSL_SERVER, 0), 0);
  auto with_dns =
      ca_->Issue({"spiffe://se-pm/researcher/bo", {"bo.example"}, {}}, dir_.Path("bo"));
  EXPECT_EQ(with_dns.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CaTest, RefusesForeignAndMalformedIdentities) {
  EXPECT_EQ(ca_->Issue({"spiffe://other/hub"}, dir_.Path("x")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ca_->Issue({"spiffe://se-pm/region/vast"}, dir_.Path("x")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateAuthority::Init(dir_.Path("ca"), "se-pm", 10).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(CaTest, RevocationReachesTheCrl) {
  auto anna = ca_->Issue({"spiffe://se-pm/researcher/anna"}, dir_.Path("anna"));
  auto bo = ca_->Issue({"spiffe://se-pm/researcher/bo"}, dir_.Path("bo"));
  ASSERT_TRUE(anna.ok() && bo.ok());
  ASSERT_TRUE(ca_->Revoke(anna->serial_hex).ok());
  EXPECT_EQ(Verify(dir_.Path("anna.crt")), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verify(dir_.Path("bo.crt")), X509_V_OK);
  // The CA reopened from its directory knows what it did.
  auto reopened = CertificateAuthority::Open(dir_.Path("ca"));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto list = reopened->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].revoked);
  EXPECT_FALSE((*list)[1].revoked);
  EXPECT_EQ(reopened->Revoke("ABCDEF").code(), absl::StatusCode::kNotFound);
}

TEST_F(CaTest, OpensslCliAgrees) {
  ASSERT_TRUE(ca_->Issue({"spiffe://se-pm/hub", {"localhost"}, {"127.0.0.1", "::1"}},
                         dir_.Path("hub")).ok());
  auto revoked = ca_->Issue({"spiffe://se-pm/region/syd/clinician/lena"}, dir_.Path("lena"));
  ASSERT_TRUE(revoked.ok());
  ASSERT_TRUE(ca_->Revoke(revoked->serial_hex).ok());
  auto verify = [&](const std::string& cert) {
    return pmdb::testing::Run({"openssl", "verify", "-CAfile", dir_.Path("ca/ca.crt"), "-crl_check", "-CRLfile",
                dir_.Path("ca/ca.crl"), "-purpose", "any", cert});
  };
  auto good = verify(dir_.Path("hub.crt"));
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  auto bad = verify(dir_.Path("lena.crt"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE((bad.out + bad.err).find("certificate revoked"), std::string::npos) << bad.out << bad.err;
  auto text = pmdb::testing::Run({"openssl", "x509", "-in", dir_.Path("hub.crt"), "-noout", "-ext",
                   "subjectAltName"});
  EXPECT_NE(text.out.find("URI:spiffe://se-pm/hub, DNS:localhost, IP Address:127.0.0.1, "
                          "IP Address:0:0:0:0:0:0:0:1"),
            std::string::npos)
      << text.out;
}

TEST(CertificateIdentityTest, NoneOrSeveralUriSansAreRefused) {
  auto key = GenerateP256Key();
  ASSERT_TRUE(key.ok());
  CertificateSpec two;
  two.common_name = "two";
  two.uris = {"spiffe://se-pm/hub", "spiffe://se-pm/researcher/eve"};
  auto cert = MakeCertificate(two, key->get(), nullptr, nullptr);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(IdentityOfCertificate(cert->get()).status().code(),
            absl::StatusCode::kPermissionDenied);
  CertificateSpec none;
  none.common_name = "spiffe://se-pm/hub";  // a name is not an identity
  none.dns = {"localhost"};
  cert = MakeCertificate(none, key->get(), nullptr, nullptr);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(IdentityOfCertificate(cert->get()).status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace pmdb::security
