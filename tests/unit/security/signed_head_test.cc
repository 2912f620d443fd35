// A node's signed audit head, checked as a third party would: with the CA's certificate only.
#include "security/signed_head.h"

#include <ctime>

#include "gtest/gtest.h"
#include "security/ca.h"
#include "tests/test_util.h"

namespace pmdb::security {
namespace {

using pmdb::testing::ReadFile;
using pmdb::testing::TempDir;

class SignedHeadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::Init(dir_.Path("ca"), "se-pm", 3650);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ASSERT_TRUE(ca->Issue({.identity = "spiffe://se-pm/region/vast/node", .ips = {"127.0.0.1"}},
                          dir_.Path("vast"))
                    .ok());
    ASSERT_TRUE(ca->Issue({.identity = "spiffe://se-pm/researcher/anna"}, dir_.Path("anna")).ok());
    auto other = CertificateAuthority::Init(dir_.Path("other"), "se-pm", 3650);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(other
                    ->Issue({.identity = "spiffe://se-pm/region/vast/node", .ips = {"127.0.0.1"}},
                            dir_.Path("forged"))
                    .ok());
  }

  absl::Status Check(const std::string& who, const std::string& region, std::string_view message,
                     std::string_view signature) {
    return VerifyNodeSignature(ReadFile(dir_.Path(who + ".crt")), dir_.Path("ca/ca.crt"), region,
                               std::time(nullptr), message, signature);
  }

  TempDir dir_;
};

TEST_F(SignedHeadTest, AHeadSignedByTheRegionsNodeVerifiesAndNothingElseDoes) {
  const std::string hash(32, '\x5a');
  const int64_t now = int64_t{std::time(nullptr)} * 1000000;
  const std::string message = HeadMessage("vast", 1234, hash, now);
  auto signature = SignWithKeyFile(dir_.Path("vast.key"), message);
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_TRUE(Check("vast", "vast", message, *signature).ok());

  // Another length, hash or time is another message: the signature does not cover it.
  for (const std::string& changed :
       {HeadMessage("vast", 1233, hash, now), HeadMessage("vast", 1234, std::string(32, 'b'), now),
        HeadMessage("vast", 1234, hash, now + 1), HeadMessage("norr", 1234, hash, now)}) {
    EXPECT_EQ(Check("vast", "vast", changed, *signature).code(),
              absl::StatusCode::kPermissionDenied);
  }
  // Parts cannot be shifted from one field to the next.
  EXPECT_NE(HeadMessage("vast1", 234, hash, now), HeadMessage("vast", 1234, hash, now));

  // Not the node of that region, not of this CA, not a node at all.
  EXPECT_EQ(Check("vast", "norr", message, *signature).code(), absl::StatusCode::kPermissionDenied);
  auto forged = SignWithKeyFile(dir_.Path("forged.key"), message);
  ASSERT_TRUE(forged.ok());
  absl::Status other_ca = Check("forged", "vast", message, *forged);
  EXPECT_NE(other_ca.message().find("not issued by the CA"), std::string::npos) << other_ca;
  auto by_anna = SignWithKeyFile(dir_.Path("anna.key"), message);
  ASSERT_TRUE(by_anna.ok());
  absl::Status person = Check("anna", "vast", message, *by_anna);
  EXPECT_NE(person.message().find("not the node of region vast"), std::string::npos) << person;
  // A certificate that was not valid at the time the head claims.
  EXPECT_FALSE(VerifyNodeSignature(ReadFile(dir_.Path("vast.crt")), dir_.Path("ca/ca.crt"), "vast",
                                   std::time(nullptr) - 86400 * 30, message, *signature)
                   .ok());
  EXPECT_FALSE(Check("vast", "vast", message, "not a signature").ok());
}

}  // namespace
}  // namespace pmdb::security
