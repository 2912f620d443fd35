#include "node/shard/shard_set.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "node/base/strings.h"
#include "node/shard/shard_map.h"
#include "node/shard/shard_service.h"
#include "node/storage/keys.h"
#include "node/transport/status.h"
#include "node/transport/tls.h"
#include "pmdb/v1/records.pb.h"

namespace pmdb::shard {
namespace {

namespace keys = storage::keys;
using Shards = std::vector<std::shared_ptr<const ShardSet::Shard>>;

std::string NameOf(const ShardSet::Shard& s) {
  return StrCat("shard ", s.entry.name(), " (", s.entry.address(), ", ordinals ",
                s.entry.first_ordinal(), "-", s.entry.end_ordinal(), ")");
}

// Sends `request` to every shard at once and waits for all of them; each shard's answer or
// error. With `fail_fast`, the first failure cancels the calls still running.
template <typename Request, typename Reply, typename Issue>
std::vector<absl::StatusOr<Reply>> CallAll(const Shards& shards, const Request& request,
                                           std::chrono::milliseconds deadline, bool fail_fast,
                                           Issue issue) {
  struct Call {
    grpc::ClientContext context;
    Request request;
    Reply reply;
    grpc::Status status;
  };
  std::vector<Call> calls(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    calls[i].request = request;
    // Each shard is told which store and range the node takes it for (ShardExpect).
    if constexpr (requires(Request r) { r.mutable_expect(); }) {
      v1::ShardExpect* e = calls[i].request.mutable_expect();
      e->set_store_id(shards[i]->entry.store_id());
      e->set_first_ordinal(shards[i]->entry.first_ordinal());
      e->set_end_ordinal(shards[i]->entry.end_ordinal());
    }
  }
  std::mutex mu;
  std::condition_variable done;
  size_t pending = shards.size();
  const auto until = std::chrono::system_clock::now() + deadline;
  for (size_t i = 0; i < shards.size(); ++i) calls[i].context.set_deadline(until);
  for (size_t i = 0; i < shards.size(); ++i) {
    issue(*shards[i]->stub, &calls[i].context, &calls[i].request, &calls[i].reply,
          [&, i](grpc::Status status) {
            std::lock_guard<std::mutex> lock(mu);
            if (!status.ok() && fail_fast) {
              for (Call& other : calls) other.context.TryCancel();
            }
            calls[i].status = std::move(status);
            if (--pending == 0) done.notify_all();
          });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&] { return pending == 0; });
  }
  std::vector<absl::StatusOr<Reply>> out;
  out.reserve(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    if (calls[i].status.ok()) {
      out.push_back(std::move(calls[i].reply));
    } else {
      out.push_back(transport::FromGrpc(calls[i].status));
    }
  }
  return out;
}

// The error of a shard that did not answer, naming it.
absl::Status ShardFailed(const ShardSet::Shard& shard, const absl::Status& s) {
  return absl::UnavailableError(StrCat(NameOf(shard),
                                       shard.alive ? "" : ", not a live member in etcd,",
                                       " did not answer: ", std::string(s.message())));
}

// Every shard's answer, or the first failure (not a cancellation it caused), naming its shard.
template <typename Request, typename Reply, typename Issue>
absl::StatusOr<std::vector<Reply>> FanOut(const Shards& shards, const Request& request,
                                          std::chrono::milliseconds deadline, Issue issue) {
  if (shards.empty()) {
    return absl::FailedPreconditionError(
        "the region's shard map holds no shard (pmdb shard add makes one)");
  }
  for (const auto& shard : shards) {
    if (!shard->problem.empty()) {
      return absl::FailedPreconditionError(StrCat(NameOf(*shard), ": ", shard->problem));
    }
  }
  auto all = CallAll<Request, Reply>(shards, request, deadline, /*fail_fast=*/true, issue);
  std::optional<absl::Status> cancelled;
  std::vector<Reply> out;
  out.reserve(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    if (all[i].ok()) {
      out.push_back(std::move(*all[i]));
    } else if (all[i].status().code() == absl::StatusCode::kInvalidArgument) {
      // The question's own fault, the same on every shard: as one store would say it.
      return all[i].status();
    } else if (all[i].status().code() != absl::StatusCode::kCancelled) {
      return ShardFailed(*shards[i], all[i].status());
    } else if (!cancelled.has_value()) {
      cancelled = ShardFailed(*shards[i], all[i].status());
    }
  }
  if (cancelled.has_value()) return *cancelled;
  return out;
}

// The region's data version: every shard's, in the order of their ranges.
template <typename Reply>
std::string VersionOf(const Shards& shards, const std::vector<Reply>& replies) {
  std::string out;
  for (size_t i = 0; i < shards.size(); ++i) {
    StrAppend(&out, i == 0 ? "" : ",", shards[i]->entry.name(), "=", replies[i].data_version());
  }
  return out;
}

// Every shard must have evaluated the question the node checked, and the same one.
template <typename Reply>
absl::StatusOr<std::string> OneQuestion(const Shards& shards, const std::vector<Reply>& replies) {
  for (size_t i = 1; i < replies.size(); ++i) {
    if (replies[i].question() != replies[0].question()) {
      return absl::InternalError(StrCat(NameOf(*shards[i]), " evaluated '", replies[i].question(),
                                        "' where ", NameOf(*shards[0]), " evaluated '",
                                        replies[0].question(), "'"));
    }
  }
  return replies[0].question();
}

