// Kills of a running node while it answers researchers through the hub: the node (a process of
// its own) is killed with SIGKILL at random moments while the researcher asks new questions
// through the hub, then started again on its port. After every restart the region's account of
// the researcher's spending, rebuilt from its audit log, holds every charge the researcher was
// shown (nothing acknowledged is lost), the hub reports the region again, and at the end the
// region's audit chain verifies.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "node/base/strings.h"
#include "query/parser.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

// What the researcher has spent at syd, as the region itself reports it (a cost quote).
double SpentAtSyd(const Federation& fed) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::CountRequest quote;
  *quote.mutable_criterion() = *query::ParseCriterion("sex(F)");
  quote.set_cost_only(true);
  v1::FederatedCount reply;
  if (!fed.Hub()->Count(&ctx, quote, &reply).ok() || reply.regions_size() != 1 ||
      reply.regions(0).status() != v1::REGION_OK) {
    return -1;
  }
  for (const v1::BudgetState& b : reply.regions(0).count().disclosure().budgets()) {
    if (b.name() == "researcher" && b.period_days() != 365) return b.spent_rho();
  }
  return -1;
}

TEST(KillThroughTheHub, EveryChargeShownSurvivesAKillOfTheNode) {
  Federation fed(200, 20);
  const std::string db = fed.node_config("syd").db;
  auto config = [&](int port) {
    return fed.ChildNodeConfig("syd",
                               "[log]\nformat = \"off\"\n[sharing.researcher]\n"
                               "[privacy]\nresearcher_budget = 1000\nregion_budget = 1000\n"
                               "researcher_yearly_budget = 1000\nregion_yearly_budget = 1000\n"
                               "[[projects]]\nid = \"test-project\"\nmembers = [\"anna\"]\n"
                               "budget = 1000\n",
                               port);
  };
  const std::string toml = config(0);
  auto node = std::make_unique<ChildProcess>(std::vector<std::string>{"node", "--config", toml});
  const int port = node->port();
  ASSERT_GT(port, 0);
  config(port);  // restarts take the same port
  fed.StartHub(3000, {{"syd", StrCat("127.0.0.1:", port)}});

  std::mt19937_64 rng(20261207);
  int question = 0, kills = 0, shown = 0;
  double charged_shown = 0;
  for (int round = 0; round < 30; ++round) {
    // The researcher asks new questions until the node is gone.
    std::atomic<bool> stop{false};
    std::thread asker([&] {
      while (!stop) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        v1::CountRequest req;
        *req.mutable_criterion() =
            *query::ParseCriterion(StrCat("age(", question % 90, "-) AND dataset(syn) AND ",
                                          question / 90 % 2 == 0 ? "sex(F)" : "sex(M)",
                                          " AND NOT age(", 91 + question / 180, "-)"));
        ++question;
        v1::FederatedCount reply;
        if (!fed.Hub()->Count(&ctx, req, &reply).ok()) continue;
        if (reply.regions_size() == 1 && reply.regions(0).status() == v1::REGION_OK) {
          ++shown;
          charged_shown += reply.regions(0).count().disclosure().rho();
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    node->Kill();
    ++kills;
    stop = true;
    asker.join();
    node = std::make_unique<ChildProcess>(std::vector<std::string>{"node", "--config", toml});
    ASSERT_EQ(node->port(), port) << "round " << round;
    double spent = -1;
    for (int i = 0; i < 100 && spent < 0; ++i) {  // the hub reconnects
      spent = SpentAtSyd(fed);
      if (spent < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(spent, 0) << "round " << round << ": the hub does not reach syd again";
    EXPECT_GE(spent + 1e-9, charged_shown)
        << "round " << round << ": a charge the researcher was shown is not in syd's log";
  }
  node->Signal(SIGTERM);
  node.reset();
  fed.StopHub();
  auto verify = Pmdb({"audit", "verify", "--db", db});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  std::printf(
      "[kills] through the hub: %d kills of a node, %d answers shown (rho %.2f), each "
      "charge found in the region's log after its restart\n",
      kills, shown, charged_shown);
  EXPECT_EQ(kills, 30);
  EXPECT_GT(shown, 30);
}

}  // namespace
}  // namespace pmdb::testing
