#include "node/storage/bitmap_merge_operator.h"

#include <rocksdb/merge_operator.h>

#include <string_view>

namespace pmdb::storage {
namespace {

std::string Encode(char tag, const Bitmap& bits) {
  std::string out(1, tag);
  bits.AppendSerialized(&out);
  return out;
}

bool ApplyOperand(const rocksdb::Slice& operand, Bitmap* value) {
  if (operand.size() < 1) return false;
  char tag = operand[0];
  auto bits = Bitmap::Deserialize(std::string_view(operand.data() + 1, operand.size() - 1));
  if (!bits.ok()) return false;
  if (tag == kAddBitsTag) {
    *value |= *bits;
  } else if (tag == kRemoveBitsTag) {
    *value -= *bits;
  } else {
    return false;
  }
  return true;
}

class BitmapMergeOperator : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "pmdb.BitmapMergeOperator.v1"; }

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    Bitmap value;
    if (in.existing_value != nullptr) {
      auto existing =
          Bitmap::Deserialize(std::string_view(in.existing_value->data(), in.existing_value->size()));
      if (!existing.ok()) return false;
      value = std::move(*existing);
    }
    for (const rocksdb::Slice& operand : in.operand_list) {
      if (!ApplyOperand(operand, &value)) return false;
    }
    value.Optimize();
    out->new_value.clear();
    value.AppendSerialized(&out->new_value);
    return true;
  }

  // Operands of the same kind combine into one; an add followed by a remove cannot be
  // expressed as a single operand, so those stay apart until a full merge.
  bool PartialMergeMulti(const rocksdb::Slice& /*key*/,
                         const std::deque<rocksdb::Slice>& operands, std::string* new_value,
                         rocksdb::Logger* /*logger*/) const override {
    if (operands.empty()) return false;
    char tag = operands.front().size() > 0 ? operands.front()[0] : 0;
    if (tag != kAddBitsTag && tag != kRemoveBitsTag) return false;
    Bitmap combined;
    for (const rocksdb::Slice& operand : operands) {
      if (operand.size() < 1 || operand[0] != tag) return false;
      auto bits = Bitmap::Deserialize(std::string_view(operand.data() + 1, operand.size() - 1));
      if (!bits.ok()) return false;
      combined |= *bits;
    }
    combined.Optimize();
    *new_value = Encode(tag, combined);
    return true;
  }
};

}  // namespace

std::string EncodeAddBits(const Bitmap& bits) { return Encode(kAddBitsTag, bits); }
std::string EncodeRemoveBits(const Bitmap& bits) { return Encode(kRemoveBitsTag, bits); }

std::shared_ptr<rocksdb::MergeOperator> NewBitmapMergeOperator() {
  return std::make_shared<BitmapMergeOperator>();
}

}  // namespace pmdb::storage