// Adds the shards' breakdowns cell by cell. Cells a shard lists from its data (an exact
// breakdown by diagnosis with no codes named) may differ between shards: their union then comes
// in the order one store would list them (codes sorted, "none" last).
v1::Breakdown AddBreakdowns(const std::vector<v1::ShardBreakdown>& replies) {
  v1::Breakdown out = replies[0].breakdown();
  bool same = true;
  for (size_t i = 1; i < replies.size() && same; ++i) {
    const v1::Breakdown& b = replies[i].breakdown();
    if (b.cells_size() != out.cells_size()) {
      same = false;
      break;
    }
    for (int c = 0; c < b.cells_size(); ++c) {
      if (!std::equal(b.cells(c).labels().begin(), b.cells(c).labels().end(),
                      out.cells(c).labels().begin(), out.cells(c).labels().end())) {
        same = false;
        break;
      }
      out.mutable_cells(c)->set_count(out.cells(c).count() + b.cells(c).count());
    }
  }
  if (same) return out;
  // The general case: by labels.
  const int dims = out.dimensions_size();
  std::vector<std::map<std::string, size_t>> first_seen(dims);
  std::map<std::vector<std::string>, uint64_t> sums;
  for (const v1::ShardBreakdown& r : replies) {
    for (const v1::BreakdownCell& cell : r.breakdown().cells()) {
      std::vector<std::string> labels(cell.labels().begin(), cell.labels().end());
      for (int d = 0; d < dims && d < static_cast<int>(labels.size()); ++d) {
        first_seen[d].emplace(labels[d], first_seen[d].size());
      }
      sums[labels] += cell.count();
    }
  }
  auto rank = [&](int d, const std::string& label) -> std::pair<size_t, std::string> {
    if (out.dimensions(d) == v1::DIAGNOSIS) return {label == "none" ? 1 : 0, label};
    return {first_seen[d][label], ""};
  };
  std::vector<std::pair<std::vector<std::string>, uint64_t>> cells(sums.begin(), sums.end());
  std::sort(cells.begin(), cells.end(), [&](const auto& a, const auto& b) {
    for (int d = 0; d < dims; ++d) {
      auto ra = rank(d, a.first[d]), rb = rank(d, b.first[d]);
      if (ra != rb) return ra < rb;
    }
    return false;
  });
  out.clear_cells();
  for (auto& [labels, count] : cells) {
    v1::BreakdownCell* c = out.add_cells();
    for (std::string& l : labels) c->add_labels(std::move(l));
    c->set_count(count);
  }
  return out;
}

class ShardedSource final : public core::Source {
 public:
  ShardedSource(Shards shards, std::chrono::milliseconds deadline, absl::Status usable,
                std::shared_ptr<const Leadership> leadership)
      : shards_(std::move(shards)),
        deadline_(deadline),
        usable_(std::move(usable)),
        leadership_(std::move(leadership)) {}

  absl::StatusOr<std::string> Version() const override {
    if (!usable_.ok()) return usable_;
    auto replies = Led(FanOut<v1::DescribeShardRequest, v1::ShardDescription>(
        shards_, v1::DescribeShardRequest(), deadline_,
        [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
          stub.async()->Describe(context, req, reply, std::move(cb));
        }));
    if (!replies.ok()) return replies.status();
    return VersionOf(shards_, *replies);
  }

  absl::StatusOr<core::Sourced<query::Answer<uint64_t>>> Count(const query::Engine& engine,
                                                               const v1::Criterion& criterion,
                                                               v1::Purpose purpose) const override {
    if (!usable_.ok()) return usable_;
    v1::ShardCountRequest request;
    *request.mutable_criterion() = criterion;
    request.set_purpose(purpose);
    *request.mutable_mode() = ModeOf(engine.options());
    auto replies = Led(FanOut<v1::ShardCountRequest, v1::ShardCount>(
        shards_, request, deadline_,
        [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
          stub.async()->Count(context, req, reply, std::move(cb));
        }));
    if (!replies.ok()) return replies.status();
    auto question = OneQuestion(shards_, *replies);
    if (!question.ok()) return question.status();
    uint64_t total = 0;
    for (const v1::ShardCount& r : *replies) total += r.count();
    return core::Sourced<query::Answer<uint64_t>>{{total, {}, *question},
                                                  VersionOf(shards_, *replies)};
  }

