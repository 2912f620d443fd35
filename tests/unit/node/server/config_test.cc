#include "node/server/config.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pmdb::server {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(ConfigTest, ExamplesInDeployParse) {
  auto node = LoadNodeConfig(std::string(PMDB_SOURCE_DIR) + "/deploy/node.example.toml");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->settings.region, "vast");
  EXPECT_EQ(node->settings.disclosure.min_count, 5u);
  EXPECT_EQ(node->settings.sharing.at("researcher").kinds.size(), 3u);
  EXPECT_EQ(node->settings.sharing.at("clinician").kinds.count("similar"), 1u);
  EXPECT_EQ(node->settings.clinician.reference_ttl_seconds, 720 * 3600);
  EXPECT_EQ(node->settings.clinician.max_top, 100u);
  EXPECT_EQ(node->settings.clinician.daily_searches, 200u);
  EXPECT_NE(node->settings.clinician.contact.find("Klinisk genetik"), std::string::npos);
  EXPECT_TRUE(node->settings.disclosure.close_side_channels);
  EXPECT_EQ(node->settings.disclosure.response_quantum_ms, 10u);
  EXPECT_EQ(node->settings.privacy.researcher_yearly_micros, 4'000'000u);
  EXPECT_EQ(node->settings.privacy.region_yearly_micros, 12'000'000u);
  auto hub = LoadHubConfig(std::string(PMDB_SOURCE_DIR) + "/deploy/hub.example.toml");
  ASSERT_TRUE(hub.ok()) << hub.status();
  EXPECT_EQ(hub->regions.size(), 6u);
  EXPECT_EQ(hub->deadline_ms, 2000);
  // Operations: metrics, logs, the witness, the limits on a question.
  EXPECT_EQ(node->metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(hub->metrics_listen, "127.0.0.1:9465");
  EXPECT_EQ(node->log_format, "json");
  EXPECT_EQ(hub->witness_interval_s, 30);
  EXPECT_EQ(node->question_limits.max_criteria, 1000u);
  EXPECT_EQ(node->question_limits.max_depth, 64);
  EXPECT_EQ(node->question_limits.max_bytes, 65536u);
  EXPECT_EQ(node->max_message_mb, 64u);
  EXPECT_EQ(hub->max_message_mb, 4u);
  // The Beacon over HTTPS.
  EXPECT_EQ(hub->https.listen, "0.0.0.0:8443");
  EXPECT_EQ(hub->https.max_body_kb, 256u);
  EXPECT_TRUE(hub->https.cors_origins.empty());
  EXPECT_EQ(hub->beacon.environment, "prod");
  EXPECT_EQ(hub->beacon.id, "se.pmdb.hub");
}

TEST(ConfigTest, OperationsKeysAreChecked) {
  TempDir dir;
  const std::string base =
      "[node]\nregion = \"norr\"\ndb = \"d\"\n"
      "[tls]\ncert = \"n.crt\"\nkey = \"n.key\"\nca = \"/etc/ca.crt\"\n";
  WriteFile(dir.Path("a.toml"), base + "[log]\nformat = \"xml\"\n");
  auto a = LoadNodeConfig(dir.Path("a.toml"));
  EXPECT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("\"json\", \"text\" or \"off\""), std::string::npos)
      << a.status();
  WriteFile(dir.Path("b.toml"), base + "[limits]\nmax_nesting = 65\n");
  EXPECT_FALSE(LoadNodeConfig(dir.Path("b.toml")).ok()) << "the parser's ceiling is 64";
  WriteFile(dir.Path("c.toml"), base + "[metrics]\nlisten = \"127.0.0.1:1\"\nport = 3\n");
  EXPECT_FALSE(LoadNodeConfig(dir.Path("c.toml")).ok()) << "unknown keys are errors";
  WriteFile(dir.Path("d.toml"), base + "[limits]\nmax_criteria = 7\n");
  auto d = LoadNodeConfig(dir.Path("d.toml"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->question_limits.max_criteria, 7u);
  EXPECT_EQ(d->metrics_listen, "") << "no endpoint unless configured";
}

