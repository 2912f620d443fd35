// RocksDB merge operator for the bitmaps column family.
//
// A stored value is one portable Roaring bitmap. A merge operand is a one-byte tag followed by a
// portable Roaring bitmap: '+' adds its members, '-' removes them. Writers therefore never read
// a bitmap to change it: an ingest adds bits, a withdrawal removes them, and RocksDB folds the
// operands into the value on read and compaction. Stateless and thread-safe.
#ifndef PMDB_NODE_STORAGE_BITMAP_MERGE_OPERATOR_H_
#define PMDB_NODE_STORAGE_BITMAP_MERGE_OPERATOR_H_

#include <memory>
#include <string>

#include "node/storage/bitmap.h"

namespace rocksdb {
class MergeOperator;
}

namespace pmdb::storage {

inline constexpr char kAddBitsTag = '+';
inline constexpr char kRemoveBitsTag = '-';

// Encodes an operand that adds (or removes) the members of `bits`.
std::string EncodeAddBits(const Bitmap& bits);
std::string EncodeRemoveBits(const Bitmap& bits);

std::shared_ptr<rocksdb::MergeOperator> NewBitmapMergeOperator();

}  // namespace pmdb::storage

#endif  // PMDB_NODE_STORAGE_BITMAP_MERGE_OPERATOR_H_