  absl::StatusOr<core::Sourced<query::Answer<v1::Breakdown>>> Breakdown(
      const query::Engine& engine, const v1::Criterion& criterion,
      const std::vector<v1::Dimension>& dimensions, v1::Purpose purpose,
      const std::vector<std::string>& diagnoses) const override {
    if (!usable_.ok()) return usable_;
    v1::ShardBreakdownRequest request;
    *request.mutable_criterion() = criterion;
    request.set_purpose(purpose);
    *request.mutable_mode() = ModeOf(engine.options());
    for (v1::Dimension d : dimensions) request.add_dimensions(d);
    for (const std::string& d : diagnoses) request.add_diagnoses(d);
    auto replies = Led(FanOut<v1::ShardBreakdownRequest, v1::ShardBreakdown>(
        shards_, request, deadline_,
        [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
          stub.async()->Breakdown(context, req, reply, std::move(cb));
        }));
    if (!replies.ok()) return replies.status();
    auto question = OneQuestion(shards_, *replies);
    if (!question.ok()) return question.status();
    return core::Sourced<query::Answer<v1::Breakdown>>{{AddBreakdowns(*replies), {}, *question},
                                                       VersionOf(shards_, *replies)};
  }

  absl::StatusOr<core::Sourced<query::Answer<query::AlleleFrequency>>> Frequency(
      const query::Engine& engine, const v1::Criterion& criterion,
      v1::Purpose purpose) const override {
    if (!usable_.ok()) return usable_;
    v1::ShardFrequencyRequest request;
    *request.mutable_criterion() = criterion;
    request.set_purpose(purpose);
    *request.mutable_mode() = ModeOf(engine.options());
    auto replies = Led(FanOut<v1::ShardFrequencyRequest, v1::ShardFrequency>(
        shards_, request, deadline_,
        [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
          stub.async()->Frequency(context, req, reply, std::move(cb));
        }));
    if (!replies.ok()) return replies.status();
    auto question = OneQuestion(shards_, *replies);
    if (!question.ok()) return question.status();
    query::AlleleFrequency total;
    for (const v1::ShardFrequency& r : *replies) {
      total.ac += r.frequency().ac();
      total.an += r.frequency().an();
    }
    return core::Sourced<query::Answer<query::AlleleFrequency>>{{total, {}, *question},
                                                                VersionOf(shards_, *replies)};
  }

  absl::StatusOr<core::Sourced<std::vector<query::Answer<query::AlleleFrequency>>>> Frequencies(
      const query::Engine& engine, const std::vector<v1::Criterion>& sites,
      v1::Purpose purpose) const override {
    if (!usable_.ok()) return usable_;
    v1::ShardFrequenciesRequest request;
    for (const v1::Criterion& s : sites) *request.add_sites() = s;
    request.set_purpose(purpose);
    *request.mutable_mode() = ModeOf(engine.options());
    auto replies = Led(FanOut<v1::ShardFrequenciesRequest, v1::ShardFrequencies>(
        shards_, request, deadline_,
        [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
          stub.async()->Frequencies(context, req, reply, std::move(cb));
        }));
    if (!replies.ok()) return replies.status();
    std::vector<query::Answer<query::AlleleFrequency>> out(sites.size());
    for (size_t i = 0; i < replies->size(); ++i) {
      const v1::ShardFrequencies& r = (*replies)[i];
      if (static_cast<size_t>(r.sites_size()) != sites.size() ||
          static_cast<size_t>(r.questions_size()) != sites.size()) {
        return absl::InternalError(
            StrCat(NameOf(*shards_[i]), " answered ", r.sites_size(), " sites of ", sites.size()));
      }
      for (size_t s = 0; s < sites.size(); ++s) {
        if (i == 0) {
          out[s].question = r.questions(s);
        } else if (r.questions(s) != out[s].question) {
          return absl::InternalError(StrCat(NameOf(*shards_[i]), " evaluated site ", s + 1, " as '",
                                            r.questions(s), "', not '", out[s].question, "'"));
        }
        out[s].value.ac += r.sites(s).ac();
        out[s].value.an += r.sites(s).an();
      }
    }
    return core::Sourced<std::vector<query::Answer<query::AlleleFrequency>>>{
        std::move(out), VersionOf(shards_, *replies)};
  }

 private:
  // `replies`, unless this node stopped leading the region while they came.
  template <typename T>
  absl::StatusOr<T> Led(absl::StatusOr<T> replies) const {
    if (!replies.ok() || leadership_ == nullptr) return replies;
    absl::Status leading = leadership_->Check();
    if (!leading.ok()) return leading;
    return replies;
  }

  Shards shards_;
  std::chrono::milliseconds deadline_;
  absl::Status usable_;  // why no answer can be given (a gap in the ranges), or ok
  std::shared_ptr<const Leadership> leadership_;
};

// A gap between the shards' ranges, or a map that ends below where served shards ended
// before, means people no shard answers for: never a smaller count.
absl::Status Contiguous(const Shards& shards, uint64_t served_end) {
  uint64_t next = 0;
  for (const auto& s : shards) {
    if (s->entry.first_ordinal() != next) {
      return absl::FailedPreconditionError(
          StrCat("the region's shard map has no serving shard for ordinals ", next, " to ",
                 s->entry.first_ordinal(), " (pmdb shard list)"));
    }
    next = s->entry.end_ordinal();
  }
  if (next < served_end) {
    return absl::FailedPreconditionError(
        StrCat("the region's shard map ends at ordinal ", next, " but its shards served up to ",
               served_end, " before: a shard is missing from the map (pmdb shard list)"));
  }
  return absl::OkStatus();
}

