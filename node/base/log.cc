#include "node/base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace pmdb::log {
namespace {

std::atomic<Format> g_format{Format::kOff};

std::string Now() {
  auto now = std::chrono::system_clock::now();
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(micros % 1000000));
  return buf;
}

}  // namespace

void SetFormat(Format format) { g_format = format; }
Format CurrentFormat() { return g_format.load(); }
bool Enabled() { return g_format.load() != Format::kOff; }

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through; invalid bytes too (rare)
        }
    }
  }
  return out + "\"";
}

Line::Line(std::string_view level, std::string_view event) {
  fields_.emplace_back("level", JsonString(level));
  fields_.emplace_back("event", JsonString(event));
}

Line& Line::Str(std::string_view key, std::string_view value) {
  fields_.emplace_back(std::string(key), JsonString(value));
  return *this;
}

Line& Line::Int(std::string_view key, int64_t value) {
  fields_.emplace_back(std::string(key), std::to_string(value));
  return *this;
}

Line& Line::Num(std::string_view key, double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  fields_.emplace_back(std::string(key), buf);
  return *this;
}

void Line::Emit() {
  Format format = g_format.load();
  if (format == Format::kOff) return;
  std::string line;
  if (format == Format::kJson) {
    line = "{\"time\":" + JsonString(Now());
    for (const auto& [key, value] : fields_) {
      line += ',';
      line += JsonString(key);
      line += ':';
      line += value;
    }
    line += "}\n";
  } else {
    line = Now();
    for (const auto& [key, value] : fields_) {
      line += ' ';
      line += key;
      line += '=';
      line += value;
    }
    line += "\n";
  }
  // One write: lines from several threads do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace pmdb::log
