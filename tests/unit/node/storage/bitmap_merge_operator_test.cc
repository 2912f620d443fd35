#include "node/storage/bitmap_merge_operator.h"

#include "gtest/gtest.h"
#include "node/storage/store.h"
#include "tests/test_util.h"

namespace pmdb::storage {
namespace {

using pmdb::testing::OpenOrDie;
using pmdb::testing::TempDir;

class BitmapMergeTest : public ::testing::Test {
 protected:
  Bitmap Read(const std::string& key) {
    auto bits = store_->Snapshot()->GetBitmap(key);
    EXPECT_TRUE(bits.ok()) << bits.status();
    return bits.ok() ? *bits : Bitmap();
  }
  void Apply(const std::function<void(WriteBatch&)>& fill) {
    WriteBatch batch = store_->NewBatch();
    fill(batch);
    ASSERT_TRUE(store_->Write(batch).ok());
  }
  TempDir dir_;
  std::unique_ptr<Store> store_ = OpenOrDie(dir_.Path("db"));
};

TEST_F(BitmapMergeTest, AddsAccumulateAcrossBatches) {
  Apply([](WriteBatch& b) { b.AddBits("k", Bitmap::Of({1, 2})); });
  Apply([](WriteBatch& b) { b.AddBits("k", Bitmap::Of({2, 3})); });
  EXPECT_EQ(Read("k").ToVector(), (std::vector<uint32_t>{1, 2, 3}));
}

TEST_F(BitmapMergeTest, RemovalsApplyInOrderWithAdds) {
  Apply([](WriteBatch& b) {
    b.AddBits("k", Bitmap::Of({1, 2, 3}));
    b.RemoveBits("k", Bitmap::Of({2}));
    b.AddBits("k", Bitmap::Of({2, 9}));  // re-added after the removal: stays
    b.RemoveBits("k", Bitmap::Of({1}));
  });
  EXPECT_EQ(Read("k").ToVector(), (std::vector<uint32_t>{2, 3, 9}));
}

TEST_F(BitmapMergeTest, CompactionFoldsOperandsWithoutChangingTheValue) {
  for (uint32_t i = 0; i < 50; ++i) {
    Apply([&](WriteBatch& b) {
      b.AddBits("k", Bitmap::Of({i, i + 1000}));
      if (i % 5 == 0) b.RemoveBits("k", Bitmap::Of({i + 1000}));
    });
  }
  Bitmap before = Read("k");
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_EQ(Read("k"), before);
  EXPECT_EQ(before.Cardinality(), 50u + 40u);
}

TEST_F(BitmapMergeTest, RemovingFromAMissingKeyLeavesItEmpty) {
  Apply([](WriteBatch& b) { b.RemoveBits("absent", Bitmap::Of({4})); });
  EXPECT_TRUE(Read("absent").Empty());
}

TEST_F(BitmapMergeTest, CorruptOperandIsReportedOnRead) {
  Apply([](WriteBatch& b) {
    b.AddBits("k", Bitmap::Of({1}));
    // A value written with Put bypasses the operator: the next merge must reject it.
    b.Put(Family::kBitmaps, "bad", "garbage");
    b.AddBits("bad", Bitmap::Of({1}));
  });
  auto bad = store_->Snapshot()->GetBitmap("bad");
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(Read("k").Contains(1));
}

TEST(BitmapMergeEncodingTest, OperandsCarryTheirKind) {
  EXPECT_EQ(EncodeAddBits(Bitmap::Of({1}))[0], kAddBitsTag);
  EXPECT_EQ(EncodeRemoveBits(Bitmap::Of({1}))[0], kRemoveBitsTag);
}

}  // namespace
}  // namespace pmdb::storage
