// Bitmap: a set of 32-bit individual ordinals, backed by a CRoaring bitmap.
//
// Owns its roaring_bitmap_t. Copyable and movable; a moved-from Bitmap is empty and usable.
// Not thread-safe for concurrent mutation; concurrent const access is safe.
// Serialization uses the portable Roaring format so stores are readable by other Roaring
// implementations.
#ifndef PMDB_NODE_STORAGE_BITMAP_H_
#define PMDB_NODE_STORAGE_BITMAP_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct roaring_bitmap_s;

namespace pmdb::storage {

class Bitmap {
 public:
  Bitmap();
  ~Bitmap();
  Bitmap(const Bitmap& other);
  Bitmap& operator=(const Bitmap& other);
  Bitmap(Bitmap&& other) noexcept;
  Bitmap& operator=(Bitmap&& other) noexcept;

  // The ordinals in [begin, end).
  static Bitmap Range(uint32_t begin, uint32_t end);
  static Bitmap Of(std::initializer_list<uint32_t> values);

  // Parses the portable serialization; the whole input must be one bitmap.
  static absl::StatusOr<Bitmap> Deserialize(std::string_view bytes);

  void Add(uint32_t value);
  void AddMany(std::span<const uint32_t> values);
  void Remove(uint32_t value);
  bool Contains(uint32_t value) const;
  uint64_t Cardinality() const;
  bool Empty() const;

  Bitmap& operator|=(const Bitmap& other);
  Bitmap& operator&=(const Bitmap& other);
  Bitmap& operator-=(const Bitmap& other);  // set difference (AND NOT)
  friend Bitmap operator|(Bitmap a, const Bitmap& b) { return a |= b; }
  friend Bitmap operator&(Bitmap a, const Bitmap& b) { return a &= b; }
  friend Bitmap operator-(Bitmap a, const Bitmap& b) { return a -= b; }
  bool operator==(const Bitmap& other) const;

  // |this AND other| without materializing the intersection.
  uint64_t AndCardinality(const Bitmap& other) const;

  // Union of many bitmaps, faster than repeated |=.
  static Bitmap Union(std::span<const Bitmap* const> inputs);

  // Compresses runs and releases slack; call before serializing a freshly built bitmap.
  void Optimize();

  void AppendSerialized(std::string* out) const;
  std::string Serialize() const;
  std::vector<uint32_t> ToVector() const;

 private:
  explicit Bitmap(roaring_bitmap_s* r) : r_(r) {}
  roaring_bitmap_s* r_;
};

}  // namespace pmdb::storage

#endif  // PMDB_NODE_STORAGE_BITMAP_H_
