// pmdb catalogue against a real federation: six nodes and a hub over mutual TLS, the CLI as a
// researcher runs it, its VCF read back by bcftools and compared with bcftools' own counts of
// every region's cohort.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "node/base/strings.h"
#include "security/privacy_budget.h"
#include "tests/integration/federation_fixture.h"

namespace pmdb::testing {
namespace {

std::vector<std::string> AnnaEnv(const Federation& fed) {
  return {"PMDB_CERT=" + fed.dir().Path("anna.crt"), "PMDB_KEY=" + fed.dir().Path("anna.key"),
          "PMDB_CA=" + fed.dir().Path("ca/ca.crt"), "PMDB_CRL=" + fed.dir().Path("ca/ca.crl"),
          "PMDB_HUB=127.0.0.1:" + std::to_string(fed.hub_port())};
}

std::string Cohort(const Federation& fed, const std::string& region) {
  return fed.dir().Path(region + "-cohort/cohort.vcf.gz");
}

// "CHROM:POS:REF:ALT" -> the fields bcftools query printed after them.
std::map<std::string, std::vector<std::string>> Query(const std::string& vcf,
                                                      const std::string& format,
                                                      const std::string& pre = "") {
  CommandResult r = pmdb::testing::Run({"bash", "-c",
                                        "set -o pipefail; " + pre +
                                            "bcftools query -f '%CHROM:%POS:%REF:%ALT\\t" + format +
                                            "\\n' " + vcf});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    for (std::string_view f : Split(line, '\t')) fields.emplace_back(f);
    std::string site = fields[0];
    fields.erase(fields.begin());
    rows[site] = std::move(fields);
  }
  return rows;
}

// bcftools' own AC and AN of every site of a region's cohort.
std::map<std::string, std::vector<std::string>> BcftoolsAcAn(const Federation& fed,
                                                             const std::string& region) {
  return Query("-", "%AC\\t%AN", "bcftools +fill-AN-AC '" + Cohort(fed, region) + "' | ");
}

// A region's INFO key suffix, as pmdb catalogue writes it.
std::string InfoKey(std::string region) {
  for (char& c : region) c = c == '-' ? '_' : c;
  return region;
}

int64_t Number(const std::string& field) { return field == "." ? -1 : std::stoll(field); }

TEST(CatalogueTest, ANationalCatalogueBcftoolsReadsHoldsEveryRegionsCounts) {
  Federation fed(60, 30);
  // Differential privacy with noise so small (sd 0.1 on every AC and AN) that the numbers are
  // the true ones but for a chance of 10^-21, and budgets to pay for it: only so can a test
  // hold every number against bcftools'.
  for (const std::string& region : SixRegions()) {
    core::NodeSettings& s = fed.node_config(region).settings;
    s.disclosure.differential_privacy = true;
    s.disclosure.scale = {5};
    const uint64_t kPlenty = uint64_t{1} << 50;
    s.privacy.researcher_micros = s.privacy.researcher_yearly_micros = kPlenty;
    s.privacy.region_micros = s.privacy.region_yearly_micros = kPlenty;
    for (security::Project& p : s.privacy.projects) p.budget_micros = kPlenty;
  }
  fed.StartNodes();
  fed.StartHub();
  const std::string out = fed.dir().Path("national.vcf.gz");
  // Batches of 7: several questions per region, the last one short.
  CommandResult r = Pmdb({"catalogue", "--sites", Cohort(fed, "norr"), "--assembly", "GRCh38",
                          "--sigma", "0.1", "--out", out, "--batch", "7", "--json"},
                         AnnaEnv(fed));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("\"sites\":30"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"partial_batches\":0"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));

  // bcftools reads it: a sites-only VCF with the header pmdb wrote.
  CommandResult header = pmdb::testing::Run({"bcftools", "view", "-h", out});
  ASSERT_EQ(header.exit_code, 0) << header.err;
  for (const char* line :
       {"##INFO=<ID=AC,", "##INFO=<ID=AF,", "##INFO=<ID=NREGIONS,",
        "##INFO=<ID=AC_stockholm_gotland,", "##reference=GRCh38", "##pmdb_catalogue_noise_sd="}) {
    EXPECT_NE(header.out.find(line), std::string::npos) << line;
  }
  EXPECT_NE(header.out.find("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"), std::string::npos)
      << "no sample columns";

