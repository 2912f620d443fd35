#include "security/audit.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include "node/base/crash_point.h"
#include "node/base/strings.h"
#include "node/storage/keys.h"

namespace pmdb::security {
namespace {

namespace keys = storage::keys;
using storage::Family;

std::string EncodeHead(uint64_t seq, const std::string& hash) {
  std::string v = keys::AuditKey(seq);
  v += hash;
  return v;
}

}  // namespace

std::string Sha256(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

Sha256Parts::Sha256Parts() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256Parts::~Sha256Parts() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256Parts::Add(std::string_view bytes) {
  uint64_t n = bytes.size();
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), &n, sizeof(n));
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size());
}

std::string Sha256Parts::HexDigest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len);
  return Hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(storage::Store* store,
                                                         const Clock* clock) {
  auto view = store->Snapshot();
  auto head = view->Get(Family::kMeta, keys::kMetaAuditHead);
  if (!head.ok()) return head.status();
  uint64_t next = 0;
  std::string hash;
  if (head->has_value()) {
    const std::string& h = **head;
    auto seq = keys::ParseAuditKey(std::string_view(h).substr(0, 8));
    if (h.size() != 8 + SHA256_DIGEST_LENGTH || !seq) {
      return absl::DataLossError("the audit log's head record is damaged; run pmdb audit verify");
    }
    next = *seq + 1;
    hash = h.substr(8);
  }
  return std::unique_ptr<AuditLog>(new AuditLog(store, clock, next, std::move(hash)));
}

AuditLog::AuditLog(storage::Store* store, const Clock* clock, uint64_t next_seq,
                   std::string head_hash)
    : store_(store), clock_(clock), next_seq_(next_seq), head_hash_(std::move(head_hash)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

void AuditLog::Append(v1::AuditEntry entry, Done done) {
  if (entry.time_unix_micros() == 0) entry.set_time_unix_micros(clock_->NowMicros());
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Pending{std::move(entry), std::move(done)});
  }
  cv_.notify_one();
}

absl::Status AuditLog::AppendAndWait(v1::AuditEntry entry) {
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  absl::Status result;
  Append(std::move(entry), [&](absl::Status s) {
    std::lock_guard<std::mutex> lock(m);
    result = std::move(s);
    finished = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return finished; });
  return result;
}

uint64_t AuditLog::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_;
}

std::string AuditLog::head_hash() const {
  std::lock_guard<std::mutex> lock(mu_);
  return head_hash_;
}

void AuditLog::WriterLoop() {
  for (;;) {
    std::deque<Pending> batch;
    uint64_t first_seq;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is written
      batch.swap(queue_);
      first_seq = next_seq_;
    }
    storage::WriteBatch wb = store_->NewBatch();
    uint64_t seq = first_seq;
    std::string hash = head_hash();
    for (Pending& p : batch) {
      p.entry.set_seq(seq);
      p.entry.set_prev_hash(hash);
      std::string bytes = p.entry.SerializeAsString();
      hash = Sha256(bytes);
      wb.Put(Family::kAudit, keys::AuditKey(seq), bytes);
      ++seq;
    }
    wb.Put(Family::kMeta, keys::kMetaAuditHead, EncodeHead(seq - 1, hash));
    absl::Status s = FailureAt("audit.write")
                         ? absl::UnavailableError("writing the audit log failed (injected)")
                         : store_->Write(wb);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      head_hash_ = hash;
      next_seq_ = seq;
    }
    for (Pending& p : batch) {
      if (p.done) p.done(s);
    }
  }
}

AuditVerification VerifyAudit(const storage::ReadView& view) {
  AuditVerification v;
  std::string prev_hash;
  uint64_t expected = 0;
  bool any = false;
  absl::Status scan =
      view.Scan(Family::kAudit, "", "", [&](std::string_view key, std::string_view value) {
        auto seq = keys::ParseAuditKey(key);
        if (!seq) {
          v.problems.push_back({expected, "an entry with a malformed key"});
          return true;
        }
        if (*seq != expected) {
          v.problems.push_back(
              {expected, StrCat("entries ", expected, "..", *seq - 1, " are missing (removed)")});
        }
        v1::AuditEntry entry;
        if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          v.problems.push_back({*seq, "the entry does not parse (edited)"});
        } else {
          if (entry.seq() != *seq) {
            v.problems.push_back({*seq, StrCat("the entry stored here says it is entry ",
                                               entry.seq(), " (moved or reordered)")});
          }
          if (any && entry.prev_hash() != prev_hash) {
            v.problems.push_back({*seq, StrCat("its link does not match entry ", *seq - 1,
                                               " (that entry was edited, or this one was)")});
          }
        }
        prev_hash = Sha256(value);
        expected = *seq + 1;
        any = true;
        ++v.entries;
        return true;
      });
  if (!scan.ok()) v.problems.push_back({expected, std::string(scan.message())});
  auto head = view.Get(Family::kMeta, keys::kMetaAuditHead);
  if (!head.ok()) {
    v.problems.push_back({expected, std::string(head.status().message())});
  } else if (head->has_value()) {
    std::string_view h = **head;
    auto seq = keys::ParseAuditKey(h.substr(0, std::min<size_t>(8, h.size())));
    if (!seq || h.size() != 8 + SHA256_DIGEST_LENGTH) {
      v.problems.push_back({expected, "the head record is damaged"});
    } else if (*seq + 1 != expected) {
      v.problems.push_back({*seq, StrCat("the head says the log ends at entry ", *seq,
                                         " but it ends at ", expected == 0 ? 0 : expected - 1,
                                         " (entries removed from the end, or added)")});
    } else if (h.substr(8) != prev_hash) {
      v.problems.push_back({*seq, "the last entry does not match the head hash (edited)"});
    }
    v.head_hash_hex = Hex(h.substr(std::min<size_t>(8, h.size())));
  } else if (any) {
    v.problems.push_back({0, "entries exist but the head record is missing"});
  }
  return v;
}

absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(const storage::ReadView& view,
                                                      const AuditFilter& filter) {
  std::vector<v1::AuditEntry> out;
  absl::Status bad;
  absl::Status scan =
      view.Scan(Family::kAudit, "", "", [&](std::string_view key, std::string_view value) {
        v1::AuditEntry entry;
        if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          bad = absl::DataLossError(
              StrCat("audit entry ", Hex(key), " does not parse; run pmdb audit verify"));
          return false;
        }
        if (!filter.caller.empty() && entry.caller() != filter.caller) return true;
        if (entry.time_unix_micros() < filter.since_unix_micros) return true;
        if (filter.individual.has_value() &&
            std::find(entry.individuals().begin(), entry.individuals().end(), *filter.individual) ==
                entry.individuals().end()) {
          return true;
        }
        out.push_back(std::move(entry));
        return filter.limit == 0 || out.size() < filter.limit;
      });
  if (!scan.ok()) return scan;
  if (!bad.ok()) return bad;
  return out;
}

}  // namespace pmdb::security
