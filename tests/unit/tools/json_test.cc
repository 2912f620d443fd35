// The CLI's JSON writer always writes valid JSON, also for strings that are not UTF-8.
#include "tools/pmdb/json.h"

#include <gtest/gtest.h>

#include "node/base/strings.h"

namespace pmdb::cli {
namespace {

TEST(JsonTest, StringsAreEscapedAndAlwaysUtf8) {
  Json j;
  j.BeginObject().Key("a").String("say \"hi\"\n").Key("b").String("Malmö").EndObject();
  EXPECT_EQ(j.str(), "{\"a\":\"say \\\"hi\\\"\\n\",\"b\":\"Malmö\"}");
  Json latin1;
  latin1.BeginObject().Key("message").String("G\xf6teborg: \xff").EndObject();
  EXPECT_TRUE(IsValidUtf8(latin1.str())) << latin1.str();
  EXPECT_EQ(latin1.str(), "{\"message\":\"G\xEF\xBF\xBDteborg: \xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace pmdb::cli
