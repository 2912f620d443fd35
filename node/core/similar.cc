// NodeCore: the clinicians' path — similar cases and contact requests.
#include "node/core/similar.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "node/base/strings.h"
#include "node/call/released.h"
#include "node/core/node_core.h"
#include "node/storage/keys.h"
#include "node/vocab/case_query.h"
#include "security/case_ref.h"

namespace pmdb::core {

namespace keys = storage::keys;
using security::Method;

absl::StatusOr<RankedCases> ScoreCases(const query::CaseIndex& index, const storage::ReadView& view,
                                       const v1::CaseQuery& question, const RankOptions& options,
                                       bool subject_ids) {
  auto carriers = query::ReadCarriers(view, question);
  if (!carriers.ok()) return carriers.status();
  // Consent as of now, not as of the index: a withdrawal counts at once.
  auto care = view.GetBitmap(keys::Consent("care"));
  if (!care.ok()) return care.status();
  auto ranked = query::RankSimilar(
      index, question, *carriers, options.top,
      [&](uint32_t ordinal) {
        return care->Contains(ordinal) && (!options.eligible || options.eligible(ordinal));
      },
      options.weights);
  if (!ranked.ok()) return ranked.status();
  RankedCases out;
  for (query::ScoredCase& scored : ranked->top) {
    uint32_t ordinal = index.at(scored.position).ordinal;
    v1::CaseMatch& m = *out.answer.add_matches() = std::move(scored.match);
    if (subject_ids) {
      auto record = view.Get(storage::Family::kIndividuals, keys::Individual(ordinal));
      if (!record.ok()) return record.status();
      v1::IndividualRecord r;
      if (record->has_value() && r.ParseFromString(**record)) m.set_subject_id(r.subject_id());
    }
    out.ordinals.push_back(ordinal);
  }
  for (v1::TermNote& n : ranked->notes) *out.answer.add_notes() = std::move(n);
  out.answer.set_cases_considered(ranked->considered);
  return out;
}

RankedCases MergeRanked(std::vector<RankedCases> lists, uint32_t top) {
  struct Entry {
    double score;
    uint32_t ordinal;
    v1::CaseMatch* match;
  };
  std::vector<Entry> all;
  RankedCases out;
  uint64_t considered = 0;
  for (RankedCases& list : lists) {
    considered += list.answer.cases_considered();
    for (int i = 0; i < list.answer.matches_size(); ++i) {
      v1::CaseMatch* m = list.answer.mutable_matches(i);
      all.push_back({m->score(), list.ordinals[i], m});
    }
  }
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) {
    return a.score != b.score ? a.score > b.score : a.ordinal < b.ordinal;
  });
  if (all.size() > top) all.resize(top);
  for (Entry& e : all) {
    *out.answer.add_matches() = std::move(*e.match);
    out.ordinals.push_back(e.ordinal);
  }
  if (!lists.empty()) *out.answer.mutable_notes() = std::move(*lists[0].answer.mutable_notes());
  out.answer.set_cases_considered(considered);
  return out;
}

absl::Status PresentCases(const RankOptions& options, RankedCases* ranked) {
  RankedCases out;
  out.answer.set_cases_considered(ranked->answer.cases_considered());
  *out.answer.mutable_notes() = std::move(*ranked->answer.mutable_notes());
  for (int i = 0; i < ranked->answer.matches_size(); ++i) {
    v1::CaseMatch& given = *ranked->answer.mutable_matches(i);
    if (given.score() < options.min_score) continue;
    const uint32_t ordinal = ranked->ordinals[i];
    v1::CaseMatch& m = *out.answer.add_matches() = std::move(given);
    m.set_region(options.region);
    m.set_contact(options.contact);
    if (options.reference_key != nullptr) {
      m.clear_subject_id();  // a reference instead, whatever the scorer set
      auto ref = security::SealCaseReference(*options.reference_key,
                                             {options.region, ordinal, options.expires_unix});
      if (!ref.ok()) return ref.status();
      m.set_case_reference(*ref);
      m.set_reference_expires_unix(options.expires_unix);
    }
    out.ordinals.push_back(ordinal);
  }
  *ranked = std::move(out);
  return absl::OkStatus();
}

