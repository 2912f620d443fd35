#include "node/vocab/ontology.h"

#include <algorithm>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace pmdb::vocab {
namespace {

constexpr std::string_view kSmall = R"(format-version: 1.2
data-version: test

[Term]
id: HP:0000001
name: All

[Term]
id: HP:0000118
name: Phenotypic abnormality
is_a: HP:0000001 ! All

[Term]
id: HP:0000002
name: Child
alt_id: HP:0000099
is_a: HP:0000118

[Term]
id: HP:0000003
name: Other parent
is_a: HP:0000001

[Term]
id: HP:0000004
name: Grandchild
is_a: HP:0000002
is_a: HP:0000003

[Term]
id: HP:0000005
name: Old term
is_obsolete: true
replaced_by: HP:0000004

[Term]
id: HP:0000006
name: Dead end
is_obsolete: true
consider: HP:0000002

[Typedef]
id: part_of
)";

std::vector<std::string> Ids(const Ontology& o, std::vector<uint32_t> terms) {
  std::vector<std::string> ids;
  for (uint32_t t : terms) ids.push_back(o.term(t).id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(OntologyTest, ClosuresFollowIsAThroughSeveralParents) {
  auto o = Ontology::ParseObo(kSmall, "small.obo");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->size(), 7u);
  uint32_t grandchild = *o->Resolve("HP:0000004").term;
  EXPECT_EQ(Ids(*o, o->AncestorsInclusive(grandchild)),
            (std::vector<std::string>{"HP:0000001", "HP:0000002", "HP:0000003", "HP:0000004",
                                      "HP:0000118"}));
  uint32_t root = *o->Resolve("HP:0000118").term;
  EXPECT_EQ(Ids(*o, o->DescendantsInclusive(root)),
            (std::vector<std::string>{"HP:0000002", "HP:0000004", "HP:0000118"}));
}

TEST(OntologyTest, AltAndObsoleteIdsResolve) {
  auto o = Ontology::ParseObo(kSmall, "small.obo");
  ASSERT_TRUE(o.ok());
  auto alt = o->Resolve("HP:0000099");
  EXPECT_EQ(alt.match, Ontology::Match::kAltId);
  EXPECT_EQ(o->term(*alt.term).id, "HP:0000002");
  auto replaced = o->Resolve("HP:0000005");
  EXPECT_EQ(replaced.match, Ontology::Match::kReplaced);
  EXPECT_EQ(o->term(*replaced.term).id, "HP:0000004");
  auto dead = o->Resolve("HP:0000006");
  EXPECT_EQ(dead.match, Ontology::Match::kObsolete);
  EXPECT_FALSE(dead.term.has_value());
  EXPECT_EQ(o->term(6).consider, std::vector<std::string>{"HP:0000002"});
  EXPECT_EQ(o->Resolve("HP:1234567").match, Ontology::Match::kUnknown);
}

TEST(OntologyTest, BrokenFilesAreClearErrors) {
  EXPECT_NE(std::string(Ontology::ParseObo("hello: world\n", "x.obo").status().message())
                .find("x.obo: not an OBO ontology"),
            std::string::npos);
  EXPECT_NE(std::string(Ontology::ParseObo("format-version: 1.2\nhello\n", "y.obo").status().message())
                .find("y.obo:2: expected 'tag: value'"),
            std::string::npos);
  auto dangling = Ontology::ParseObo("format-version: 1.2\n[Term]\nid: A\nis_a: B\n", "d.obo");
  EXPECT_NE(std::string(dangling.status().message()).find("unknown parent B"), std::string::npos);
  EXPECT_EQ(Ontology::LoadObo("/nonexistent.obo").status().code(), absl::StatusCode::kNotFound);
}

TEST(OntologyTest, LoadsTheRealHpo) {
  auto o = Ontology::LoadObo(pmdb::testing::SharedData("ontology/hp.obo"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->size(), 11030u);
  EXPECT_EQ(o->version(), "releases/2015-01-27");
  // HP:0004715 is an alt_id of Multicystic kidney dysplasia.
  auto alt = o->Resolve("HP:0004715");
  ASSERT_TRUE(alt.term.has_value());
  EXPECT_EQ(o->term(*alt.term).id, "HP:0000003");
  uint32_t neoplasm = *o->Resolve("HP:0002664").term;
  uint32_t breast = *o->Resolve("HP:0100013").term;
  auto ancestors = o->AncestorsInclusive(breast);
  EXPECT_NE(std::find(ancestors.begin(), ancestors.end(), neoplasm), ancestors.end());
  size_t obsolete = 0;
  for (uint32_t i = 0; i < o->size(); ++i) obsolete += o->term(i).obsolete;
  EXPECT_EQ(obsolete, 58u);
}

}  // namespace
}  // namespace pmdb::vocab
