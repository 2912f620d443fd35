#include "node/base/pacer.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace pmdb {
namespace {

using namespace std::chrono_literals;
using Steady = Pacer::Steady;

TEST(PacerTest, SlotsAreMultiplesOfTheQuantumAfterArrival) {
  Steady::time_point t0{};
  EXPECT_EQ(Pacer::Slot(t0, t0, 10ms), t0 + 10ms);
  EXPECT_EQ(Pacer::Slot(t0, t0 + 3ms, 10ms), t0 + 10ms);
  EXPECT_EQ(Pacer::Slot(t0, t0 + 10ms, 10ms), t0 + 10ms);
  EXPECT_EQ(Pacer::Slot(t0, t0 + 10ms + 1ns, 10ms), t0 + 20ms);
  EXPECT_EQ(Pacer::Slot(t0, t0 + 47ms, 10ms), t0 + 50ms);
  EXPECT_EQ(Pacer::Slot(t0, t0 + 47ms, 0ms), t0 + 47ms) << "no quantum: at once";
}

// An answer that was ready at once and one that took a while below the quantum leave at the
// same time after their arrival.
TEST(PacerTest, ReleasesNoEarlierThanTheSlot) {
  Pacer pacer(40ms);
  std::atomic<int> ran{0};
  std::vector<Steady::duration> after(2);
  Steady::time_point arrived = Steady::now();
  pacer.Release(arrived, [&] {
    after[0] = Steady::now() - arrived;
    ++ran;
  });
  std::this_thread::sleep_for(15ms);
  pacer.Release(arrived, [&] {
    after[1] = Steady::now() - arrived;
    ++ran;
  });
  while (ran.load() < 2) std::this_thread::sleep_for(1ms);
  for (auto d : after) EXPECT_GE(d, 40ms);
}

TEST(PacerTest, WithoutAQuantumRunsAtOnceOnTheCallersThread) {
  Pacer pacer(0ms);
  std::thread::id ran_on;
  pacer.Release(Steady::now(), [&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(PacerTest, DestructionRunsWhatStillWaits) {
  std::atomic<int> ran{0};
  {
    Pacer pacer(std::chrono::hours(1));
    for (int i = 0; i < 3; ++i) pacer.Release(Steady::now(), [&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace pmdb
