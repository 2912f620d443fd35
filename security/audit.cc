#include "security/audit.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

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

std::string OpenSslVersion() { return OpenSSL_version(OPENSSL_VERSION); }

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

std::string AnchorPathOf(const std::string& store_dir) {
  return storage::AuditAnchorPath(store_dir);
}

namespace {

// One anchor record: magic, length, head hash, and the first 8 bytes of SHA-256 of the rest.
constexpr char kAnchorMagic[] = "PMDBAN01";
constexpr size_t kAnchorBody = 8 + 8 + SHA256_DIGEST_LENGTH;
constexpr size_t kAnchorSlot = kAnchorBody + 8;

std::string EncodeAnchor(const AuditAnchor& a) {
  std::string r(kAnchorMagic, 8);
  for (int i = 0; i < 8; ++i) r.push_back(static_cast<char>((a.entries >> (8 * i)) & 0xff));
  r += a.hash;
  r.resize(kAnchorBody, '\0');
  r += Sha256(r).substr(0, 8);
  return r;
}

std::optional<AuditAnchor> DecodeAnchor(std::string_view r) {
  if (r.size() != kAnchorSlot || r.substr(0, 8) != std::string_view(kAnchorMagic, 8) ||
      Sha256(r.substr(0, kAnchorBody)).substr(0, 8) != r.substr(kAnchorBody)) {
    return std::nullopt;
  }
  AuditAnchor a;
  for (int i = 0; i < 8; ++i)
    a.entries |= uint64_t{static_cast<unsigned char>(r[8 + i])} << (8 * i);
  a.hash = std::string(r.substr(16, SHA256_DIGEST_LENGTH));
  return a;
}

// The stored bytes of entry `seq`, if it is there.
absl::StatusOr<std::optional<std::string>> EntryBytes(const storage::ReadView& view, uint64_t seq) {
  return view.Get(Family::kAudit, keys::AuditKey(seq));
}

}  // namespace

absl::StatusOr<ChainHead> HeadOf(const storage::ReadView& view) {
  auto head = view.Get(Family::kMeta, keys::kMetaAuditHead);
  if (!head.ok()) return head.status();
  if (!head->has_value()) return ChainHead{};
  const std::string& h = **head;
  if (h.size() != 8 + SHA256_DIGEST_LENGTH) {
    return absl::DataLossError("the audit log's head record is damaged");
  }
  auto seq = keys::ParseAuditKey(std::string_view(h).substr(0, 8));
  if (!seq.has_value()) return absl::DataLossError("the audit log's head record is damaged");
  return ChainHead{.entries = *seq + 1, .hash = h.substr(8)};
}

absl::StatusOr<std::optional<std::string>> EntryHash(const storage::ReadView& view, uint64_t seq) {
  auto bytes = EntryBytes(view, seq);
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(Sha256(**bytes));
}

absl::StatusOr<std::optional<AuditAnchor>> ReadAnchor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<AuditAnchor>();
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::optional<AuditAnchor> best;
  for (size_t at = 0; at + kAnchorSlot <= bytes.size(); at += kAnchorSlot) {
    auto a = DecodeAnchor(std::string_view(bytes).substr(at, kAnchorSlot));
    if (a.has_value() && (!best.has_value() || a->entries > best->entries)) {
      best = a;
      best->slot = static_cast<int>(at / kAnchorSlot);
    }
  }
  if (!best.has_value() && !bytes.empty()) {
    return absl::DataLossError(StrCat(path, " holds no valid audit anchor"));
  }
  return best;
}

