#include "security/identity.h"

#include "gtest/gtest.h"

namespace pmdb::security {
namespace {

TEST(IdentityTest, EveryFormParses) {
  auto hub = ParseIdentity("spiffe://se-pm/hub");
  ASSERT_TRUE(hub.ok());
  EXPECT_EQ(hub->role, Role::kHub);
  EXPECT_TRUE(hub->is_server());
  auto node = ParseIdentity("spiffe://se-pm/region/stockholm-gotland/node");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->role, Role::kNode);
  EXPECT_EQ(node->region, "stockholm-gotland");
  auto shard = ParseIdentity("spiffe://se-pm/region/vast/shard");
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(shard->role, Role::kShard);
  EXPECT_EQ(shard->region, "vast");
  EXPECT_TRUE(shard->is_server());
  auto op = ParseIdentity("spiffe://se-pm/region/vast/operator/erik");
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->role, Role::kOperator);
  EXPECT_EQ(op->name, "erik");
  EXPECT_FALSE(op->is_server());
  EXPECT_EQ(ParseIdentity("spiffe://se-pm/region/syd/clinician/lena")->role, Role::kClinician);
  auto researcher = ParseIdentity("spiffe://se-pm/researcher/anna");
  ASSERT_TRUE(researcher.ok());
  EXPECT_EQ(researcher->federation, "se-pm");
  EXPECT_EQ(researcher->region, "");
}

TEST(IdentityTest, MalformedIdentitiesAreRefused) {
  for (const char* bad :
       {"https://se-pm/hub", "spiffe://se-pm", "spiffe://se-pm/hub/extra",
        "spiffe://se-pm/region/vast", "spiffe://se-pm/region/vast/janitor/bo",
        "spiffe://se-pm/researcher/", "spiffe://se-pm/region/vast/shard/s1", "spiffe://SE-PM/hub",
        "spiffe://se-pm/researcher/a b", "spiffe://se-pm//hub"}) {
    auto id = ParseIdentity(bad);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace pmdb::security