uint64_t ReadServedEnd(const storage::ReadView& view) {
  auto v = view.Get(storage::Family::kMeta, keys::kMetaShardsServedEnd);
  if (!v.ok() || !v->has_value() || (*v)->size() != 8) return 0;
  return keys::ReadBE64(**v);
}

}  // namespace

absl::StatusOr<std::shared_ptr<ShardSet>> ShardSet::Start(ShardSetOptions options,
                                                          storage::Store* node_store,
                                                          std::function<absl::Status()> reload) {
  auto etcd = Etcd::Connect(options.etcd);
  if (!etcd.ok()) return etcd.status();
  // The node's own store holds no one: people there would silently not be counted.
  auto view = node_store->Snapshot();
  auto all = view->GetBitmap(keys::kAllIndividuals);
  if (!all.ok()) return all.status();
  if (!all->Empty()) {
    return absl::FailedPreconditionError(
        StrCat("the node's own store holds ", all->Cardinality(),
               " people; a sharded region's people are on its shards (move them there first)"));
  }
  // An unreachable etcd or an inconsistent map stops the start; shards that are down do not
  // (answers fail, naming them, until they are back).
  auto map = ReadShardMap(*etcd, options.region);
  if (!map.ok()) return map.status();
  std::shared_ptr<ShardSet> set(
      new ShardSet(std::move(options), std::move(*etcd), node_store, std::move(reload)));
  set->served_end_ = ReadServedEnd(*view);
  absl::Status first = set->Refresh();
  if (!first.ok()) {
    std::fprintf(stderr, "pmdb: the region's shards are not all answering yet: %s\n",
                 first.ToString().c_str());
  }
  {
    std::lock_guard<std::mutex> lock(set->mu_);
    set->last_refresh_ = first;
  }
  set->thread_ = std::thread([p = set.get()] { p->Run(); });
  return set;
}

ShardSet::~ShardSet() { Stop(); }

void ShardSet::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ShardSet::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, options_.refresh, [&] { return stopping_; })) {
    lock.unlock();
    absl::Status s = Refresh();
    lock.lock();
    if (!s.ok() && last_refresh_.ok()) {
      std::fprintf(stderr, "pmdb: the shard map could not be refreshed: %s\n",
                   s.ToString().c_str());
    }
    last_refresh_ = s;
  }
}

absl::Status ShardSet::Refresh() {
  // One refresh at a time (the thread's, and one after an ingest): an older one must not put
  // back its shard list or lower the served end after a newer one.
  std::lock_guard<std::mutex> refreshing(refresh_mu_);
  auto map = ReadShardMap(etcd_, options_.region);
  if (!map.ok()) return map.status();
  std::vector<std::shared_ptr<Shard>> shards;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const ShardInfo& info : *map) {
      // Added but never served and empty: nobody is counted there yet. One that people were
      // moved into (it has a store) must serve before the region answers.
      if (info.entry.address() == kPendingAddress && info.entry.store_id().empty()) continue;
      auto shard = std::make_shared<Shard>();
      shard->entry = info.entry;
      shard->alive = info.alive;
      if (info.entry.address() == kPendingAddress) {
        shard->problem = "people were moved to it and it has not served yet: start it";
        shards.push_back(std::move(shard));
        continue;
      }
      const std::string id = StrCat(info.entry.name(), "@", info.entry.address());
      auto it = channels_.find(id);
      if (it == channels_.end()) {
        auto creds = transport::MakeChannelCredentials(
            options_.tls,
            StrCat("spiffe://", options_.federation, "/region/", options_.region, "/shard"));
        if (!creds.ok()) return creds.status();
        grpc::ChannelArguments args;
        args.SetString("pmdb.shard", id);
        it = channels_.emplace(id, grpc::CreateCustomChannel(info.entry.address(), *creds, args))
                 .first;
      }
      shard->stub = v1::ShardService::NewStub(it->second);
      shard->admin = v1::ShardAdminService::NewStub(it->second);
      shards.push_back(std::move(shard));
    }
  }
  // Before any question reaches a shard: is its store the one the map names?
  std::vector<std::shared_ptr<Shard>> answering;
  for (const auto& shard : shards) {
    if (shard->problem.empty()) answering.push_back(shard);
  }
  const Shards asked(answering.begin(), answering.end());
  auto described = CallAll<v1::DescribeShardRequest, v1::ShardDescription>(
      asked, v1::DescribeShardRequest(), options_.deadline, /*fail_fast=*/false,
      [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
        stub.async()->Describe(context, req, reply, std::move(cb));
      });
  absl::Status status;
  std::vector<v1::ShardDescription> descriptions;
  uint64_t end = 0;
  for (const auto& shard : shards) {
    end = std::max<uint64_t>(end, shard->entry.end_ordinal());
    if (!shard->problem.empty() && status.ok()) {
      status = absl::FailedPreconditionError(StrCat(NameOf(*shard), ": ", shard->problem));
    }
  }
  for (size_t i = 0; i < answering.size(); ++i) {
    Shard& shard = *answering[i];
    if (!described[i].ok()) {
      if (status.ok()) status = ShardFailed(shard, described[i].status());
      continue;
    }
    const v1::ShardDescription& d = *described[i];
    if (d.region() != options_.region || d.first_ordinal() != shard.entry.first_ordinal() ||
        d.end_ordinal() != shard.entry.end_ordinal() ||
        (!shard.entry.store_id().empty() && d.store_id() != shard.entry.store_id())) {
      shard.problem = StrCat("it serves store ", d.store_id(), " of region ", d.region(),
                             " with ordinals ", d.first_ordinal(), "-", d.end_ordinal(),
                             ", not the one the shard map names (", shard.entry.store_id(), ")");
      if (status.ok())
        status = absl::FailedPreconditionError(StrCat(NameOf(shard), ": ", shard.problem));
      continue;
    }
    descriptions.push_back(d);
  }
  // The highest ordinal served shards reached is remembered in the node's store: a map that
  // later ends lower lost a shard, and answers fail instead of shrinking.
  uint64_t served_end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    served_end = served_end_;
  }
  if (end > served_end) {
    std::string value;
    keys::AppendBE64(&value, end);
    auto lock = node_store_->WriteLock();
    storage::WriteBatch batch = node_store_->NewBatch();
    batch.Put(storage::Family::kMeta, keys::kMetaShardsServedEnd, value);
    absl::Status written = node_store_->Write(batch);
    if (!written.ok()) return written;
    served_end = end;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    served_end_ = served_end;
    shards_.assign(shards.begin(), shards.end());
  }
  if (!status.ok()) return status;
  // A shard that lacks reference files the others have (a new shard) adopts them, so that it
  // reads uploads as they do.
  std::map<std::string, std::string> references;
  for (const v1::ShardDescription& d : descriptions) {
    for (const auto& [key, value] : d.data_meta()) {
      if (IsReferenceKey(key)) references.emplace(key, value);
    }
  }
  for (size_t i = 0; i < answering.size(); ++i) {
    const v1::ShardDescription* d = nullptr;
    for (const v1::ShardDescription& candidate : descriptions) {
      if (candidate.store_id() == answering[i]->entry.store_id()) d = &candidate;
    }
    if (d == nullptr) continue;
    v1::ShardReferences missing;
    for (const auto& [key, value] : references) {
      if (!d->data_meta().contains(key)) (*missing.mutable_entries())[key] = value;
    }
    if (missing.entries().empty()) continue;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
    Lead(&context);
    v1::ShardReferences adopted;
    grpc::Status s = answering[i]->admin->AdoptReferences(&context, missing, &adopted);
    if (!s.ok()) return ShardFailed(*answering[i], transport::FromGrpc(s));
  }
  return SyncCatalog(descriptions);
}

