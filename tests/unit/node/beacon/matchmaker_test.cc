// The Matchmaker Exchange API without a transport: a request in the API's shape becomes the
// similar-case question, and the hub's matches come back as MME results naming only what a
// region released.
#include "node/beacon/matchmaker.h"

#include <regex>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace pmdb::beacon {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::JsonAt;
using ::pmdb::testing::JsonNumber;
using ::pmdb::testing::JsonString;
using ::pmdb::testing::ParseJson;

// Answers every search with one prepared answer and keeps the last request.
class FakeHub : public BeaconBackend {
 public:
  void Count(const call::Credentials&, const v1::CountRequest&,
             std::function<void(absl::StatusOr<v1::FederatedCount>)> done) override {
    done(absl::UnimplementedError("not here"));
  }
  void Frequency(const call::Credentials&, const v1::FrequencyRequest&,
                 std::function<void(absl::StatusOr<v1::FederatedFrequency>)> done) override {
    done(absl::UnimplementedError("not here"));
  }
  void SimilarCases(const call::Credentials&, const v1::SimilarCasesRequest& request,
                    std::function<void(absl::StatusOr<v1::FederatedSimilarCases>)> done) override {
    asked = request;
    done(answer);
  }
  void Info(const call::Credentials&,
            std::function<void(absl::StatusOr<v1::FederationInfo>)> done) override {
    done(absl::UnimplementedError("not here"));
  }
  const vocab::Ontology* ontology() const override { return nullptr; }
  const vocab::CodeList* icd10() const override { return nullptr; }

  v1::SimilarCasesRequest asked;
  absl::StatusOr<v1::FederatedSimilarCases> answer;
};

constexpr char kMedia[] = "application/vnd.ga4gh.matchmaker.v1.1+json";

MatchReply Ask(const MatchmakerApi& api, const std::string& body) {
  MatchReply got;
  api.Handle({}, "POST", "/match", kMedia, body, [&](MatchReply r) { got = std::move(r); });
  return got;
}

TEST(MatchmakerTest, TheRequestBecomesTheCaseQuestion) {
  auto request = ParseMatchRequest(R"json({"patient": {
      "id": "P1", "contact": {"name": "Dr A", "href": "mailto:a@x"},
      "features": [{"id": "HP:0001250"}, {"id": "HP:0000252", "observed": "no"}],
      "genomicFeatures": [{"gene": {"id": "PKD1"},
                           "variant": {"assembly": "GRCh38.p13", "referenceName": "16",
                                       "start": 2099999, "referenceBases": "C",
                                       "alternateBases": "T"},
                           "zygosity": 2},
                          {"gene": {"id": "ENSG00000008710", "_geneName": "PKD1"}}],
      "disorders": [{"id": "MIM:601462"}, {"id": "Orphanet:730"}]},
      "_pmdb_top": 25})json");
  ASSERT_THAT(request, IsOk());
  const v1::CaseQuery& q = request->patient();
  EXPECT_EQ(q.phenotypes(0), "HP:0001250");
  EXPECT_EQ(q.excluded_phenotypes(0), "HP:0000252");
  ASSERT_EQ(q.variants_size(), 2);
  EXPECT_EQ(q.variants(0).assembly(), "GRCh38");
  EXPECT_EQ(q.variants(0).pos(), 2100000u) << "MME's start is 0-based";
  EXPECT_EQ(q.variants(0).zygosity(), v1::HOMOZYGOUS);
  EXPECT_EQ(q.variants(1).gene(), "PKD1");
  EXPECT_EQ(q.variants(1).pos(), 0u);
  EXPECT_EQ(q.diagnoses(0), "OMIM:601462");
  EXPECT_EQ(q.diagnoses(1), "ORPHA:730");
  EXPECT_EQ(request->top(), 25u);

  for (const auto& [body, says] : std::vector<std::pair<std::string, std::string>>{
           {R"({"patient": {"id": "P", "contact": {"name": "N", "href": "h"}, "genomicFeatures":
                [{"gene": {"id": "ENSG00000008710"}}]}})",
            "HGNC symbol"},
           {R"({"patient": {"id": "P", "contact": {"name": "N", "href": "h"}, "genomicFeatures":
                [{"gene": {"id": "PKD1"}, "variant": {"assembly": "NCBI36", "referenceName": "1",
                "start": 1, "referenceBases": "A", "alternateBases": "G"}}]}})",
            "NCBI36"},
           {R"({"patient": {"id": "P", "contact": {"name": "N", "href": "h"}, "genomicFeatures":
                [{"gene": {"id": "PKD1"}, "variant": {"assembly": "GRCh38", "referenceName": "1",
                "start": 1e12, "referenceBases": "A", "alternateBases": "G"}}]}})",
            "0-based"},
           {R"({"patient": {"id": "P", "contact": {"name": "N", "href": "h"}, "features":
                [{"id": "HP:0001250"}]}, "_pmdb_top": 0.5})",
            "_pmdb_top"},
           {R"({"patient": {"id": "P", "contact": {"name": "N", "href": "h"}, "species":
                "NCBITaxon:10090", "features": [{"id": "HP:0001250"}]}})",
            "human"},
       }) {
    EXPECT_THAT(ParseMatchRequest(body),
                pmdb::testing::StatusIs(absl::StatusCode::kInvalidArgument, says))
        << body;
  }
}

