// Pacer: lets an answer go only at the next multiple of a time quantum after its question
// arrived, so the time a region takes does not tell what its data holds (docs/disclosure.md,
// "Time"). Callbacks wait on one thread of the Pacer's own, not on the caller's thread, so a
// paced answer holds no request thread while it waits.
//
// Thread-safe. The destructor runs every callback still waiting, at once.
#ifndef PMDB_NODE_BASE_PACER_H_
#define PMDB_NODE_BASE_PACER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"

namespace pmdb {

class Pacer {
 public:
  using Steady = std::chrono::steady_clock;

  // `quantum` zero: every callback runs at once, on the caller's thread.
  explicit Pacer(std::chrono::milliseconds quantum);
  ~Pacer();
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  // Runs `fn` at arrived + n * quantum for the smallest n >= 1 that is not in the past.
  void Release(Steady::time_point arrived, std::function<void()> fn);

  std::chrono::milliseconds quantum() const { return quantum_; }

  // The time Release would run a callback given now.
  static Steady::time_point Slot(Steady::time_point arrived, Steady::time_point now,
                                 std::chrono::milliseconds quantum);

 private:
  void Run();

  const std::chrono::milliseconds quantum_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::multimap<Steady::time_point, std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pmdb

#endif  // PMDB_NODE_BASE_PACER_H_
