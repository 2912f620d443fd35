// Beacon v2 requests as clients send them, turned into pmdb's question: every condition kept
// (Beacon's 0-based start becomes pmdb's 1-based position), anything pmdb cannot answer as
// asked refused by name.
#include "node/beacon/request.h"

#include "gtest/gtest.h"
#include "query/parser.h"
#include "tests/test_util.h"

namespace pmdb::beacon {
namespace {

using ::pmdb::testing::IsOk;
using ::pmdb::testing::StatusIs;

std::string Text(const absl::StatusOr<BeaconQuery>& q) {
  return q.ok() ? query::FormatCriterion(q->criterion) : q.status().ToString();
}

TEST(BeaconRequestTest, GetFiltersAndAVariantBecomeOneQuestion) {
  auto q = ParseGetQuery(
      "filters=HP:0001250,NCIT:C16576&requestedGranularity=count&assemblyId=GRCh38"
      "&referenceName=22&start=16050074&referenceBases=A&alternateBases=G&limit=5");
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(Text(q), "hpo(HP:0001250) AND sex(F) AND variant(GRCh38:22:16050075:A:G)");
  EXPECT_EQ(q->granularity, Granularity::kCount);
  EXPECT_EQ(q->limit, 5u);
  EXPECT_EQ(q->filter_ids, (std::vector<std::string>{"HP:0001250", "NCIT:C16576"}));
  EXPECT_EQ(q->genomic, v1::Criterion::kVariant);
  const auto& echo = q->request_parameters.fields().at("g_variant").struct_value().fields();
  EXPECT_EQ(echo.at("start").list_value().values(0).number_value(), 16050074);
  EXPECT_EQ(echo.at("referenceName").string_value(), "22");
}

TEST(BeaconRequestTest, ARangeIsHalfOpenAndZeroBased) {
  auto q = ParseGetQuery("assemblyId=GRCh38&referenceName=22&start=999&end=2000");
  EXPECT_EQ(Text(q), "range(GRCh38:22:1000-2000)");
  auto repeated = ParseGetQuery("assemblyId=GRCh38&referenceName=22&start=999&end=2000&geneid=");
  EXPECT_FALSE(repeated.ok()) << "a gene and a position are not both taken";
  auto gene = ParseGetQuery("geneid=BRCA2&requestedGranularity=boolean");
  EXPECT_EQ(Text(gene), "gene(BRCA2)");
}

TEST(BeaconRequestTest, PostBodyWithFiltersOfEveryKindAndTheExtension) {
  auto q = ParsePostBody(R"json({
    "meta": {"apiVersion": "v2.0.0", "requestedSchemas": [{"schema": "ga4gh-beacon-individual-v2.0.0"}]},
    "query": {
      "requestParameters": {"g_variant": {"assemblyId": "GRCh38", "referenceName": "22",
                                          "start": [17000009], "referenceBases": "AT",
                                          "alternateBases": "A"}},
      "filters": [{"id": "ICD10:C50", "includeDescendantTerms": true, "scope": "individual"},
                  {"id": "age", "operator": ">=", "value": "P40Y"},
                  {"id": "sex", "operator": "=", "value": "male"},
                  {"id": "pmdb:criterion", "operator": "=", "value": "treatment(L01) OR NOT hpo(HP:0000708)"}],
      "includeResultsetResponses": "ALL", "pagination": {"skip": 0, "limit": 10},
      "requestedGranularity": "count", "testMode": false}})json");
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(Text(q),
            "dx(C50) AND age(40-) AND sex(M) AND (treatment(L01) OR NOT hpo(HP:0000708)) AND "
            "variant(GRCh38:22:17000010:AT:A)");
  EXPECT_EQ(q->include_resultset_responses, "ALL");
  EXPECT_EQ(q->requested_schemas, (std::vector<std::string>{"ga4gh-beacon-individual-v2.0.0"}));
  // The flat form of requestParameters, which older clients send, is read too.
  auto flat = ParsePostBody(R"({"meta": {"apiVersion": "v2.0.0"}, "query": {"requestParameters":
      {"assemblyId": "GRCh38", "referenceName": "22", "start": 99, "end": 200}}})");
  EXPECT_EQ(Text(flat), "range(GRCh38:22:100-200)");
}

TEST(BeaconRequestTest, AgeOperators) {
  auto age = [](const std::string& op, const std::string& value) {
    return Text(ParsePostBody(R"({"meta":{},"query":{"filters":[{"id":"age","operator":")" + op +
                              R"(","value":")" + value + R"("}]}})"));
  };
  EXPECT_EQ(age(">", "40"), "age(41-)");
  EXPECT_EQ(age("<", "P18Y"), "age(0-17)");
  EXPECT_EQ(age("<=", "P18Y6M"), "age(0-18)");
  EXPECT_EQ(age("=", "60"), "age(60)");
  EXPECT_EQ(age("!", "60"), "NOT age(60)");
}

// A condition pmdb cannot answer as asked is refused, naming it: never silently dropped.
TEST(BeaconRequestTest, WhatCannotBeAnsweredAsAskedIsRefusedByName) {
  struct Case {
    std::string query;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"filters=OMIM:601462", "filter 'OMIM:601462' is not one pmdb answers"},
           {"assemblyId=GRCh38&referenceName=22&start=1,2&end=5,9", "bracket queries"},
           {"assemblyId=GRCh38&referenceName=22&start=10&alternateBases=G", "referenceBases"},
           {"assemblyId=GRCh38&referenceName=22&start=10&end=20&alternateBases=G", "not supported"},
           {"referenceName=22&start=10&end=20", "assemblyId"},
           {"assemblyId=GRCh38&referenceName=22&start=20&end=20", "end must be greater"},
           {"variantType=DEL&assemblyId=GRCh38", "'variantType' is not supported"},
           {"requestedGranularity=all", "requestedGranularity"},
           {"limit=-1", "limit"},
           {"pmdb_criterion=sex(F) AND AND", "pmdb:criterion"},
       }) {
    EXPECT_THAT(ParseGetQuery(c.query), StatusIs(absl::StatusCode::kInvalidArgument, c.says))
        << c.query;
  }
  for (const auto& [body, says] : std::vector<std::pair<std::string, std::string>>{
           {R"({"query":{"filters":[{"id":"HP:0001250","includeDescendantTerms":false}]}})",
            "includeDescendantTerms false"},
           {R"({"query":{"filters":[{"id":"HP:0001250","similarity":"high"}]}})", "similarity"},
           {R"({"query":{"filters":[{"id":"HP:0001250","scope":"biosample"}]}})", "scope"},
           {R"({"query":{"filters":[{"id":"age","operator":"~","value":"4"}]}})", "operator"},
           {R"({"query":{"filters":[{"operator":"="}]}})", "needs an id"},
           {R"([1, 2])", "not a JSON object"},
           {R"({"query":{"requestParameters":{"g_variant":{"start":[1]},"start":[2]}}})",
            "not both"},
       }) {
    EXPECT_THAT(ParsePostBody(body), StatusIs(absl::StatusCode::kInvalidArgument, says)) << body;
  }
}

TEST(BeaconRequestTest, PercentDecoding) {
  EXPECT_EQ(PercentDecode("HP%3A0001250+x%zz%4"), "HP:0001250 x%zz%4");
  auto q = ParseGetQuery("pmdb_criterion=dx%28C50%29%20OR%20dx(C34)");
  EXPECT_EQ(Text(q), "dx(C50) OR dx(C34)");
}

}  // namespace
}  // namespace pmdb::beacon