absl::StatusOr<RankedCases> RankCases(const query::CaseIndex& index, const storage::ReadView& view,
                                      const v1::CaseQuery& question, const RankOptions& options) {
  auto ranked =
      ScoreCases(index, view, question, options, /*subject_ids=*/options.reference_key == nullptr);
  if (!ranked.ok()) return ranked.status();
  absl::Status presented = PresentCases(options, &*ranked);
  if (!presented.ok()) return presented;
  return ranked;
}

namespace {

double Hundredths(double x) { return std::round(x * 100) / 100; }

// What a clinician sees of a region's ranking: scores to two decimals, no information content
// (it is computed from the region's own term frequencies), no count of the cases scored.
void ForClinicians(v1::SimilarCasesAnswer& answer) {
  answer.set_cases_considered(0);
  for (v1::CaseMatch& m : *answer.mutable_matches()) {
    m.set_score(Hundredths(m.score()));
    m.set_phenotype_score(Hundredths(m.phenotype_score()));
    m.set_genotype_score(Hundredths(m.genotype_score()));
    m.set_diagnosis_score(Hundredths(m.diagnosis_score()));
    for (v1::PhenotypeMatch& p : *m.mutable_phenotypes()) p.clear_information_content();
  }
}

}  // namespace

absl::StatusOr<v1::SimilarCasesAnswer> NodeCore::RankCases(const v1::CaseQuery& question,
                                                           uint32_t top,
                                                           const call::Caller* clinician,
                                                           v1::AuditEntry* entry) {
  const bool local = clinician == nullptr;
  if (top == 0) top = 10;
  if (top > settings_.clinician.max_top) {
    return absl::InvalidArgumentError(
        StrCat("top is at most ", settings_.clinician.max_top, " in region ", settings_.region));
  }
  RankOptions options{
      .region = settings_.region,
      .contact = settings_.clinician.contact,
      .top = top,
      .reference_key = local ? nullptr : &reference_key_,
      .expires_unix = clock_->NowSeconds() + settings_.clinician.reference_ttl_seconds};
  const int64_t now = clock_->NowSeconds();
  if (!local) {
    options.eligible = [&](uint32_t ordinal) {
      return sharing_.MayReturn(clinician->user.uri, ordinal, now);
    };
    options.min_score = settings_.clinician.min_score;
  }
  absl::StatusOr<RankedCases> ranked;
  if (sharded()) {
    // Every shard scores its own cases with the region's information content; the node merges
    // their best and presents them as it would its own.
    CaseSearch search{.top = top, .subject_ids = local};
    if (!local) search.not_returnable = sharing_.NotReturnable(clinician->user.uri, now);
    ranked = sources()->RankCases(question, search);
    if (!ranked.ok() && !local && ranked.status().code() != absl::StatusCode::kInvalidArgument) {
      // Which shard failed and where it runs stays in the region.
      std::fprintf(stderr, "pmdb: a similar-case search failed on the shards: %s\n",
                   ranked.status().ToString().c_str());
      ranked = absl::UnavailableError(
          StrCat("region ", settings_.region,
                 " could not search its cases now (the reason is in its operator's log)"));
    }
    if (ranked.ok()) {
      absl::Status presented = PresentCases(options, &*ranked);
      if (!presented.ok()) ranked = presented;
    }
  } else {
    ranked = core::RankCases(*cases(), *store_->Snapshot(), question, options);
  }
  if (!ranked.ok()) return ranked.status();
  for (uint32_t ordinal : ranked->ordinals) entry->add_individuals(ordinal);
  if (!local) {
    sharing_.Returned(clinician->user.uri, ranked->ordinals, now);
    ForClinicians(ranked->answer);
  }
  entry->set_released(call::Released(ranked->answer));
  return std::move(ranked->answer);
}