absl::Status WriteAnchor(const std::string& path, const AuditAnchor& anchor, bool fresh) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0600);
  if (fd < 0) return absl::UnavailableError(StrCat("cannot write ", path, ": ", strerror(errno)));
  std::string record = EncodeAnchor(anchor);
  off_t at = static_cast<off_t>((anchor.slot == 0 ? 0 : 1) * kAnchorSlot);
  bool ok = ::pwrite(fd, record.data(), record.size(), at) == static_cast<ssize_t>(record.size()) &&
            ::fdatasync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) return absl::UnavailableError(StrCat("cannot write ", path, ": ", strerror(saved)));
  if (fresh) {
    // The file may be new: its name must survive a power cut too.
    int dir = ::open(std::filesystem::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  return absl::OkStatus();
}

std::vector<AuditProblem> TailProblems(const storage::ReadView& view,
                                       const std::optional<AuditAnchor>& anchor) {
  std::vector<AuditProblem> problems;
  auto head = view.Get(Family::kMeta, keys::kMetaAuditHead);
  auto first = EntryBytes(view, 0);
  if (!head.ok() || !first.ok()) {
    problems.push_back({0, "the log cannot be read"});
    return problems;
  }
  uint64_t entries = 0;
  if (head->has_value()) {
    const std::string& h = **head;
    auto seq = keys::ParseAuditKey(std::string_view(h).substr(0, 8));
    if (h.size() != 8 + SHA256_DIGEST_LENGTH || !seq) {
      problems.push_back({0, "the head record is damaged"});
      return problems;
    }
    entries = *seq + 1;
    auto last = EntryBytes(view, *seq);
    if (!last.ok() || !last->has_value()) {
      problems.push_back({*seq, "the log ends before its head record (cut short)"});
    } else if (Sha256(**last) != h.substr(8)) {
      problems.push_back({*seq, "the last entry does not match the head record (edited)"});
    }
    auto beyond = EntryBytes(view, entries);
    if (beyond.ok() && beyond->has_value()) {
      problems.push_back({entries, "entries past the head record (the head was put back)"});
    }
  } else {
    // No head record: there must be no entry at all (the first one may have been removed too).
    bool any = first->has_value();
    if (!any) {
      (void)view.Scan(Family::kAudit, "", "", [&](std::string_view, std::string_view) {
        any = true;
        return false;
      });
    }
    if (any) problems.push_back({0, "the head record is missing"});
  }
  if (anchor.has_value() && anchor->entries > 0) {
    if (entries < anchor->entries) {
      problems.push_back(
          {entries, StrCat("the log has ", entries, " entries but was anchored at ",
                           anchor->entries, ": an older copy put back, or entries removed")});
    } else {
      auto anchored = EntryBytes(view, anchor->entries - 1);
      if (!anchored.ok() || !anchored->has_value() || Sha256(**anchored) != anchor->hash) {
        problems.push_back({anchor->entries - 1,
                            "the entry at the anchored head is not the one anchored (the log "
                            "was edited and re-linked)"});
      }
    }
  }
  return problems;
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(storage::Store* store,
                                                         const Clock* clock) {
  return Open(store, Options{.clock = clock});
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(storage::Store* store,
                                                         const Options& options) {
  const std::string anchor_path = AnchorPathOf(store->dir());
  auto anchor = ReadAnchor(anchor_path);
  if (!anchor.ok() && !options.accept_damage) return anchor.status();
  auto view = store->Snapshot();
  std::vector<AuditProblem> problems =
      TailProblems(*view, anchor.ok() ? *anchor : std::optional<AuditAnchor>());
  uint64_t next = 0;
  std::string hash;
  if (problems.empty()) {
    auto head = view->Get(Family::kMeta, keys::kMetaAuditHead);
    if (!head.ok()) return head.status();
    if (head->has_value()) {
      next = *keys::ParseAuditKey(std::string_view(**head).substr(0, 8)) + 1;
      hash = (**head).substr(8);
    }
  } else if (!options.accept_damage) {
    return absl::FailedPreconditionError(
        StrCat("the audit log of ", store->dir(), " is not the one last written (entry ",
               problems.front().seq, ": ", problems.front().what, "); `pmdb audit verify --db ",
               store->dir(),
               "` shows the details. Go on with this log only by the operator's explicit choice "
               "(pmdb node --accept-audit-damage), which anchors it as it is now"));
  } else {
    // Continue after the last entry there is, and anchor the log as it is.
    absl::Status scanned =
        view->Scan(Family::kAudit, "", "", [&](std::string_view key, std::string_view value) {
          auto seq = keys::ParseAuditKey(key);
          if (seq && *seq + 1 > next) {
            next = *seq + 1;
            hash = Sha256(value);
          }
          return true;
        });
    if (!scanned.ok()) return scanned;
    // The head record follows the log as it is, so that the next open finds them consistent.
    storage::WriteBatch repair = store->NewBatch();
    if (next > 0) {
      repair.Put(Family::kMeta, keys::kMetaAuditHead, EncodeHead(next - 1, hash));
    } else {
      repair.Delete(Family::kMeta, keys::kMetaAuditHead);
    }
    absl::Status repaired = store->Write(repair);
    if (!repaired.ok()) return repaired;
    std::fprintf(stderr,
                 "pmdb: WARNING: going on with a damaged audit log in %s (entry %llu: %s)\n",
                 store->dir().c_str(), static_cast<unsigned long long>(problems.front().seq),
                 problems.front().what.c_str());
  }
  int slot = 1;  // where the next record goes: the slot not holding the current one
  if (!anchor.ok() || !anchor->has_value() || !problems.empty()) {
    if (anchor.ok() && !anchor->has_value() && next > 0 && problems.empty()) {
      // A log with entries and no anchor: the first start of a pmdb that anchors, a store
      // restored or moved without its anchor — or an anchor removed to hide a rollback.
      std::fprintf(stderr,
                   "pmdb: WARNING: no audit anchor beside %s although its log has %llu entries; "
                   "anchoring it as it is now (expected once after an upgrade or a restore into "
                   "a new place, otherwise the anchor was removed)\n",
                   store->dir().c_str(), static_cast<unsigned long long>(next));
    }
    absl::Status anchored = WriteAnchor(anchor_path, {next, hash, 0}, /*fresh=*/true);
    if (!anchored.ok()) return anchored;
  } else {
    slot = (*anchor)->slot == 0 ? 1 : 0;
  }
  auto log = std::unique_ptr<AuditLog>(new AuditLog(store, options.clock, next, std::move(hash)));
  log->anchor_path_ = anchor_path;
  log->anchor_slot_ = slot;
  return log;
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
  entry.clear_arrived_steady_nanos();  // the call's own clock, never stored
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

std::string AuditLog::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
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
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = s.ok() ? "" : std::string(s.message());
    }
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      head_hash_ = hash;
      next_seq_ = seq;
    }
    // The entries are durable (synced write-ahead log), so what they record may be released
    // now: the anchor is not on the answer's path. Appends that arrive meanwhile wait for the
    // next batch, which is how they are committed as a group.
    for (Pending& p : batch) {
      if (p.done) p.done(s);
    }
    if (!s.ok()) continue;
    // After the entries are durable, never before: the anchor may lag the log, not lead it.
    absl::Status anchored = WriteAnchor(anchor_path_, {seq, hash, anchor_slot_});
    if (anchored.ok()) anchor_slot_ = 1 - anchor_slot_;
    if (!anchored.ok() && !anchor_failed_) {
      anchor_failed_ = true;
      std::fprintf(stderr, "pmdb: the audit anchor lags the log: %s\n",
                   std::string(anchored.message()).c_str());
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
        if (filter.newest && filter.limit != 0 && out.size() > 2 * filter.limit) {
          out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(filter.limit));
        }
        return filter.newest || filter.limit == 0 || out.size() < filter.limit;
      });
  if (!scan.ok()) return scan;
  if (!bad.ok()) return bad;
  if (filter.newest && filter.limit != 0 && out.size() > filter.limit) {
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(filter.limit));
  }
  return out;
}

}  // namespace pmdb::security
