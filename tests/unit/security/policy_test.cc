#include "security/policy.h"

#include <gtest/gtest.h>

namespace pmdb::security {
namespace {

Identity Id(const std::string& uri) {
  auto id = ParseIdentity(uri);
  EXPECT_TRUE(id.ok()) << id.status();
  return *id;
}

const Server kHub{.is_hub = true, .federation = "f"};
const Server kVast{.is_hub = false, .federation = "f", .region = "vast"};

TEST(PolicyTest, TheTable) {
  Identity hub = Id("spiffe://f/hub");
  Identity researcher = Id("spiffe://f/researcher/anna");
  Identity clinician = Id("spiffe://f/region/vast/clinician/cia");
  Identity vast_op = Id("spiffe://f/region/vast/operator/olle");
  Identity norr_op = Id("spiffe://f/region/norr/operator/nils");
  Identity node = Id("spiffe://f/region/norr/node");

  EXPECT_TRUE(Authorize(researcher, Method::kFederationCount, kHub).ok());
  EXPECT_TRUE(Authorize(clinician, Method::kFederationInfo, kHub).ok());
  EXPECT_FALSE(Authorize(clinician, Method::kFederationCount, kHub).ok());
  EXPECT_TRUE(Authorize(hub, Method::kRegionCount, kVast).ok());
  EXPECT_TRUE(Authorize(vast_op, Method::kAdminIngest, kVast).ok());

  absl::Status s = Authorize(researcher, Method::kRegionCount, kVast);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("a researcher may not call RegionService/Count"), std::string::npos)
      << s;
  s = Authorize(vast_op, Method::kFederationCount, kHub);
  EXPECT_NE(s.message().find("an operator may not call FederationService/Count"), std::string::npos)
      << s;
  // The audit head is the hub's to ask, on its own behalf.
  EXPECT_TRUE(Authorize(hub, Method::kRegionAuditHead, kVast).ok());
  EXPECT_FALSE(Authorize(vast_op, Method::kRegionAuditHead, kVast).ok());
  EXPECT_FALSE(Authorize(researcher, Method::kRegionAuditHead, kVast).ok());
  s = Authorize(norr_op, Method::kAdminConsent, kVast);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("region norr may not administer region vast"), std::string::npos) << s;
  EXPECT_FALSE(Authorize(researcher, Method::kAdminStatus, kVast).ok());
  EXPECT_FALSE(Authorize(node, Method::kRegionCount, kVast).ok()) << "nodes do not ask nodes";
  // A shard is nobody outside its own region's node: not the region to the hub, not a caller.
  Identity shard = Id("spiffe://f/region/vast/shard");
  for (Method m : {Method::kRegionCount, Method::kRegionNationalShare, Method::kRegionInfo,
                   Method::kAdminIngest, Method::kAdminStatus, Method::kFederationCount,
                   Method::kFederationInfo}) {
    EXPECT_FALSE(Authorize(shard, m, kVast).ok()) << static_cast<int>(m);
    EXPECT_FALSE(Authorize(shard, m, kHub).ok()) << static_cast<int>(m);
  }
  EXPECT_FALSE(Authorize(hub, Method::kFederationCount, kHub).ok());
  EXPECT_FALSE(Authorize(Id("spiffe://other/hub"), Method::kRegionCount, kVast).ok());
  // A hub method on a node and a region method on the hub are not served.
  EXPECT_FALSE(Authorize(researcher, Method::kFederationCount, kVast).ok());
  EXPECT_FALSE(Authorize(hub, Method::kRegionCount, kHub).ok());
}

TEST(PolicyTest, EndUsersForwardedByTheHub) {
  EXPECT_TRUE(AuthorizeEndUser(Id("spiffe://f/researcher/anna"), Method::kRegionCount, kVast).ok());
  EXPECT_FALSE(
      AuthorizeEndUser(Id("spiffe://f/region/vast/operator/olle"), Method::kRegionCount, kVast)
          .ok());
  EXPECT_FALSE(AuthorizeEndUser(Id("spiffe://f/hub"), Method::kRegionCount, kVast).ok());
  EXPECT_FALSE(
      AuthorizeEndUser(Id("spiffe://g/researcher/anna"), Method::kRegionCount, kVast).ok());
}

TEST(PolicyTest, SimilarCasesAndContactsAreForCliniciansOnly) {
  Identity researcher = Id("spiffe://f/researcher/anna");
  Identity clinician = Id("spiffe://f/region/norr/clinician/cia");
  Identity vast_op = Id("spiffe://f/region/vast/operator/olle");
  for (Method m : {Method::kFederationSimilarCases, Method::kFederationRequestContact,
                   Method::kFederationContactStatus}) {
    EXPECT_TRUE(Authorize(clinician, m, kHub).ok()) << MethodName(m);
    EXPECT_FALSE(Authorize(researcher, m, kHub).ok()) << MethodName(m);
    EXPECT_FALSE(Authorize(vast_op, m, kHub).ok()) << MethodName(m);
  }
  for (Method m :
       {Method::kRegionSimilarCases, Method::kRegionRequestContact, Method::kRegionContactStatus}) {
    EXPECT_TRUE(Authorize(Id("spiffe://f/hub"), m, kVast).ok()) << MethodName(m);
    EXPECT_FALSE(Authorize(clinician, m, kVast).ok()) << "clinicians go through the hub";
    // A clinician of another region may be forwarded; a researcher may not.
    EXPECT_TRUE(AuthorizeEndUser(clinician, m, kVast).ok()) << MethodName(m);
    EXPECT_FALSE(AuthorizeEndUser(researcher, m, kVast).ok()) << MethodName(m);
  }
  EXPECT_FALSE(AuthorizeEndUser(clinician, Method::kRegionCount, kVast).ok());
  EXPECT_TRUE(Authorize(vast_op, Method::kAdminContactList, kVast).ok());
  EXPECT_TRUE(Authorize(vast_op, Method::kAdminContactAnswer, kVast).ok());
  EXPECT_FALSE(
      Authorize(Id("spiffe://f/region/norr/operator/nils"), Method::kAdminContactAnswer, kVast)
          .ok());
  EXPECT_FALSE(Authorize(clinician, Method::kAdminSimilarCases, kVast).ok());
}

}  // namespace
}  // namespace pmdb::security