absl::Status ShardSet::SyncCatalog(const std::vector<v1::ShardDescription>& replies) {
  if (replies.empty()) return absl::OkStatus();
  std::map<std::string, std::string> wanted;
  for (const v1::ShardDescription& d : replies) {
    for (const auto& [key, value] : d.data_meta()) {
      auto [it, inserted] = wanted.emplace(key, value);
      if (inserted) continue;
      // A dataset is on several shards: one dataset of the region, its people summed.
      v1::DatasetInfo held, more;
      if (std::string_view(key).starts_with(keys::kMetaDatasetPrefix) &&
          held.ParseFromString(it->second) && more.ParseFromString(value) &&
          held.assembly() == more.assembly()) {
        held.set_sample_count(held.sample_count() + more.sample_count());
        // The same sites are stored on several shards: the most any one holds.
        held.set_variant_count(std::max(held.variant_count(), more.variant_count()));
        for (const std::string& source : more.sources()) {
          if (std::find(held.sources().begin(), held.sources().end(), source) ==
              held.sources().end()) {
            held.add_sources(source);
          }
        }
        it->second = held.SerializeAsString();
        continue;
      }
      std::fprintf(stderr, "pmdb: shards disagree on %s; the first shard's is used\n", key.c_str());
    }
  }
  std::map<std::string, std::string> held;
  auto view = node_store_->Snapshot();
  absl::Status scanned =
      view->Scan(storage::Family::kMeta, "", "", [&](std::string_view key, std::string_view value) {
        if (keys::IsDataMetaKey(key)) held.emplace(std::string(key), std::string(value));
        return true;
      });
  if (!scanned.ok()) return scanned;
  if (held == wanted && catalog_current_) return absl::OkStatus();
  if (held != wanted) {
    auto lock = node_store_->WriteLock();
    storage::WriteBatch batch = node_store_->NewBatch();
    for (const auto& [key, value] : held) {
      if (!wanted.contains(key)) batch.Delete(storage::Family::kMeta, key);
    }
    for (const auto& [key, value] : wanted) batch.Put(storage::Family::kMeta, key, value);
    absl::Status written = node_store_->Write(batch);
    if (!written.ok()) return written;
  }
  // Retried every refresh until it works (a reference file missing on the node's machine).
  absl::Status reloaded = reload_ ? reload_() : absl::OkStatus();
  catalog_current_ = reloaded.ok();
  if (!reloaded.ok()) {
    return absl::Status(reloaded.code(),
                        StrCat("the shards' catalog (datasets, reference files) could not be "
                               "loaded on the node: ",
                               std::string(reloaded.message())));
  }
  return absl::OkStatus();
}