TEST(ConfigTest, ANodesOperatorsPageIsOffUnlessItHasAnAddress) {
  TempDir dir;
  const std::string base =
      "[node]\nregion = \"norr\"\ndb = \"d\"\n"
      "[tls]\ncert = \"n.crt\"\nkey = \"n.key\"\nca = \"/etc/ca.crt\"\n";
  WriteFile(dir.Path("off.toml"), base);
  auto off = LoadNodeConfig(dir.Path("off.toml"));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->https.listen, "");
  WriteFile(dir.Path("on.toml"),
            base + "[https]\nlisten = \"10.0.0.5:8443\"\nmax_connections = 40\n");
  auto on = LoadNodeConfig(dir.Path("on.toml"));
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->https.listen, "10.0.0.5:8443");
  EXPECT_EQ(on->https.max_connections, 40u);
  WriteFile(dir.Path("any.toml"), base + "[https]\nlisten = \":8443\"\ncors_origins = [\"*\"]\n");
  auto any = LoadNodeConfig(dir.Path("any.toml"));
  ASSERT_FALSE(any.ok());
  EXPECT_NE(std::string(any.status().message()).find("may not be \"*\""), std::string::npos)
      << any.status();
  WriteFile(dir.Path("typo.toml"), base + "[https]\nlisten = \"10.0.0.5:8443\"\nlistne = 1\n");
  auto typo = LoadNodeConfig(dir.Path("typo.toml"));
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(std::string(typo.status().message()).find("listne"), std::string::npos)
      << typo.status();
}

