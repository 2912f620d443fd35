#include "node/storage/bitmap.h"

#include "gtest/gtest.h"

namespace pmdb::storage {
namespace {

TEST(BitmapTest, SetOperations) {
  Bitmap a = Bitmap::Of({1, 2, 3, 100000});
  Bitmap b = Bitmap::Of({2, 3, 4});
  EXPECT_EQ((a & b).ToVector(), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ((a | b).Cardinality(), 5u);
  EXPECT_EQ((a - b).ToVector(), (std::vector<uint32_t>{1, 100000}));
  EXPECT_EQ(a.AndCardinality(b), 2u);
  const Bitmap* many[] = {&a, &b, &a};
  EXPECT_EQ(Bitmap::Union(many), a | b);
}

TEST(BitmapTest, SerializationRoundTripsLargeRuns) {
  Bitmap b = Bitmap::Range(10, 1'000'000);
  b.Add(5'000'000);
  b.Optimize();
  std::string bytes = b.Serialize();
  EXPECT_LT(bytes.size(), 1000u);  // run containers, not 125 kB of bits
  auto back = Bitmap::Deserialize(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, b);
}

TEST(BitmapTest, EmptyInputIsTheEmptySet) {
  auto b = Bitmap::Deserialize("");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->Empty());
}

TEST(BitmapTest, GarbageIsDataLossNotACrash) {
  EXPECT_EQ(Bitmap::Deserialize("not a bitmap at all").status().code(),
            absl::StatusCode::kDataLoss);
  std::string truncated = Bitmap::Range(0, 70000).Serialize();
  truncated.resize(truncated.size() / 2);
  EXPECT_EQ(Bitmap::Deserialize(truncated).status().code(), absl::StatusCode::kDataLoss);
  std::string trailing = Bitmap::Of({1}).Serialize() + "x";
  EXPECT_EQ(Bitmap::Deserialize(trailing).status().code(), absl::StatusCode::kDataLoss);
}

TEST(BitmapTest, MovedFromIsEmptyAndUsable) {
  Bitmap a = Bitmap::Of({7});
  Bitmap b = std::move(a);
  EXPECT_TRUE(b.Contains(7));
  a.Add(3);  // NOLINT(bugprone-use-after-move): documented to be usable
  EXPECT_EQ(a.ToVector(), std::vector<uint32_t>{3});
}

}  // namespace
}  // namespace pmdb::storage