std::unique_ptr<core::Source> ShardSet::Open() const {
  Shards shards;
  uint64_t served_end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shards = shards_;
    served_end = served_end_;
  }
  absl::Status usable = Leading();
  if (usable.ok()) usable = Contiguous(shards, served_end);
  return std::make_unique<ShardedSource>(std::move(shards), options_.deadline, std::move(usable),
                                         options_.leadership);
}

absl::Status ShardSet::Leading() const {
  return options_.leadership == nullptr ? absl::OkStatus() : options_.leadership->Check();
}

void ShardSet::Lead(grpc::ClientContext* context) const {
  if (options_.leadership != nullptr) {
    context->AddMetadata(kLeaderMetadata, options_.leadership->token());
  }
}

absl::StatusOr<std::vector<std::shared_ptr<const ShardSet::Shard>>> ShardSet::Serving() const {
  absl::Status leading = Leading();
  if (!leading.ok()) return leading;
  Shards shards;
  uint64_t served_end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shards = shards_;
    served_end = served_end_;
  }
  if (shards.empty()) {
    return absl::FailedPreconditionError(
        "the region's shard map holds no serving shard (pmdb shard add, then pmdb shard serve)");
  }
  absl::Status whole = Contiguous(shards, served_end);
  if (!whole.ok()) return whole;
  for (const auto& shard : shards) {
    if (!shard->problem.empty()) {
      return absl::FailedPreconditionError(StrCat(NameOf(*shard), ": ", shard->problem));
    }
  }
  return shards;
}

absl::StatusOr<v1::IngestReply> ShardSet::Ingest(const core::Upload& upload) {
  // One write at a time, on the map as it is now: two uploads naming one new person, or an
  // upload racing a new shard, must not give that person ordinals on two shards.
  std::lock_guard<std::mutex> writing(writes_mu_);
  (void)Refresh();
  auto shards = Serving();
  if (!shards.ok()) return shards.status();
  auto subjects = core::UploadSubjects(upload);
  if (!subjects.ok()) return subjects.status();
  std::vector<size_t> held(shards->size(), 0);
  std::vector<bool> known(subjects->size(), false);
  // Per subject, the shards where an opt-out of theirs is recorded.
  std::vector<std::vector<size_t>> opted(subjects->size());
  // Subject ids per Holds call: at most about 4 MiB of them (a shard takes 8 MiB messages).
  constexpr size_t kBytesPerCall = 4 << 20;
  for (size_t i = 0; i < shards->size(); ++i) {
    for (size_t from = 0, to = 0; from < subjects->size(); from = to) {
      v1::ShardSubjectsRequest asked;
      for (size_t bytes = 0; to < subjects->size() && (to == from || bytes < kBytesPerCall); ++to) {
        bytes += (*subjects)[to].size() + 8;
        asked.add_subjects((*subjects)[to]);
      }
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
      v1::ShardSubjectsReply reply;
      grpc::Status s = (*shards)[i]->admin->Holds(&context, asked, &reply);
      if (!s.ok()) return ShardFailed(*(*shards)[i], transport::FromGrpc(s));
      for (uint32_t at : reply.held()) {
        if (from + at < known.size()) known[from + at] = true;
      }
      for (uint32_t at : reply.opted_out()) {
        if (from + at < opted.size()) opted[from + at].push_back(i);
      }
      held[i] += static_cast<size_t>(reply.held_size());
    }
  }
  const size_t newest = shards->size() - 1;
  const size_t fresh = static_cast<size_t>(std::count(known.begin(), known.end(), false));
  std::vector<size_t> holding;
  for (size_t i = 0; i < held.size(); ++i) {
    if (held[i] > 0) holding.push_back(i);
  }
  auto names = [&] {
    std::string out;
    for (size_t i : holding) {
      StrAppend(&out, out.empty() ? "" : ", ", (*shards)[i]->entry.name(), " (", held[i], ")");
    }
    return out;
  };
  if (holding.size() > 1) {
    return absl::FailedPreconditionError(
        StrCat(upload.header.file_name(), " names people held by several shards: ", names(),
               "; give each shard's people in a file of their own"));
  }
  if (holding.size() == 1 && holding[0] != newest && fresh > 0) {
    return absl::FailedPreconditionError(
        StrCat(upload.header.file_name(), " names people held by shard ", names(), " and ", fresh,
               " new people, who go to the newest shard ", (*shards)[newest]->entry.name(),
               ": give them in a file of their own"));
  }
  const size_t target_at = holding.empty() ? newest : holding[0];
  const ShardSet::Shard& target = *(*shards)[target_at];
  // Someone who opted out on another shard (recorded before this shard existed, or an opt-out
  // that did not reach every shard) must not come back here.
  size_t unrecorded = 0;
  for (const std::vector<size_t>& where : opted) {
    if (!where.empty() && std::find(where.begin(), where.end(), target_at) == where.end()) {
      ++unrecorded;
    }
  }
  if (unrecorded > 0) {
    return absl::FailedPreconditionError(
        StrCat(upload.header.file_name(), " names ", unrecorded,
               " people who opted out on another shard but not on ", target.entry.name(),
               ", where it would go: record their opt-outs again through the node (pmdb consent "
               "--node), which reaches every shard, then ingest"));
  }
  grpc::ClientContext context;  // an ingest may take long: no deadline
  Lead(&context);
  v1::IngestReply reply;
  auto writer = target.admin->Ingest(&context, &reply);
  v1::IngestChunk chunk;
  *chunk.mutable_header() = upload.header;
  bool sent = writer->Write(chunk);
  std::ifstream in(upload.file->path(), std::ios::binary);
  bool whole = in.is_open();
  std::string buffer(1 << 20, '\0');
  while (sent && whole && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize n = in.gcount();
    if (in.bad()) whole = false;
    if (n <= 0) break;
    chunk.Clear();
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    sent = writer->Write(chunk);
  }
  if (!whole) {
    // Never a part of the file as if it were all of it.
    context.TryCancel();
    (void)writer->Finish();
    return absl::InternalError("the upload could not be read back to send it to its shard");
  }
  if (sent) writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    absl::Status why = transport::FromGrpc(s);
    // The shard's own refusal of the data (a malformed line, a full range) is the operator's to
    // read; a shard that could not be reached is named.
    if (why.code() == absl::StatusCode::kInvalidArgument ||
        why.code() == absl::StatusCode::kResourceExhausted ||
        why.code() == absl::StatusCode::kFailedPrecondition ||
        why.code() == absl::StatusCode::kNotFound) {
      return absl::Status(why.code(),
                          StrCat("shard ", target.entry.name(), ": ", std::string(why.message())));
    }
    return ShardFailed(target, why);
  }
  (void)Refresh();  // the new datasets into the node's catalog now, not at the next refresh
  return reply;
}

