// tools/pmdb/remote.h: the one reading of --db, --hub, --node, --timeout and PMDB_HUB.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/test_util.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::StatusIs;

const CommandSpec& Spec() {
  static const CommandSpec spec{"query", "pmdb query", "", {{"db", "DIR", ""}, {"hub", "HOST:PORT", ""},
                                {"node", "HOST:PORT", ""}, {"timeout", "SECONDS", ""}}, "", true};
  return spec;
}

absl::StatusOr<Target> Choose(std::vector<std::string> args, std::vector<Target::Kind> allowed = {
                                  Target::kDb, Target::kHub, Target::kNode}) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  auto flags = Flags::Parse(Spec(), static_cast<int>(argv.size()), argv.data());
  if (!flags.ok()) return flags.status();
  return ChooseTarget(*flags, allowed);
}

class TargetTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("PMDB_HUB"); }
  void TearDown() override { unsetenv("PMDB_HUB"); }
};

TEST_F(TargetTest, ExactlyOneTargetAndPmdbHubStandsForHub) {
  auto db = Choose({"--db", "/tmp/x"});
  ASSERT_THAT(db, IsOk());
  EXPECT_EQ(db->kind, Target::kDb);
  EXPECT_EQ(db->where, "/tmp/x");
  EXPECT_THAT(Choose({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "give exactly one of --db, --hub (or PMDB_HUB) and --node"));
  EXPECT_THAT(Choose({"--db", "a", "--node", "b:1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "give exactly one of"));
  setenv("PMDB_HUB", "hub.example:7000", 1);
  auto hub = Choose({});
  ASSERT_THAT(hub, IsOk());
  EXPECT_EQ(hub->kind, Target::kHub);
  EXPECT_EQ(hub->where, "hub.example:7000");
  auto node = Choose({"--node", "127.0.0.1:9"});
  ASSERT_THAT(node, IsOk());
  EXPECT_EQ(node->kind, Target::kNode) << "PMDB_HUB does not override an explicit target";
  EXPECT_THAT(Choose({"--hub", "h:1"}, {Target::kNode}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--node is required"));
}

TEST_F(TargetTest, TimeoutIsAPositiveNumberOfSeconds) {
  auto t = Choose({"--hub", "h:1", "--timeout", "5"});
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->timeout_seconds, 5);
  EXPECT_EQ(Choose({"--hub", "h:1"})->timeout_seconds, 30);
  EXPECT_THAT(Choose({"--hub", "h:1", "--timeout", "0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--timeout is a number of seconds"));
  EXPECT_THAT(Choose({"--hub", "h:1", "--timeout", "soon"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--timeout"));
}

}  // namespace
}  // namespace pmdb::cli
