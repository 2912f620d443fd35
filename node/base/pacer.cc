#include "node/base/pacer.h"

#include <utility>
#include <vector>

namespace pmdb {

Pacer::Pacer(std::chrono::milliseconds quantum) : quantum_(quantum) {
  if (quantum_.count() > 0) thread_ = std::thread([this] { Run(); });
}

Pacer::~Pacer() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Pacer::Steady::time_point Pacer::Slot(Steady::time_point arrived, Steady::time_point now,
                                      std::chrono::milliseconds quantum) {
  if (quantum.count() <= 0) return now;
  auto elapsed = now - arrived;
  auto slots =
      elapsed <= Steady::duration::zero() ? 1 : (elapsed + quantum - Steady::duration(1)) / quantum;
  if (slots < 1) slots = 1;
  return arrived + slots * quantum;
}

void Pacer::Release(Steady::time_point arrived, std::function<void()> fn) {
  if (quantum_.count() <= 0) {
    fn();
    return;
  }
  Steady::time_point at = Slot(arrived, Steady::now(), quantum_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_.emplace(at, std::move(fn));
  }
  wake_.notify_one();
}

void Pacer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (stopping_) break;
    if (waiting_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto first = waiting_.begin();
    if (first->first > Steady::now()) {
      wake_.wait_until(lock, first->first);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    waiting_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
  // Whatever still waits goes now: an answer is never dropped.
  std::vector<std::function<void()>> left;
  for (auto& [at, fn] : waiting_) left.push_back(std::move(fn));
  waiting_.clear();
  lock.unlock();
  for (auto& fn : left) fn();
}

}  // namespace pmdb