absl::StatusOr<v1::ConsentReply> ShardSet::OptOut(const v1::ConsentRequest& request) {
  auto lines = core::OptOutLines(request);  // refused here, before any shard is asked
  if (!lines.ok()) return lines.status();
  std::lock_guard<std::mutex> writing(writes_mu_);
  // The distinct subjects (a subject may have a line per purpose).
  std::set<std::string> distinct;
  {
    std::istringstream in(*lines);
    for (std::string line; std::getline(in, line);) {
      const size_t end = line.find_first_of(" \t\r");
      std::string subject = line.substr(0, end);
      if (!subject.empty() && subject[0] != '#') distinct.insert(subject);
    }
  }
  const uint64_t subjects = distinct.size();
  auto shards = Serving();
  if (!shards.ok()) return shards.status();
  v1::ConsentReply total;
  uint64_t found = 0;
  std::string recorded;
  for (const auto& shard : *shards) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
    Lead(&context);
    v1::ConsentReply reply;
    grpc::Status s = shard->admin->OptOut(&context, request, &reply);
    if (!s.ok()) {
      absl::Status failed = ShardFailed(*shard, transport::FromGrpc(s));
      return absl::Status(
          failed.code(),
          StrCat(std::string(failed.message()),
                 recorded.empty() ? "" : StrCat("; recorded on ", recorded, " already"),
                 ": run it again once every shard answers (an opt-out recorded twice is one)"));
    }
    StrAppend(&recorded, recorded.empty() ? "" : ", ", shard->entry.name());
    total.set_lines(reply.lines());
    total.set_bitmaps_rewritten(total.bitmaps_rewritten() + reply.bitmaps_rewritten());
    total.set_removed(total.removed() + reply.removed());
    total.set_withdrawn_research(total.withdrawn_research() + reply.withdrawn_research());
    total.set_withdrawn_care(total.withdrawn_care() + reply.withdrawn_care());
    found += subjects - std::min<uint64_t>(subjects, reply.not_in_store());
  }
  // Each person is on one shard: those no shard held.
  total.set_not_in_store(subjects - std::min<uint64_t>(subjects, found));
  return total;
}

std::optional<absl::StatusOr<core::PeopleCounts>> ShardSet::People() const {
  auto shards = Serving();
  if (!shards.ok()) return absl::StatusOr<core::PeopleCounts>(shards.status());
  auto replies = FanOut<v1::DescribeShardRequest, v1::ShardDescription>(
      *shards, v1::DescribeShardRequest(), options_.deadline,
      [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
        stub.async()->Describe(context, req, reply, std::move(cb));
      });
  if (!replies.ok()) return absl::StatusOr<core::PeopleCounts>(replies.status());
  core::PeopleCounts total;
  for (const v1::ShardDescription& d : *replies) {
    total.individuals += d.individuals();
    total.research += d.consent_research();
    total.care += d.consent_care();
  }
  return absl::StatusOr<core::PeopleCounts>(total);
}

