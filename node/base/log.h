// Structured logs: one JSON object per line on stderr, which journald and every log shipper
// take as they are:
//
//   {"time":"2026-12-07T10:15:02.123456Z","level":"info","event":"call","method":...}
//
// What may go into a line: identities (certificate URIs), methods, status codes, latencies,
// budget charged, a question's canonical hash, regions, file names an operator gave. Never a
// subject id, a genotype, a patient attribute or a question's text (docs/operations.md).
// Off by default, so that the command line's in-process calls print nothing; `pmdb node` and
// `pmdb hub` turn it on ([log] format). Thread-safe: a line is written with one call.
#ifndef PMDB_NODE_BASE_LOG_H_
#define PMDB_NODE_BASE_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pmdb::log {

enum class Format { kOff, kJson, kText };
void SetFormat(Format format);
Format CurrentFormat();
bool Enabled();

// A line under construction: Line("info", "call").Str("method", m).Int("status", 0).Emit().
class Line {
 public:
  Line(std::string_view level, std::string_view event);
  Line& Str(std::string_view key, std::string_view value);
  Line& Int(std::string_view key, int64_t value);
  Line& Num(std::string_view key, double value);
  void Emit();  // writes the line if logging is on

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // key, JSON value
};

// `s` as a JSON string literal, quotes included.
std::string JsonString(std::string_view s);

}  // namespace pmdb::log

#endif  // PMDB_NODE_BASE_LOG_H_
