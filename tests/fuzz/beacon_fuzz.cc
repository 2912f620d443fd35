// The standard HTTP APIs as their requests arrive over HTTPS, any bytes: the Beacon v2 API (the
// hub's, with certificates, and a node's public tier, without), and Matchmaker Exchange. The
// first byte picks the API and the method; the rest is "PATH\nQUERY\nBODY". Behind them, a
// backend that answers from fixed numbers and fails with an internal error whose text must
// never reach the caller. Every request must be answered exactly once, with a known status and
// a body that is JSON, and a 500 must say nothing of the failure's own text.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "node/beacon/beacon_api.h"
#include "node/beacon/matchmaker.h"
#include "query/parser.h"
#include "security/identity.h"
#include "security/released.h"

namespace {

using namespace pmdb;

constexpr char kSecret[] = "SECRET-DETAIL of /var/lib/pmdb";

// Fixed answers; a question that names sex(M) fails inside, as a broken disk would.
class FixedBackend : public beacon::BeaconBackend {
 public:
  void Count(const call::Credentials&, const v1::CountRequest& request,
             std::function<void(absl::StatusOr<v1::FederatedCount>)> done) override {
    if (Fails(request.criterion())) return done(absl::InternalError(kSecret));
    v1::FederatedCount c;
    *c.mutable_total() = security::NoisedCount(1234, 7.07, 5);
    v1::RegionPart* ok = c.add_regions();
    ok->set_region("norr");
    ok->set_status(v1::REGION_OK);
    *ok->mutable_count()->mutable_count() = security::NoisedCount(1230, 5, 5);
    v1::RegionPart* late = c.add_regions();
    late->set_region("syd");
    late->set_status(v1::REGION_DEADLINE_EXCEEDED);
    c.set_partial(true);
    done(c);
  }
  void Frequency(const call::Credentials&, const v1::FrequencyRequest& request,
                 std::function<void(absl::StatusOr<v1::FederatedFrequency>)> done) override {
    if (Fails(request.criterion())) return done(absl::InternalError(kSecret));
    v1::FederatedFrequency f;
    *f.mutable_ac() = security::NoisedCount(40, 10, 5);
    *f.mutable_an() = security::NoisedCount(2000, 10, 5);
    v1::RegionPart* ok = f.add_regions();
    ok->set_region("vast");
    ok->set_status(v1::REGION_OK);
    *ok->mutable_frequency()->mutable_ac() = f.ac();
    *ok->mutable_frequency()->mutable_an() = f.an();
    done(f);
  }
  void SimilarCases(const call::Credentials&, const v1::SimilarCasesRequest& request,
                    std::function<void(absl::StatusOr<v1::FederatedSimilarCases>)> done) override {
    if (request.patient().phenotypes_size() > 3) return done(absl::InternalError(kSecret));
    v1::FederatedSimilarCases s;
    v1::CaseMatch* m = s.add_matches();
    m->set_region("vast");
    m->set_score(0.5);
    m->set_case_reference("pmdbref1.vast.x");
    m->set_contact("genetik@vast.example");
    done(s);
  }
  void Info(const call::Credentials&,
            std::function<void(absl::StatusOr<v1::FederationInfo>)> done) override {
    v1::FederationInfo info;
    v1::RegionPart* p = info.add_regions();
    p->set_region("vast");
    p->set_status(v1::REGION_OK);
    v1::DatasetName* d = p->mutable_info()->add_datasets();
    d->set_id("wgs");
    d->set_assembly("GRCh38");
    done(info);
  }
  void Exists(const v1::Criterion& variant,
              std::function<void(absl::StatusOr<v1::PublicAnswer>)> done) override {
    if (variant.variant().pos() % 7 == 0) return done(absl::InternalError(kSecret));
    v1::PublicAnswer a;
    a.set_exists(variant.variant().pos() % 2 == 0);
    a.set_noise_sd(20);
    a.set_threshold(60);
    done(a);
  }
  const vocab::Ontology* ontology() const override { return nullptr; }
  const vocab::CodeList* icd10() const override { return nullptr; }

 private:
  static bool Fails(const v1::Criterion& c) {
    return query::FormatCriterion(c).find("sex(M)") != std::string::npos;
  }
};

void Expect(bool ok, const char* what, const std::string& body) {
  if (!ok) {
    std::fprintf(stderr, "beacon_fuzz: %s\n%s\n", what, body.substr(0, 500).c_str());
    std::abort();
  }
}

void Check(int status, const std::string& body) {
  static const int kKnown[] = {200, 400, 401, 403, 404, 405, 406,
                               415, 422, 429, 500, 501, 503, 504};
  bool known = false;
  for (int k : kKnown) known |= k == status;
  Expect(known, "an unexpected status", body);
  google::protobuf::Value json;
  Expect(google::protobuf::util::JsonStringToMessage(body, &json).ok(), "a body that is not JSON",
         body);
  Expect(body.find("SECRET-DETAIL") == std::string::npos, "an internal error's text left", body);
}

call::Credentials Researcher() {
  call::Credentials c;
  c.peer = security::ParseIdentity("spiffe://fuzz-fed/researcher/anna");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FixedBackend* backend = new FixedBackend;
  static const beacon::BeaconApi* hub_api =
      new beacon::BeaconApi({.id = "se.pmdb.fuzz", .name = "fuzz"}, backend);
  static const beacon::BeaconApi* public_api =
      new beacon::BeaconApi({.id = "se.pmdb.fuzz.public", .name = "fuzz"}, backend, true);
  static const beacon::MatchmakerApi* mme = new beacon::MatchmakerApi(backend, "fuzz");
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t a = rest.find('\n');
  const size_t b = a == std::string::npos ? std::string::npos : rest.find('\n', a + 1);
  const std::string path = rest.substr(0, a);
  const std::string query = a == std::string::npos ? "" : rest.substr(a + 1, b - a - 1);
  const std::string body = b == std::string::npos ? "" : rest.substr(b + 1);
  static const char* const kMethods[] = {"GET", "POST", "HEAD", "PUT"};
  const std::string method = kMethods[(data[0] >> 2) % 4];
  std::atomic<int> answers{0};
  switch (data[0] % 3) {
    case 0:
    case 1: {
      const beacon::BeaconApi& api = data[0] % 3 == 0 ? *hub_api : *public_api;
      api.Handle(data[0] % 3 == 0 ? Researcher() : call::Credentials{},
                 {.method = method,
                  .path = path,
                  .query = query,
                  .body = body,
                  .content_type = (data[0] & 0x40) ? "application/json" : "text/plain",
                  .base_url = "https://fuzz.example/api"},
                 [&](beacon::BeaconHttpReply r) {
                   ++answers;
                   Check(r.status, r.body);
                 });
      break;
    }
    case 2:
      mme->Handle(Researcher(), method, path, "application/vnd.ga4gh.matchmaker.v1.1+json", body,
                  [&](beacon::MatchReply r) {
                    ++answers;
                    Check(r.status, r.body);
                  });
      break;
  }
  // The fixed backend answers at once, so the answer has come by now, and only one.
  Expect(answers == 1, "not answered exactly once", rest);
  return 0;
}
