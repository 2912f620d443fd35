#include "node/transport/listen_address.h"

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace pmdb::transport {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::StatusIs;

TEST(ListenAddressTest, ReadsHostAndPort) {
  auto v4 = ParseListenAddress("127.0.0.1:9464", "[metrics] listen");
  ASSERT_THAT(v4, IsOk());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9464);
  auto v6 = ParseListenAddress("[::1]:0", "[https] listen");
  ASSERT_THAT(v6, IsOk());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
}

// Each mistake is refused whole, naming the setting: no port read from its first digits.
TEST(ListenAddressTest, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"9464x", "127.0.0.1:9464x", "127.0.0.1:", "127.0.0.1:-1",
                          "127.0.0.1:65536", "127.0.0.1: 80", "localhost:80", "[::1:80"}) {
    EXPECT_THAT(ParseListenAddress(bad, "[metrics] listen"),
                StatusIs(absl::StatusCode::kInvalidArgument, std::string("[metrics] listen '")))
        << bad;
  }
}

}  // namespace
}  // namespace pmdb::transport
