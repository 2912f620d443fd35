// A small streaming JSON writer for the CLI's --json output. Not a parser.
#ifndef PMDB_TOOLS_PMDB_JSON_H_
#define PMDB_TOOLS_PMDB_JSON_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/strings.h"

namespace pmdb::cli {

class Json {
 public:
  Json& BeginObject() { return Open('{'); }
  Json& EndObject() { return Close('}'); }
  Json& BeginArray() { return Open('['); }
  Json& EndArray() { return Close(']'); }
  Json& Key(std::string_view k) {
    Comma();
    Quote(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  Json& String(std::string_view v) {
    Comma();
    Quote(v);
    return *this;
  }
  Json& Uint(uint64_t v) {
    Comma();
    out_ += std::to_string(v);
    return *this;
  }
  Json& Int(int64_t v) {
    Comma();
    out_ += std::to_string(v);
    return *this;
  }
  Json& Double(double v) {
    Comma();
    if (!std::isfinite(v)) {
      out_ += "null";
      return *this;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    out_ += buf;
    return *this;
  }
  Json& Bool(bool v) {
    Comma();
    out_ += v ? "true" : "false";
    return *this;
  }
  Json& Null() {
    Comma();
    out_ += "null";
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  Json& Open(char c) {
    Comma();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  Json& Close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  void Comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void Quote(std::string_view raw) {
    // JSON is UTF-8: a string that is not (a file name or sample name in Latin-1 inside an
    // error message, say) has every byte of an invalid sequence written as U+FFFD.
    std::string repaired;
    if (!IsValidUtf8(raw)) {
      for (size_t i = 0; i < raw.size();) {
        size_t n = 1;
        while (n <= 4 && i + n <= raw.size() && !IsValidUtf8(raw.substr(i, n))) ++n;
        if (n <= 4 && i + n <= raw.size()) {
          repaired += raw.substr(i, n);
          i += n;
        } else {
          repaired += "\xEF\xBF\xBD";
          ++i;
        }
      }
      raw = repaired;
    }
    const std::string_view s = raw;
    out_ += '"';
    for (char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\r':
          out_ += "\\r";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }
  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_JSON_H_