  // Every region's numbers are its cohort's, as bcftools counts them: at min_count (5) and
  // above, and below it left empty, never written as a number.
  std::string format = "%AC\\t%AN\\t%NREGIONS";
  for (const std::string& region : SixRegions()) {
    format += "\\t%AC_" + InfoKey(region) + "\\t%AN_" + InfoKey(region);
  }
  auto catalogue = Query(out, format);
  ASSERT_EQ(catalogue.size(), 30u);
  std::map<std::string, int64_t> national_ac, national_an;
  size_t shown = 0, hidden = 0;
  for (size_t k = 0; k < SixRegions().size(); ++k) {
    const std::string& region = SixRegions()[k];
    auto truth = BcftoolsAcAn(fed, region);
    ASSERT_EQ(truth.size(), 30u) << region;
    for (const auto& [site, fields] : catalogue) {
      ASSERT_TRUE(truth.count(site)) << site;
      const int64_t ac = std::stoll(truth[site][0]), an = std::stoll(truth[site][1]);
      national_ac[site] += ac;
      national_an[site] += an;
      const int64_t released_ac = Number(fields[3 + 2 * k]);
      const int64_t released_an = Number(fields[4 + 2 * k]);
      if (ac >= 5) {
        EXPECT_EQ(released_ac, ac) << region << " " << site;
        ++shown;
      } else {
        EXPECT_EQ(released_ac, -1) << region << " " << site << ": a small count is no number";
        ++hidden;
      }
      EXPECT_EQ(released_an, an) << region << " " << site;
    }
  }
  EXPECT_GT(shown, 0u);
  EXPECT_GT(hidden, 0u) << "the cohort has rare sites too";
  for (const auto& [site, fields] : catalogue) {
    EXPECT_EQ(fields[2], "6") << site;
    // The national numbers add the regions' noised numbers, small ones included.
    const int64_t an = Number(fields[1]);
    EXPECT_EQ(an, national_an[site]) << site;
    const int64_t ac = Number(fields[0]);
    if (ac >= 0) {
      EXPECT_EQ(ac, national_ac[site]) << site;
    }
  }

  // The same sites in one batch, written as plain VCF: the same numbers.
  CommandResult again = Pmdb({"catalogue", "--sites", Cohort(fed, "norr"), "--assembly", "GRCh38",
                              "--sigma", "0.1", "--out", fed.dir().Path("again.vcf")},
                             AnnaEnv(fed));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("catalogue of 30 sites written to"), std::string::npos) << again.out;
  EXPECT_EQ(Query(fed.dir().Path("again.vcf"), format), catalogue)
      << "plain VCF output holds the same numbers";
}