void NodeCore::SimilarCases(const Credentials& who, const v1::SimilarCasesRequest& request,
                            Done<v1::SimilarCasesAnswer> done) {
  const auto arrived = Pacer::Steady::now();
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::SimilarCasesAnswer> {
    auto caller = Authorize(who, Method::kRegionSimilarCases, &entry);
    if (!caller.ok()) return caller.status();
    v1::CaseQuery question = request.patient();
    absl::Status normalized = vocab::NormalizeCaseQuery(&question);
    entry.set_query(vocab::FormatCaseQuery(question));
    if (!normalized.ok()) return normalized;
    if (static_cast<uint32_t>(question.phenotypes_size()) < settings_.clinician.min_phenotypes) {
      return absl::InvalidArgumentError(
          StrCat("a similar-case search in region ", settings_.region, " needs at least ",
                 settings_.clinician.min_phenotypes, " observed phenotypes (HPO terms); it has ",
                 question.phenotypes_size()));
    }
    absl::Status shared = sharing_.CheckSimilar(*caller, clock_->NowSeconds());
    if (!shared.ok()) return shared;
    return RankCases(question, request.top(), &*caller, &entry);
  };
  auto answer = run();
  call::Finish(*audit_, std::move(entry), std::move(answer), Paced(arrived, std::move(done)));
}

absl::StatusOr<v1::SimilarCasesAnswer> NodeCore::LocalSimilarCases(
    const Credentials& who, const v1::LocalSimilarRequest& request) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::SimilarCasesAnswer> {
    auto caller = Authorize(who, Method::kAdminSimilarCases, &entry);
    if (!caller.ok()) return caller.status();
    v1::CaseQuery question = request.patient();
    absl::Status normalized = vocab::NormalizeCaseQuery(&question);
    entry.set_query(vocab::FormatCaseQuery(question));
    if (!normalized.ok()) return normalized;
    return RankCases(question, request.top(), /*clinician=*/nullptr, &entry);
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

void NodeCore::RequestContact(const Credentials& who, const v1::ContactRequest& request,
                              Done<v1::ContactTicket> done) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::ContactTicket> {
    auto caller = Authorize(who, Method::kRegionRequestContact, &entry);
    if (!caller.ok()) return caller.status();
    entry.set_query("contact request");
    absl::Status s = sharing_.CheckContact(*caller);
    if (s.ok()) s = ContactBook::CheckReason(request.reason());
    if (!s.ok()) return s;
    auto ref = security::OpenCaseReference(reference_key_, settings_.region,
                                           request.case_reference(), clock_->NowSeconds());
    if (!ref.ok()) return ref.status();
    entry.add_individuals(ref->ordinal);
    auto ticket = contacts_.Open(caller->user.uri, ref->ordinal, request.reason(), *sources());
    if (!ticket.ok()) return ticket.status();
    std::string id = ticket->request_id().substr(settings_.region.size() + 1);
    entry.set_query(StrCat("contact request ", id));
    entry.set_released(StrCat("request=", ticket->request_id()));
    return ticket;
  };
  auto ticket = run();
  call::Finish(*audit_, std::move(entry), std::move(ticket), std::move(done));
}

void NodeCore::ContactStatus(const Credentials& who, const v1::ContactStatusRequest& request,
                             Done<v1::ContactTicket> done) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::ContactTicket> {
    auto caller = Authorize(who, Method::kRegionContactStatus, &entry);
    if (!caller.ok()) return caller.status();
    entry.set_query(StrCat("contact status ", request.request_id()));
    auto ticket = contacts_.StatusFor(caller->user.uri, request.request_id());
    if (ticket.ok()) entry.set_released(StrCat("state=", v1::ContactState_Name(ticket->state())));
    return ticket;
  };
  auto ticket = run();
  call::Finish(*audit_, std::move(entry), std::move(ticket), std::move(done));
}

}  // namespace pmdb::core