TEST(ConfigTest, ThePublicTierIsOffUnlessItHasAnAddress) {
  TempDir dir;
  const std::string base =
      "[node]\nregion = \"norr\"\ndb = \"d\"\n"
      "[tls]\ncert = \"n.crt\"\nkey = \"n.key\"\nca = \"/etc/ca.crt\"\n";
  WriteFile(dir.Path("off.toml"), base);
  auto off = LoadNodeConfig(dir.Path("off.toml"));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->settings.public_tier.enabled);
  EXPECT_EQ(off->public_https.listen, "");

  WriteFile(dir.Path("on.toml"),
            base +
                "[public]\nlisten = \"0.0.0.0:8444\"\nsigma = 25\nthreshold = 80\n"
                "budget = 0.25\nshare = 0.05\nrequests_per_minute = 12\n"
                "cert = \"public.crt\"\nkey = \"public.key\"\n"
                "[beacon]\nname = \"Norr public beacon\"\n");
  auto on = LoadNodeConfig(dir.Path("on.toml"));
  ASSERT_TRUE(on.ok()) << on.status();
  const core::PublicTier& tier = on->settings.public_tier;
  EXPECT_TRUE(tier.enabled);
  EXPECT_EQ(tier.scale.sigma_centi, 2500u);
  EXPECT_EQ(tier.threshold, 80u);
  EXPECT_EQ(tier.budget_micros, 250'000u);
  EXPECT_EQ(tier.share_millionths, 50'000u);
  EXPECT_EQ(on->public_https.requests_per_minute, 12u);
  EXPECT_EQ(on->public_https.cert, dir.Path("public.crt"));
  EXPECT_EQ(on->beacon.name, "Norr public beacon");

  for (const auto& [extra, says] : std::vector<std::pair<std::string, std::string>>{
           {"[public]\nlisten = \"0.0.0.0:8444\"\ncert = \"p.crt\"\n", "go together"},
           {"[public]\nlisten = \"0.0.0.0:8444\"\nsigma = 0.1\n", "public.sigma"},
           {"[public]\nlisten = \"0.0.0.0:8444\"\nfilters = true\n", "unknown key"},
           {"[beacon]\nhpo = \"hp.obo\"\n", "for the hub"}}) {
    WriteFile(dir.Path("bad.toml"), base + extra);
    auto bad = LoadNodeConfig(dir.Path("bad.toml"));
    EXPECT_FALSE(bad.ok()) << extra;
    EXPECT_NE(bad.status().message().find(says), std::string::npos) << bad.status();
  }
}

TEST(ConfigTest, RelativePathsAndDefaults) {
  TempDir dir;
  WriteFile(dir.Path("n.toml"),
            "[node]\nregion = \"norr\"\ndb = \"data/norr\"\n"
            "[tls]\ncert = \"n.crt\"\nkey = \"n.key\"\nca = \"/etc/ca.crt\"\n");
  auto c = LoadNodeConfig(dir.Path("n.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->db, dir.Path("data/norr"));
  EXPECT_EQ(c->tls.cert, dir.Path("n.crt"));
  EXPECT_EQ(c->tls.ca, "/etc/ca.crt");
  EXPECT_TRUE(c->settings.participate);
  EXPECT_TRUE(c->settings.sharing.empty()) << "no [sharing.researcher]: researchers get nothing";
}

TEST(ConfigTest, ErrorsNameTheFileLineAndKey) {
  TempDir dir;
  WriteFile(dir.Path("typo.toml"),
            "[node]\nregion = \"norr\"\ndb = \"x\"\n[tls]\ncert = \"a\"\nkey = \"b\"\nca = \"c\"\n"
            "[disclosure]\nmin_cuont = 3\n");
  auto c = LoadNodeConfig(dir.Path("typo.toml"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("typo.toml:9: unknown key disclosure.min_cuont"),
            std::string::npos)
      << c.status();

  WriteFile(dir.Path("kinds.toml"),
            "[node]\nregion = \"norr\"\ndb = \"x\"\n[tls]\ncert = \"a\"\nkey = \"b\"\nca = \"c\"\n"
            "[sharing.researcher]\nkinds = [\"count\", \"rows\"]\n");
  c = LoadNodeConfig(dir.Path("kinds.toml"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("kinds.toml:9: researcher.kinds must be a list of: count"),
            std::string::npos)
      << c.status();

  WriteFile(dir.Path("broken.toml"), "[node\nregion = 1\n");
  c = LoadNodeConfig(dir.Path("broken.toml"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("broken.toml:1:"), std::string::npos) << c.status();

  c = LoadNodeConfig(dir.Path("missing.toml"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);

  WriteFile(dir.Path("hub.toml"),
            "[hub]\ndb = \"h\"\n[tls]\ncert = \"a\"\nkey = \"b\"\nca = \"c\"\n");
  auto h = LoadHubConfig(dir.Path("hub.toml"));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("[[regions]]"), std::string::npos) << h.status();
}

TEST(ConfigTest, ProjectSharesAddUpToAtMostOne) {
  TempDir dir;
  const std::string head =
      "[node]\nregion = \"norr\"\ndb = \"x\"\n[tls]\ncert = \"a\"\nkey = \"b\"\nca = \"c\"\n";
  WriteFile(dir.Path("ok.toml"),
            head +
                "[[projects]]\nid = \"a\"\nmembers = [\"anna\"]\nshare = 0.25\n"
                "[[projects]]\nid = \"b\"\nmembers = [\"bo\"]\n");
  auto c = LoadNodeConfig(dir.Path("ok.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->settings.privacy.projects[0].share_millionths, 250000u);
  WriteFile(dir.Path("over.toml"),
            head +
                "[[projects]]\nid = \"a\"\nmembers = [\"anna\"]\nshare = 0.75\n"
                "[[projects]]\nid = \"b\"\nmembers = [\"bo\"]\nshare = 0.5\n");
  c = LoadNodeConfig(dir.Path("over.toml"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("shares of the region budget add up to 1.25"),
            std::string::npos)
      << c.status();
}

}  // namespace
}  // namespace pmdb::server