// A variant match names the variant; a match on the gene only (the case has another variant in
// it) names the gene alone, never the query's variant as if the case carried it.
TEST(MatchmakerTest, ResultsNameOnlyWhatWasMatched) {
  FakeHub hub;
  v1::FederatedSimilarCases answer;
  v1::CaseMatch* m = answer.add_matches();
  m->set_region("vast");
  m->set_score(0.8);
  m->set_case_reference("pmdbref1.vast.abc");
  m->set_contact("genetik@vast.example");
  m->set_sex(v1::FEMALE);
  v1::PhenotypeMatch* p = m->add_phenotypes();
  p->set_query_term("HP:0001250");
  p->set_common_term("HP:0001250");
  p->set_common_label("Seizure");
  v1::VariantMatch* exact = m->add_variants();
  exact->set_query_variant("GRCh38:16:2100000:C:T");
  exact->set_level("variant");
  exact->set_zygosity(v1::HETEROZYGOUS);
  v1::VariantMatch* in_gene = m->add_variants();
  in_gene->set_query_variant("GRCh38:16:2100500:G:A");
  in_gene->set_level("gene");
  hub.answer = answer;
  MatchmakerApi api(&hub, "disclaimer text");
  MatchReply r = Ask(api, R"json({"patient": {"id": "P1",
      "contact": {"name": "Dr A", "href": "mailto:a@x"},
      "features": [{"id": "HP:0001250"}],
      "genomicFeatures": [
        {"gene": {"id": "PKD1"}, "variant": {"assembly": "GRCh38", "referenceName": "16",
         "start": 2099999, "referenceBases": "C", "alternateBases": "T"}},
        {"gene": {"id": "PKD1"}, "variant": {"assembly": "GRCh38", "referenceName": "16",
         "start": 2100499, "referenceBases": "G", "alternateBases": "A"}}]}})json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, kMedia);
  auto j = ParseJson(r.body);
  EXPECT_EQ(JsonString(j, "disclaimer"), "disclaimer text");
  EXPECT_EQ(JsonNumber(j, "results.0.score.patient"), 0.8);
  EXPECT_EQ(JsonString(j, "results.0.patient.id"), "pmdbref1.vast.abc");
  EXPECT_EQ(JsonString(j, "results.0.patient.contact.href"), "mailto:genetik@vast.example");
  EXPECT_EQ(JsonString(j, "results.0.patient.sex"), "FEMALE");
  EXPECT_EQ(JsonString(j, "results.0.patient.features.0.id"), "HP:0001250");
  EXPECT_EQ(JsonString(j, "results.0.patient.genomicFeatures.0.gene.id"), "PKD1");
  EXPECT_EQ(JsonNumber(j, "results.0.patient.genomicFeatures.0.variant.start"), 2099999);
  EXPECT_EQ(JsonNumber(j, "results.0.patient.genomicFeatures.0.zygosity"), 1);
  EXPECT_EQ(JsonString(j, "results.0.patient.genomicFeatures.1.gene.id"), "PKD1");
  EXPECT_TRUE(JsonAt(j, "results.0.patient.genomicFeatures.1.variant").has_null_value())
      << "a gene-level match does not claim the query's variant";
  EXPECT_EQ(JsonString(j, "results.0.patient.genomicFeatures.1._pmdb_level"), "gene");

  // The hub's refusal keeps its status (a researcher's certificate: 403), with a message.
  hub.answer = absl::PermissionDeniedError("only clinicians search for similar cases");
  MatchReply refused = Ask(api, R"({"patient": {"id": "P", "contact": {"name": "N", "href": "h"},
      "features": [{"id": "HP:0001250"}]}})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(JsonString(ParseJson(refused.body), "message").find("only clinicians"),
            std::string::npos);
  hub.answer = absl::InternalError("rocksdb: corruption in /var/lib/pmdb/...");
  MatchReply internal = Ask(api, R"({"patient": {"id": "P", "contact": {"name": "N", "href": "h"},
      "features": [{"id": "HP:0001250"}]}})");
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.body.find("rocksdb"), std::string::npos) << "no internal detail leaves";
}

