// The audit log: every request a node or the hub serves, appended to a hash-chained log in the
// process's own store (audit column family).
//
// Entry n is stored under its sequence number and carries SHA-256 of entry n-1's stored bytes;
// the last sequence number and its hash are kept in the meta family as the head. VerifyAudit
// walks the chain and names every entry that was edited, reordered or removed, and a truncated
// tail (the head no longer matches).
//
// Anyone who can rewrite the whole store can rewrite the whole chain, or put back an older copy
// of the store. So the head is also anchored outside the store: after every durable batch the
// log writes its length and head hash to the anchor file beside the store directory
// (`<dir>.audit-anchor`, AnchorPathOf). Opening the log checks the chain's tail against its
// head record and the anchor; a log cut short, an older copy, or entries edited and re-linked
// before the anchored head are refused (FAILED_PRECONDITION) unless the operator accepts the
// damage explicitly, which re-anchors the log as it is. Put the anchor out of the store's
// reach (another file system) and keep copies of the printed head elsewhere.
//
// Appends are group-committed by one writer thread: entries queued while a write is in flight go
// out together in the next synced batch, and each caller's callback runs once its entry is
// durable. Entries never carry patient identifiers: only who asked, what, and what was released.
#ifndef PMDB_SECURITY_AUDIT_H_
#define PMDB_SECURITY_AUDIT_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "node/base/clock.h"
#include "node/storage/store.h"
#include "pmdb/v1/audit.pb.h"

namespace pmdb::security {

struct AuditProblem {
  uint64_t seq = 0;  // the entry concerned (its position in the chain)
  std::string what;
};

// The chain's length and head hash (raw SHA-256) as anchored outside the store.
struct AuditAnchor {
  uint64_t entries = 0;
  std::string hash;
  int slot = 0;  // which of the file's two records holds it
};

std::string AnchorPathOf(const std::string& store_dir);
// Nothing when there is no anchor yet; DATA_LOSS when the file holds no valid record.
absl::StatusOr<std::optional<AuditAnchor>> ReadAnchor(const std::string& path);
// Durable once it returns: written into `anchor.slot` of two, each record with its own checksum,
// so that writing the slot not holding the current record leaves that one whole if the write
// is torn. `fresh`: the file holds this record only (anchoring anew; its directory is synced).
absl::Status WriteAnchor(const std::string& path, const AuditAnchor& anchor, bool fresh = false);
// What is wrong with the chain in `view` as seen from its head record and `anchor` (if any):
// cut short, head record missing or not matching, fewer entries than anchored, the anchored
// entry changed. Empty when consistent (the chain may have grown past the anchor).
std::vector<AuditProblem> TailProblems(const storage::ReadView& view,
                                       const std::optional<AuditAnchor>& anchor);

// The chain as its durable head record tells it: how many entries, and the hash of the last.
struct ChainHead {
  uint64_t entries = 0;
  std::string hash;  // raw SHA-256, "" for an empty chain
};
absl::StatusOr<ChainHead> HeadOf(const storage::ReadView& view);
// SHA-256 of entry `seq`'s stored bytes; nothing when the chain holds no such entry.
absl::StatusOr<std::optional<std::string>> EntryHash(const storage::ReadView& view, uint64_t seq);

class AuditLog {
 public:
  struct Options {
    const Clock* clock = &SystemClock();
    // Open even when TailProblems finds something: the operator's explicit choice after
    // `pmdb audit verify`; the log continues from its last entry and is anchored there.
    bool accept_damage = false;
  };
  // Continues the chain already in `store`. The store and the clock (which stamps entries)
  // must outlive the log.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(storage::Store* store,
                                                        const Clock* clock = &SystemClock());
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(storage::Store* store,
                                                        const Options& options);
  ~AuditLog();  // writes what is queued, then stops

  using Done = std::function<void(absl::Status)>;
  // Queues the entry (sequence number, time if unset, and link are filled in); `done` runs on
  // the writer thread once the entry is durable or the write failed.
  void Append(v1::AuditEntry entry, Done done);
  absl::Status AppendAndWait(v1::AuditEntry entry);

  uint64_t size() const;
  // Why the last write of entries failed; "" when it succeeded (or none was made yet).
  std::string last_error() const;
  // SHA-256 of the last durable entry ("" for an empty log): what operators write down.
  std::string head_hash() const;

 private:
  struct Pending {
    v1::AuditEntry entry;
    Done done;
  };
  AuditLog(storage::Store* store, const Clock* clock, uint64_t next_seq, std::string head_hash);
  void WriterLoop();

  storage::Store* store_;
  std::string anchor_path_;
  int anchor_slot_ = 1;         // writer thread only: the slot the next record goes to
  bool anchor_failed_ = false;  // writer thread only: complained once
  const Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  uint64_t next_seq_;       // guarded by mu_
  std::string head_hash_;   // written by the writer thread under mu_
  std::string last_error_;  // guarded by mu_
  std::thread writer_;
};

struct AuditVerification {
  uint64_t entries = 0;
  std::string head_hash_hex;
  std::vector<AuditProblem> problems;  // empty: intact
};

AuditVerification VerifyAudit(const storage::ReadView& view);

struct AuditFilter {
  std::string caller;  // empty: everyone
  int64_t since_unix_micros = 0;
  size_t limit = 0;                    // 0: no limit
  std::optional<uint32_t> individual;  // only entries that touched this ordinal
  bool newest = false;  // with a limit: the newest `limit` matches (the whole log is read)
};

// Entries matching `filter`, oldest first.
absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(const storage::ReadView& view,
                                                      const AuditFilter& filter);

// "OpenSSL 3.0.x ...": the OpenSSL this pmdb runs on.
std::string OpenSslVersion();

std::string Sha256(std::string_view bytes);
std::string Hex(std::string_view bytes);

// SHA-256 over a sequence of parts, each length-prefixed so that no two sequences of parts hash
// alike (what a backup's digest of a whole store is made with).
class Sha256Parts {
 public:
  Sha256Parts();
  ~Sha256Parts();
  Sha256Parts(const Sha256Parts&) = delete;
  Sha256Parts& operator=(const Sha256Parts&) = delete;
  void Add(std::string_view bytes);
  std::string HexDigest();  // ends it

 private:
  void* ctx_;  // an EVP_MD_CTX
};

}  // namespace pmdb::security

#endif  // PMDB_SECURITY_AUDIT_H_