absl::StatusOr<std::optional<core::PersonRecord>> ShardSet::Person(uint32_t ordinal) const {
  auto shards = Serving();
  if (!shards.ok()) return shards.status();
  Shards holder;
  for (const auto& shard : *shards) {
    if (ordinal >= shard->entry.first_ordinal() && ordinal < shard->entry.end_ordinal()) {
      holder.push_back(shard);
    }
  }
  if (holder.empty()) return std::nullopt;
  v1::ShardPersonRequest request;
  request.set_ordinal(ordinal);
  auto replies = FanOut<v1::ShardPersonRequest, v1::ShardPerson>(
      holder, request, options_.deadline,
      [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
        stub.async()->Person(context, req, reply, std::move(cb));
      });
  if (!replies.ok()) return replies.status();
  absl::Status leading = Leading();
  if (!leading.ok()) return leading;
  v1::ShardPerson& reply = (*replies)[0];
  if (!reply.found()) return std::nullopt;
  return core::PersonRecord{.record = std::move(*reply.mutable_record()), .care = reply.care()};
}

absl::StatusOr<std::optional<uint32_t>> ShardSet::OrdinalOf(const std::string& subject) const {
  auto shards = Serving();
  if (!shards.ok()) return shards.status();
  v1::ShardSubjectsRequest asked;
  asked.add_subjects(subject);
  for (const auto& shard : *shards) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
    v1::ShardSubjectsReply reply;
    grpc::Status s = shard->admin->Holds(&context, asked, &reply);
    if (!s.ok()) return ShardFailed(*shard, transport::FromGrpc(s));
    if (reply.held_size() > 0 && reply.ordinals_size() > 0) return reply.ordinals(0);
  }
  return std::nullopt;
}

absl::StatusOr<core::RankedCases> ShardSet::RankCases(const v1::CaseQuery& question,
                                                      const core::CaseSearch& search) const {
  // Both rounds within the one deadline a question has.
  const auto until = std::chrono::steady_clock::now() + options_.deadline;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        until - std::chrono::steady_clock::now()));
  };
  for (int attempt = 1;; ++attempt) {
    auto shards = Serving();
    if (!shards.ok()) return shards.status();
    // The region's term counts first: information content is the region's, not a shard's.
    auto counts = FanOut<v1::TermCountsRequest, v1::ShardTermCounts>(
        *shards, v1::TermCountsRequest(), left(),
        [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
          stub.async()->TermCounts(context, req, reply, std::move(cb));
        });
    if (!counts.ok()) return counts.status();
    v1::ShardRankRequest request;
    v1::ShardTermCounts* region = request.mutable_region();
    for (const v1::ShardTermCounts& c : *counts) {
      region->set_cases(region->cases() + c.cases());
      for (const auto& [term, n] : c.terms()) (*region->mutable_terms())[term] += n;
    }
    *request.mutable_question() = question;
    request.set_top(search.top);
    for (uint32_t o : search.not_returnable) request.add_not_returnable(o);
    request.set_subject_ids(search.subject_ids);
    auto ranked = FanOut<v1::ShardRankRequest, v1::ShardRanking>(
        *shards, request, left(), [](auto& stub, auto* context, auto* req, auto* reply, auto cb) {
          stub.async()->Rank(context, req, reply, std::move(cb));
        });
    if (!ranked.ok()) return ranked.status();
    // The counts and the ranking must be of the same data on every shard (an ingest in between
    // would score with counts of other cases): else again, a few times.
    bool same = true;
    for (size_t i = 0; i < ranked->size(); ++i) {
      same &= (*ranked)[i].data_version() == (*counts)[i].data_version();
    }
    if (!same) {
      if (attempt < 3) continue;
      return absl::UnavailableError(
          "the region's data changed during each of 3 attempts at the search; ask again");
    }
    std::vector<core::RankedCases> lists;
    for (size_t i = 0; i < ranked->size(); ++i) {
      v1::ShardRanking& r = (*ranked)[i];
      const v1::ShardEntry& entry = (*shards)[i]->entry;
      bool valid = r.ordinals_size() == r.matches_size() &&
                   static_cast<uint32_t>(r.matches_size()) <= search.top;
      for (uint32_t o : r.ordinals()) {
        valid &= o >= entry.first_ordinal() && o < entry.end_ordinal();
      }
      if (!valid) {
        return absl::InternalError(StrCat(NameOf(*(*shards)[i]), " ranked ", r.matches_size(),
                                          " cases with ", r.ordinals_size(),
                                          " ordinals, not all its own or more than ", search.top));
      }
      core::RankedCases list;
      *list.answer.mutable_matches() = std::move(*r.mutable_matches());
      *list.answer.mutable_notes() = std::move(*r.mutable_notes());
      list.answer.set_cases_considered(r.cases_considered());
      list.ordinals.assign(r.ordinals().begin(), r.ordinals().end());
      lists.push_back(std::move(list));
    }
    // Still the region's leader now that the answer is ready.
    absl::Status leading = Leading();
    if (!leading.ok()) return leading;
    return core::MergeRanked(std::move(lists), search.top);
  }
}

std::string ShardSet::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& s : shards_) {
    StrAppend(&out, out.empty() ? "" : "; ", s->entry.name(), " ", s->entry.address(), " ordinals ",
              s->entry.first_ordinal(), "-", s->entry.end_ordinal(), s->alive ? " up" : " DOWN");
  }
  if (!last_refresh_.ok()) {
    StrAppend(&out, " (the last refresh failed: ", std::string(last_refresh_.message()), ")");
  }
  return out;
}

}  // namespace pmdb::shard