// The n-th block between ``` lines of a Markdown file.
std::string CodeBlock(const std::string& markdown, int n) {
  size_t at = 0;
  for (int i = 0; i <= n; ++i) {
    at = markdown.find("```", at);
    if (at == std::string::npos) return "";
    at = markdown.find('\n', at) + 1;
    size_t end = markdown.find("```", at);
    if (i == n) return markdown.substr(at, end - at);
    at = end + 3;
  }
  return "";
}

void ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  for (size_t at = text->find(from); at != std::string::npos;
       at = text->find(from, at + to.size())) {
    text->replace(at, from.size(), to);
  }
}

// Each occurrence of `from`, in order, by the next of `to`.
void ReplaceInOrder(std::string* text, const std::string& from,
                    const std::vector<std::string>& to) {
  size_t at = 0;
  for (const std::string& t : to) {
    at = text->find(from, at);
    ASSERT_NE(at, std::string::npos) << from;
    text->replace(at, from.size(), t);
    at += t.size();
  }
}

// The search API's published example request (../shared/specs/mme-apis/search-api.md), its
// placeholders filled with values of the kinds it names, is answered in the shape of the
// published example response; the published 406 body is what an unsupported version gets.
TEST(MatchmakerTest, ThePublishedExamplesAreAnsweredInThePublishedShape) {
  const std::string spec =
      pmdb::testing::ReadFile(pmdb::testing::SharedData("../specs/mme-apis/search-api.md"));
  std::string request = CodeBlock(spec, 0);
  ASSERT_NE(request.find("\"genomicFeatures\""), std::string::npos) << request;
  const std::string more = "\u2026";  // the example's "and so on"
  ReplaceAll(&request, "\"terms\" : : ", "\"terms\" : ");
  ReplaceAll(&request, "\"MIM:######\"|\"Orphanet:#####\"|" + more, "\"MIM:601462\"");
  ReplaceAll(&request, "\"NCBI36\"|\"GRCh37.p13\"|\"GRCh38.p1\"|" + more, "\"GRCh38.p1\"");
  ReplaceAll(&request, "\"1\"|\"2\"|" + more + "|\"X\"|\"Y\"", "\"16\"");
  ReplaceInOrder(&request, "\"A\"|\"ACG\"|" + more, {"\"C\"", "\"T\""});
  ReplaceAll(&request, "<ensembl gene ID>|<entrez gene ID>|<gene symbol>", "\"PKD1\"");
  ReplaceInOrder(&request, "<number>", {"2099999", "2100000", "1"});  // start, end, zygosity
  ReplaceInOrder(&request, "<HPO code>", {"\"HP:0003577\"", "\"HP:0000006\"", "\"HP:0001250\""});
  ReplaceAll(&request, "\"" + more + "\"", "\"HP:0003577\"");  // a feature's age of onset
  ReplaceAll(&request, "<identifier>", "\"P1\"");
  ReplaceAll(&request, "<URL>", "\"https://clinic.example/dr-a\"");
  ReplaceAll(&request, "<NCBI taxon identifier>", "\"NCBITaxon:9606\"");
  ReplaceAll(&request, "<SO code>", "\"SO:0001587\"");
  // One of each list of choices ("a"|"b"|...), and no "and so on" left in a list.
  request = std::regex_replace(request, std::regex("(\"[^\"]*\")(\\|\"[^\"]*\")+"), "$1");
  request = std::regex_replace(request, std::regex(",\\s*" + more), "");
  ASSERT_EQ(request.find(more), std::string::npos) << request;
  ASSERT_EQ(request.find('<'), std::string::npos) << request;

  auto parsed = ParseMatchRequest(request);
  ASSERT_THAT(parsed, IsOk()) << request;
  EXPECT_EQ(parsed->patient().phenotypes(0), "HP:0001250");
  EXPECT_EQ(parsed->patient().diagnoses(0), "OMIM:601462");
  ASSERT_EQ(parsed->patient().variants_size(), 1);
  EXPECT_EQ(parsed->patient().variants(0).pos(), 2100000u);
  EXPECT_EQ(parsed->patient().variants(0).zygosity(), v1::HETEROZYGOUS);

  FakeHub hub;
  v1::FederatedSimilarCases answer;
  v1::CaseMatch* m = answer.add_matches();
  m->set_region("syd");
  m->set_score(0.61);
  m->set_case_reference("pmdbref1.syd.xyz");
  m->set_contact("genetik@syd.example");
  hub.answer = answer;
  MatchmakerApi api(&hub, "");
  MatchReply r = Ask(api, request);
  ASSERT_EQ(r.status, 200) << r.body;
  // The published response: results, each with score.patient in [0, 1] and a patient of the
  // request's form (id and contact mandatory).
  ASSERT_NE(CodeBlock(spec, 1).find("\"score\" : {\n        \"patient\" : <number>"),
            std::string::npos)
      << "the published response example changed";
  auto j = ParseJson(r.body);
  ASSERT_TRUE(JsonAt(j, "results").has_list_value()) << r.body;
  EXPECT_EQ(JsonAt(j, "results").list_value().values_size(), 1);
  const double score = JsonNumber(j, "results.0.score.patient");
  EXPECT_GE(score, 0);
  EXPECT_LE(score, 1);
  EXPECT_FALSE(JsonString(j, "results.0.patient.id").empty());
  EXPECT_FALSE(JsonString(j, "results.0.patient.contact.name").empty());
  EXPECT_FALSE(JsonString(j, "results.0.patient.contact.href").empty());

  // The published 406 example, field for field.
  auto published = ParseJson(CodeBlock(spec, 3));
  MatchReply unsupported;
  api.Handle({}, "POST", "/match", "application/vnd.ga4gh.matchmaker.v2.0+json", request,
             [&](MatchReply got) { unsupported = std::move(got); });
  EXPECT_EQ(unsupported.status, 406);
  auto ours = ParseJson(unsupported.body);
  EXPECT_EQ(JsonString(ours, "message"), JsonString(published, "message"));
  // JsonAt answers a copy: held here while its elements are read.
  const auto our_versions = JsonAt(ours, "supportedVersions");
  const auto published_versions = JsonAt(published, "supportedVersions");
  ASSERT_GT(our_versions.list_value().values_size(), 0);
  for (const auto& v : our_versions.list_value().values()) {
    bool listed = false;
    for (const auto& p : published_versions.list_value().values()) {
      listed = listed || p.string_value() == v.string_value();
    }
    EXPECT_TRUE(listed) << v.string_value() << " is not a published version";
  }
}

}  // namespace
}  // namespace pmdb::beacon