TEST(CatalogueTest, UnderDifferentialPrivacyEveryNumberIsNoisedAndTheCatalogueIsPaidOnce) {
  Federation fed(60, 30);
  for (const std::string& region : SixRegions()) {
    fed.node_config(region).settings.disclosure.differential_privacy = true;  // the default
  }
  fed.StartNodes();
  fed.StartHub();
  const std::string out = fed.dir().Path("dp.vcf");
  // 30 sites at rho 0.25: sigma = 2 sqrt(30 / 0.25) = 21.91 (rounded up to hundredths).
  CommandResult cost = Pmdb({"catalogue", "--sites", Cohort(fed, "norr"), "--assembly", "GRCh38",
                             "--rho", "0.25", "--cost"},
                            AnnaEnv(fed));
  ASSERT_EQ(cost.exit_code, 0) << cost.err;
  EXPECT_NE(cost.out.find("would cost rho 0.2499"), std::string::npos) << cost.out;
  EXPECT_NE(cost.out.find("noise sd 21.91"), std::string::npos) << cost.out;
  EXPECT_NE(cost.out.find("norr: would charge rho 0.2499"), std::string::npos) << cost.out;

  CommandResult first = Pmdb({"catalogue", "--sites", Cohort(fed, "norr"), "--assembly", "GRCh38",
                              "--rho", "0.25", "--out", out, "--json"},
                             AnnaEnv(fed));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("\"noise_sd\":21.91"), std::string::npos) << first.out;
  for (const std::string& region : SixRegions()) {
    EXPECT_NE(first.out.find("{\"region\":\"" + region + "\",\"rho_charged\":0.2499"),
              std::string::npos)
        << region << ": " << first.out;
  }
  std::string header = pmdb::testing::Run({"bcftools", "view", "-h", out}).out;
  EXPECT_NE(header.find("##pmdb_catalogue_noise_sd=21.91"), std::string::npos) << header;

  // The same sites with the same noise are the same release: the same numbers, free.
  CommandResult second = Pmdb({"catalogue", "--sites", Cohort(fed, "norr"), "--assembly", "GRCh38",
                               "--rho", "0.25", "--out", out + "2", "--json"},
                              AnnaEnv(fed));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("\"rho_charged\":0,"), std::string::npos) << second.out;
  EXPECT_EQ(pmdb::testing::Run({"bcftools", "view", "-H", out}).out,
            pmdb::testing::Run({"bcftools", "view", "-H", out + "2"}).out);

  // The numbers are noised: AN is every region's called alleles (120 for 60 people) plus noise
  // of sd 21.91, so across 6 x 30 of them some differ from 120, and they scatter about it as
  // the noise says (mean within 4 standard errors, sd within a third).
  std::string format;
  for (const std::string& region : SixRegions()) format += "%AN_" + InfoKey(region) + "\\t";
  auto rows = Query(out, format + "%NREGIONS");
  ASSERT_EQ(rows.size(), 30u);
  double sum = 0, sum2 = 0;
  int n = 0, shown = 0;
  for (const auto& [site, fields] : rows) {
    for (size_t k = 0; k < SixRegions().size(); ++k) {
      int64_t an = Number(fields[k]);
      if (an < 0) continue;  // shown as a small range
      ++shown;
      sum += static_cast<double>(an - 120);
      sum2 += static_cast<double>(an - 120) * static_cast<double>(an - 120);
      ++n;
    }
  }
  ASSERT_GT(n, 150);
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_LT(std::abs(mean), 4 * 21.91 / std::sqrt(n)) << mean;
  EXPECT_GT(sd, 21.91 * 2 / 3) << sd;
  EXPECT_LT(sd, 21.91 * 4 / 3) << sd;

  // Noise below a frequency answer's (twice the regions' sigma of 5) is refused before anything
  // is asked.
  CommandResult precise = Pmdb({"catalogue", "--sites", Cohort(fed, "norr"), "--assembly", "GRCh38",
                                "--sigma", "3", "--out", out + "3"},
                               AnnaEnv(fed));
  EXPECT_EQ(precise.exit_code, 1);
  EXPECT_NE(precise.err.find("--sigma 3 is below what the regions allow (10"), std::string::npos)
      << precise.err;
  EXPECT_FALSE(std::filesystem::exists(out + "3"));

  // And each region refuses it itself, whoever asks; a batch that is not all variants is
  // refused at the hub.
  auto hub = fed.Hub("anna");
  v1::CatalogueRequest req;
  v1::VariantCriterion* v = req.add_sites()->mutable_variant();
  v->set_assembly("GRCh38");
  v->set_chrom("1");
  v->set_pos(1000);
  v->set_ref("A");
  v->set_alt("G");
  req.set_sigma(3);
  {
    grpc::ClientContext context;
    v1::FederatedCatalogue reply;
    ASSERT_TRUE(hub->Catalogue(&context, req, &reply).ok());
    ASSERT_EQ(reply.regions_size(), 6);
    EXPECT_EQ(reply.sites_size(), 0) << "no region's numbers, no national ones";
    for (const v1::RegionPart& p : reply.regions()) {
      EXPECT_EQ(p.status(), v1::REGION_INVALID) << p.region();
      EXPECT_NE(p.detail().find("must be between 10"), std::string::npos) << p.detail();
    }
  }
  req.set_sigma(30);
  req.add_sites()->set_sex(v1::FEMALE);
  {
    grpc::ClientContext context;
    v1::FederatedCatalogue reply;
    grpc::Status s = hub->Catalogue(&context, req, &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("site 2 of a catalogue must be one variant()"),
              std::string::npos)
        << s.error_message();
  }
}

}  // namespace
}  // namespace pmdb::testing
