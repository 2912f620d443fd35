// Clock: the wall-clock time as pmdb's request path sees it. Budgets per UTC day, case-reference
// expiry, contact timestamps and audit times all read one Clock, so a test moves a day or an
// expiry forward with a FakeClock instead of sleeping. Implementations are thread-safe.
#ifndef PMDB_NODE_BASE_CLOCK_H_
#define PMDB_NODE_BASE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace pmdb {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMicros() const = 0;
  int64_t NowSeconds() const { return NowMicros() / 1000000; }
};

// The system's real-time clock; lives for the whole process.
inline const Clock& SystemClock() {
  class System final : public Clock {
   public:
    int64_t NowMicros() const override {
      return std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    }
  };
  static const System clock;
  return clock;
}

// A clock that stands still until told to move. For tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_seconds) : micros_(unix_seconds * 1000000) {}
  int64_t NowMicros() const override { return micros_.load(); }
  void AdvanceSeconds(int64_t seconds) { micros_ += seconds * 1000000; }
  void SetSeconds(int64_t unix_seconds) { micros_ = unix_seconds * 1000000; }

 private:
  std::atomic<int64_t> micros_;
};

}  // namespace pmdb

#endif  // PMDB_NODE_BASE_CLOCK_H_
