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

// A union is merged pairwise for a few inputs and by CRoaring's many-way union for more; both
// give the same set, over sparse, dense and run containers alike.
TEST(BitmapTest, UnionsOfFewAndManyInputsAgree) {
  std::vector<Bitmap> inputs;
  for (uint32_t i = 0; i < 9; ++i) {
    Bitmap b;
    for (uint32_t v = i; v < 300'000; v += 37 * (i + 1)) b.Add(v);  // sparse and dense chunks
    b |= Bitmap::Range(70'000 * i, 70'000 * i + 5'000);             // runs
    inputs.push_back(std::move(b));
  }
  for (size_t n = 1; n <= inputs.size(); ++n) {
    std::vector<const Bitmap*> ptrs;
    Bitmap expected;
    for (size_t i = 0; i < n; ++i) {
      ptrs.push_back(&inputs[i]);
      for (uint32_t v : inputs[i].ToVector()) expected.Add(v);
    }
    EXPECT_EQ(Bitmap::Union(ptrs), expected) << n << " inputs";
  }
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
