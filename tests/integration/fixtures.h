// Small hand-written inputs shared by the integration tests.
#ifndef PMDB_TESTS_INTEGRATION_FIXTURES_H_
#define PMDB_TESTS_INTEGRATION_FIXTURES_H_

#include <string>

namespace pmdb::testing {

// Four samples on GRCh38 chr1. Record 1 is multi-allelic with padding (GTT>GCT is T>C at 101,
// GTT>G is a deletion at 100); record 2 failed a filter; record 3 is a symbolic deletion.
inline constexpr char kFourSampleVcf[] =
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr1>\n"
    "##FILTER=<ID=LowQual,Description=\"low\">\n"
    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tP1\tP2\tP3\tP4\n"
    "chr1\t100\t.\tGTT\tGCT,G\t.\tPASS\t.\tGT\t0/1\t1/2\t2/2\t./.\n"
    "chr1\t200\t.\tA\tC\t.\tLowQual\t.\tGT\t0/1\t0/1\t0/0\t0/0\n"
    "chr1\t300\t.\tT\t<DEL>\t.\t.\t.\tGT\t0/0\t0/1\t0/0\t1/1\n";

// Clinical records for P1..P3 (P4 has none) in JSON Lines, with one field pmdb does not model.
inline constexpr char kThreePhenopackets[] =
    R"({"id":"a","subject":{"id":"P1","sex":"FEMALE","timeAtLastEncounter":{"age":{"iso8601duration":"P64Y"}}},"phenotypicFeatures":[{"type":{"id":"HP:0100013","label":"Neoplasm of the breast"}}],"diseases":[{"term":{"id":"ICD10:C50.9"}}],"medicalActions":[{"treatment":{"agent":{"id":"ATC:L02BA01"}}}]})"
    "\n"
    R"({"id":"b","subject":{"id":"P2","sex":"MALE","timeAtLastEncounter":{"age":{"iso8601duration":"P71Y"}},"vitalStatus":{"status":"ALIVE"}},"diseases":[{"term":{"id":"ICD10:C61"}}],"favouriteColour":"blue"})"
    "\n"
    R"({"id":"c","subject":{"id":"P3","sex":"FEMALE"},"phenotypicFeatures":[{"type":{"id":"HP:0004715"}},{"type":{"id":"HP:0100013"},"excluded":true}],"diseases":[{"term":{"id":"OMIM:114480"}}]})"
    "\n";

}  // namespace pmdb::testing

#endif  // PMDB_TESTS_INTEGRATION_FIXTURES_H_
