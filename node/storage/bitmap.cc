#include "node/storage/bitmap.h"

#include <roaring/roaring.h>

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"

namespace pmdb::storage {
namespace {

roaring_bitmap_t* CheckAlloc(roaring_bitmap_t* r) {
  // CRoaring returns null only when the allocator fails; there is no sensible recovery.
  if (r == nullptr) std::abort();
  return r;
}

}  // namespace

Bitmap::Bitmap() : r_(CheckAlloc(roaring_bitmap_create())) {}
Bitmap::~Bitmap() { roaring_bitmap_free(r_); }
Bitmap::Bitmap(const Bitmap& other) : r_(CheckAlloc(roaring_bitmap_copy(other.r_))) {}
Bitmap& Bitmap::operator=(const Bitmap& other) {
  if (this != &other) {
    roaring_bitmap_t* copy = CheckAlloc(roaring_bitmap_copy(other.r_));
    roaring_bitmap_free(r_);
    r_ = copy;
  }
  return *this;
}
Bitmap::Bitmap(Bitmap&& other) noexcept : r_(other.r_) {
  other.r_ = CheckAlloc(roaring_bitmap_create());
}
Bitmap& Bitmap::operator=(Bitmap&& other) noexcept {
  std::swap(r_, other.r_);
  roaring_bitmap_clear(other.r_);
  return *this;
}

Bitmap Bitmap::Range(uint32_t begin, uint32_t end) {
  Bitmap b;
  if (begin < end) roaring_bitmap_add_range(b.r_, begin, end);
  return b;
}

Bitmap Bitmap::Of(std::initializer_list<uint32_t> values) {
  Bitmap b;
  for (uint32_t v : values) b.Add(v);
  return b;
}

absl::StatusOr<Bitmap> Bitmap::Deserialize(std::string_view bytes) {
  if (bytes.empty()) return Bitmap();
  size_t expected = roaring_bitmap_portable_deserialize_size(bytes.data(), bytes.size());
  if (expected == 0 || expected != bytes.size()) {
    return absl::DataLossError("bitmap value is not one portable Roaring bitmap");
  }
  roaring_bitmap_t* r = roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  if (r == nullptr) return absl::DataLossError("bitmap value could not be decoded");
  return Bitmap(r);
}

void Bitmap::Add(uint32_t value) { roaring_bitmap_add(r_, value); }
void Bitmap::AddMany(std::span<const uint32_t> values) {
  roaring_bitmap_add_many(r_, values.size(), values.data());
}
void Bitmap::Remove(uint32_t value) { roaring_bitmap_remove(r_, value); }
bool Bitmap::Contains(uint32_t value) const { return roaring_bitmap_contains(r_, value); }
uint64_t Bitmap::Cardinality() const { return roaring_bitmap_get_cardinality(r_); }
bool Bitmap::Empty() const { return roaring_bitmap_is_empty(r_); }

Bitmap& Bitmap::operator|=(const Bitmap& other) {
  roaring_bitmap_or_inplace(r_, other.r_);
  return *this;
}
Bitmap& Bitmap::operator&=(const Bitmap& other) {
  roaring_bitmap_and_inplace(r_, other.r_);
  return *this;
}
Bitmap& Bitmap::operator-=(const Bitmap& other) {
  roaring_bitmap_andnot_inplace(r_, other.r_);
  return *this;
}
bool Bitmap::operator==(const Bitmap& other) const { return roaring_bitmap_equals(r_, other.r_); }

uint64_t Bitmap::AndCardinality(const Bitmap& other) const {
  return roaring_bitmap_and_cardinality(r_, other.r_);
}

Bitmap Bitmap::Union(std::span<const Bitmap* const> inputs) {
  if (inputs.empty()) return Bitmap();
  if (inputs.size() == 1) return *inputs[0];
  if (inputs.size() <= 4) {
    // CRoaring's many-way union makes every container of two or more inputs a bitset and
    // converts the sparse ones back afterwards: for a few sparse inputs (a variant's het, hom and
    // hemi carriers) merging them pairwise is several times faster.
    Bitmap out = *inputs[0];
    for (size_t i = 1; i < inputs.size(); ++i) out |= *inputs[i];
    return out;
  }
  std::vector<const roaring_bitmap_t*> raw;
  raw.reserve(inputs.size());
  for (const Bitmap* b : inputs) raw.push_back(b->r_);
  return Bitmap(CheckAlloc(roaring_bitmap_or_many(raw.size(), raw.data())));
}

void Bitmap::Optimize() {
  roaring_bitmap_run_optimize(r_);
  roaring_bitmap_shrink_to_fit(r_);
}

void Bitmap::AppendSerialized(std::string* out) const {
  size_t size = roaring_bitmap_portable_size_in_bytes(r_);
  size_t old = out->size();
  out->resize(old + size);
  roaring_bitmap_portable_serialize(r_, out->data() + old);
}

std::string Bitmap::Serialize() const {
  std::string out;
  AppendSerialized(&out);
  return out;
}

std::vector<uint32_t> Bitmap::ToVector() const {
  std::vector<uint32_t> out(Cardinality());
  roaring_bitmap_to_uint32_array(r_, out.data());
  return out;
}

}  // namespace pmdb::storage
