// NodeCore: the calls of the region's own operators (AdminService). Exact answers, and every
// call audited before it returns.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "node/base/strings.h"
#include "node/call/released.h"
#include "node/core/backup.h"
#include "node/core/node_core.h"
#include "node/core/releaser.h"
#include "node/ingest/clinical_ingest.h"
#include "node/ingest/consent.h"
#include "node/ingest/vcf_ingest.h"
#include "node/storage/keys.h"
#include "query/engine.h"
#include "query/parser.h"

namespace pmdb::core {
namespace {

using security::Method;

}  // namespace

absl::StatusOr<v1::IngestReply> NodeCore::Ingest(const Credentials& who, UploadStream& upload) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::IngestReply> {
    // Authorized before a byte of the upload is read.
    auto caller = Authorize(who, Method::kAdminIngest, &entry);
    if (!caller.ok()) return caller.status();
    auto received = ReceiveUpload(upload, [this](size_t bytes) {
      if (metrics::Registry* m = metrics_.load()) {
        m->Add("pmdb_ingest_received_bytes_total", {}, static_cast<double>(bytes));
      }
    });
    if (!received.ok()) return received.status();
    const v1::IngestHeader& header = received->header;
    const std::string format = header.format() == v1::IngestHeader::VCF ? "vcf" : "phenopackets";
    entry.set_query(
        StrCat(format, header.dataset().empty() ? "" : StrCat(" dataset=", header.dataset())));
    std::shared_ptr<ShardWrites> shards = shard_writes();
    // A sharded region's people are on its shards: the upload goes to the one that holds them.
    auto reply = shards != nullptr ? shards->Ingest(*received) : IngestUpload(*store_, *received);
    if (!reply.ok()) return reply.status();
    entry.set_released(StrCat("bytes=", received->bytes, " records=", reply->records_read()));
    if (metrics::Registry* m = metrics_.load()) {
      m->Add("pmdb_ingest_records_total", {{"format", format}},
             static_cast<double>(reply->records_read()));
      m->Add("pmdb_ingest_individuals_new_total", {{"format", format}},
             static_cast<double>(reply->individuals_new()));
    }
    absl::Status reloaded = shards != nullptr ? absl::OkStatus() : ReloadCatalog();
    if (!reloaded.ok()) return reloaded;
    return reply;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

absl::StatusOr<v1::ConsentReply> NodeCore::Consent(const Credentials& who,
                                                   const v1::ConsentRequest& request) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::ConsentReply> {
    auto caller = Authorize(who, Method::kAdminConsent, &entry);
    if (!caller.ok()) return caller.status();
    // The subjects are never logged: the entry says how many and for what.
    entry.set_query(request.file().empty()
                        ? StrCat("opt-out subjects=", request.subjects_size(),
                                 " purpose=", request.purpose().empty() ? "all" : request.purpose())
                        : "opt-out file");
    std::shared_ptr<ShardWrites> shards = shard_writes();
    // A sharded region records an opt-out on every shard: wherever the person is, or comes.
    auto reply = shards != nullptr ? shards->OptOut(request) : ApplyOptOuts(*store_, request);
    if (!reply.ok()) return reply.status();
    if (!request.file().empty()) entry.set_query(StrCat("opt-out lines=", reply->lines()));
    entry.set_released(StrCat("removed=", reply->removed()));
    absl::Status reloaded = shards != nullptr ? absl::OkStatus() : ReloadCatalog();
    if (!reloaded.ok()) return reloaded;  // withdrawn cases leave the similar-case index
    return reply;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

absl::StatusOr<v1::AuditListReply> NodeCore::AuditList(const Credentials& who,
                                                       const v1::AuditListRequest& request) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::AuditListReply> {
    auto caller = Authorize(who, Method::kAdminAuditList, &entry);
    if (!caller.ok()) return caller.status();
    security::AuditFilter filter{.caller = request.caller(),
                                 .since_unix_micros = request.since_unix_micros(),
                                 .limit = request.limit() == 0 ? 1000 : request.limit(),
                                 .newest = request.newest()};
    auto view = store_->Snapshot();
    if (!request.subject().empty()) {
      // Wherever the person is: the store, or a sharded region's shards.
      auto ordinal = sources()->OrdinalOf(request.subject());
      if (!ordinal.ok()) return ordinal.status();
      if (!ordinal->has_value()) {
        return absl::NotFoundError("that subject is not in this store (never ingested, or erased)");
      }
      filter.individual = **ordinal;
      // Looking a patient up is itself an access to their data, listed for them next time.
      entry.add_individuals(*filter.individual);
    }
    auto entries = security::ListAudit(*view, filter);
    if (!entries.ok()) return entries.status();
    v1::AuditListReply reply;
    for (v1::AuditEntry& e : *entries) *reply.add_entries() = std::move(e);
    entry.set_released(StrCat("entries=", reply.entries_size()));
    return reply;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

absl::StatusOr<v1::StatusReply> NodeCore::Status(const Credentials& who) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::StatusReply> {
    auto caller = Authorize(who, Method::kAdminStatus, &entry);
    if (!caller.ok()) return caller.status();
    v1::StatusReply reply;
    reply.set_region(settings_.region);
    reply.set_version(kVersion);
    reply.set_started_unix(started_unix_);
    if (auto people = sources()->People(); people.has_value()) {
      // A sharded region: its people are on the shards.
      if (people->ok()) {
        reply.set_individuals((*people)->individuals);
        reply.set_consent_research((*people)->research);
        reply.set_consent_care((*people)->care);
      } else {
        reply.set_people_unknown(true);
      }
    } else {
      auto view = store_->Snapshot();
      auto all = view->GetBitmap(storage::keys::kAllIndividuals);
      if (all.ok()) reply.set_individuals(all->Cardinality());
      auto research = view->GetBitmap(storage::keys::Consent("research"));
      if (research.ok()) reply.set_consent_research(research->Cardinality());
      auto care = view->GetBitmap(storage::keys::Consent("care"));
      if (care.ok()) reply.set_consent_care(care->Cardinality());
    }
    std::shared_ptr<const vocab::Catalog> catalog = this->catalog();
    for (const auto& [id, d] : catalog->datasets()) (*reply.mutable_datasets())[id] = d;
    if (catalog->ontology() != nullptr) {
      reply.set_ontology(catalog->ontology()->version());
      reply.set_ontology_terms(catalog->ontology()->size());
    }
    for (const std::string& assembly : catalog->assemblies()) {
      if (const vocab::GeneTable* t = catalog->gene_table(assembly)) {
        (*reply.mutable_gene_tables())[assembly] = t->size();
      }
    }
    if (const vocab::CodeList* icd10 = catalog->icd10()) {
      reply.set_icd10_codes(icd10->size());
      reply.set_icd10_list(icd10->source());
    }
    reply.set_shards(sources()->Describe());
    auto disk = store_->DiskSize();
    if (disk.ok()) reply.set_disk_bytes(*disk);
    reply.set_audit_entries(audit_->size());
    reply.set_audit_head(audit_->head_hash());
    *reply.mutable_disclosure() = discloser_.Applied();
    for (v1::BudgetState& b : sharing_.RegionBudgets(clock_->NowSeconds())) {
      *reply.add_budgets() = std::move(b);
    }
    return reply;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

absl::StatusOr<v1::BackupReply> NodeCore::Backup(const Credentials& who,
                                                 const v1::BackupRequest& request) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::BackupReply> {
    auto caller = Authorize(who, Method::kAdminBackup, &entry);
    if (!caller.ok()) return caller.status();
    if (request.dir().empty() || !std::filesystem::path(request.dir()).is_absolute()) {
      return absl::InvalidArgumentError(
          "a backup directory is an absolute path on the node's machine");
    }
    entry.set_query(StrCat("backup into ", request.dir()));
    auto made = BackUp(*store_, request.dir());
    if (!made.ok()) return made.status();
    v1::BackupReply reply;
    reply.set_backup_id(made->backup.id);
    reply.set_created_unix(made->backup.created_unix);
    reply.set_bytes(made->backup.bytes);
    reply.set_files(made->backup.files);
    reply.set_data_version(made->manifest.data_version);
    reply.set_digest(made->manifest.digest);
    reply.set_individuals(made->manifest.individuals);
    reply.set_audit_entries(made->manifest.audit_entries);
    entry.set_released(StrCat("backup ", made->backup.id, " digest=", made->manifest.digest));
    return reply;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

absl::StatusOr<v1::AdminQueryReply> NodeCore::ExactAnswer(
    const v1::AdminQueryRequest& request) const {
  // Exact answers for the region's own operator: no side channel to close.
  query::Engine engine(catalog(), query::Engine::kExact);
  auto view = sources()->Open();
  v1::AdminQueryReply reply;
  if (request.dimensions_size() > 0) {
    auto dims = query::CheckDimensions(request.dimensions());
    if (!dims.ok()) return dims.status();
    auto diagnoses = query::CheckDiagnoses(*dims, request.diagnoses());
    if (!diagnoses.ok()) return diagnoses.status();
    auto a = Releaser(engine).Breakdown(*view, request.criterion(), *dims, *diagnoses,
                                        request.purpose());
    if (!a.ok()) return a.status();
    *reply.mutable_breakdown() = std::move(a->answer);
  } else if (request.frequency()) {
    auto a = Releaser(engine).Frequency(*view, request.criterion(), request.purpose());
    if (!a.ok()) return a.status();
    *reply.mutable_frequency() = std::move(a->answer);
  } else {
    auto a = Releaser(engine).Count(*view, request.criterion(), request.purpose());
    if (!a.ok()) return a.status();
    *reply.mutable_count() = std::move(a->answer);
  }
  return reply;
}

absl::StatusOr<v1::AdminQueryReply> NodeCore::Query(const Credentials& who,
                                                    const v1::AdminQueryRequest& request) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::AdminQueryReply> {
    auto caller = Authorize(who, Method::kAdminQuery, &entry);
    if (!caller.ok()) return caller.status();
    entry.set_query(query::FormatCriterion(request.criterion()));
    auto reply = ExactAnswer(request);
    if (!reply.ok()) return reply.status();
    entry.set_released(reply->has_breakdown()   ? call::Released(reply->breakdown())
                       : reply->has_frequency() ? call::Released(reply->frequency())
                                                : call::Released(reply->count()));
    return reply;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

absl::StatusOr<v1::ContactListReply> NodeCore::ContactList(const Credentials& who,
                                                           const v1::ContactListRequest& request) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::ContactListReply> {
    auto caller = Authorize(who, Method::kAdminContactList, &entry);
    if (!caller.ok()) return caller.status();
    entry.set_query(StrCat("contact list ", v1::ContactState_Name(request.state())));
    auto list = contacts_.List(request.state(), *sources());
    if (list.ok()) entry.set_released(StrCat("requests=", list->requests_size()));
    return list;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

absl::StatusOr<v1::ContactTicket> NodeCore::ContactAnswer(const Credentials& who,
                                                          const v1::ContactAnswerRequest& request) {
  v1::AuditEntry entry;
  auto run = [&]() -> absl::StatusOr<v1::ContactTicket> {
    auto caller = Authorize(who, Method::kAdminContactAnswer, &entry);
    if (!caller.ok()) return caller.status();
    entry.set_query(StrCat("contact answer ", request.request_id()));
    uint32_t ordinal = 0;
    auto ticket = contacts_.Answer(caller->user.uri, request, &ordinal);
    if (!ticket.ok()) return ticket.status();
    entry.add_individuals(ordinal);
    entry.set_released(StrCat("state=", v1::ContactState_Name(ticket->state())));
    return ticket;
  };
  auto result = run();  // before `entry` is moved
  return call::FinishAndWait(*audit_, std::move(entry), std::move(result));
}

}  // namespace pmdb::core
