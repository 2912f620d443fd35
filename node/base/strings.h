// String building for pmdb. Debian's Abseil keeps its own string_view type, so absl::StrCat
// does not accept std::string_view; these helpers do, and take integers and doubles too.
#ifndef PMDB_NODE_BASE_STRINGS_H_
#define PMDB_NODE_BASE_STRINGS_H_

#include <charconv>
#include <concepts>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace pmdb {

inline void AppendPiece(std::string* out, std::string_view s) { out->append(s); }
inline void AppendPiece(std::string* out, const char* s) { out->append(s); }
inline void AppendPiece(std::string* out, char c) { out->push_back(c); }
template <std::integral T>
requires(!std::same_as<T, char> && !std::same_as<T, bool>) void AppendPiece(std::string* out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}
inline void AppendPiece(std::string* out, double v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%.6g", v);
  out->append(buf, n);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (AppendPiece(out, args), ...);
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (AppendPiece(&out, args), ...);
  return out;
}

// Splits on `sep`, keeping empty pieces. The pieces view `s`: keep it alive while they are used
// (a temporary such as Split(GetString(), ',') dies before a range-for body runs).
std::vector<std::string_view> Split(std::string_view s, char sep);
std::string_view Trim(std::string_view s);
// At most `max` bytes of `s`, cut before a UTF-8 sequence rather than inside one (for quoting
// user input in messages).
std::string_view ClipUtf8(std::string_view s, size_t max);
std::string ToUpper(std::string_view s);
std::string ToLower(std::string_view s);
// Parses a whole decimal string; false on anything else.
bool ParseUint32(std::string_view s, uint32_t* out);
bool ParseUint64(std::string_view s, uint64_t* out);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool IsValidUtf8(std::string_view s);
// 12345678 -> "12,345,678" for people.
std::string WithThousands(uint64_t v);

// A UTC time as strftime `format` writes it; "" for 0 (never).
std::string FormatUtc(int64_t unix_seconds, const char* format);
// "2026-12-02T14:30:07Z", or "" for 0.
std::string Rfc3339(int64_t unix_seconds);

}  // namespace pmdb

#endif  // PMDB_NODE_BASE_STRINGS_H_
