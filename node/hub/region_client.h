// A region as the hub reaches it: the RegionService calls, made on an end user's behalf with a
// deadline, answered through a callback. node/transport implements it over gRPC; tests
// implement it in memory. Implementations are thread-safe and complete every call exactly once,
// on any thread; a region that cannot be reached answers UNAVAILABLE, one that took too long
// DEADLINE_EXCEEDED.
//
// REQUIRES of callers: `request` stays valid until `done` has run (the hub's callers keep
// theirs until the federated reply, which comes after every region's `done`).
#ifndef PMDB_NODE_HUB_REGION_CLIENT_H_
#define PMDB_NODE_HUB_REGION_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "node/call/finish.h"
#include "pmdb/v1/answers.pb.h"
#include "pmdb/v1/national.pb.h"
#include "pmdb/v1/region.pb.h"
#include "pmdb/v1/similar.pb.h"

namespace pmdb::hub {

using call::Done;

struct Outgoing {
  std::string on_behalf_of;  // the end user's identity URI
  std::chrono::system_clock::time_point deadline;
};

class RegionClient {
 public:
  virtual ~RegionClient() = default;
  virtual void Info(const Outgoing& call, const v1::InfoRequest& request,
                    Done<v1::RegionInfo> done) = 0;
  virtual void Count(const Outgoing& call, const v1::CountRequest& request,
                     Done<v1::CountAnswer> done) = 0;
  virtual void Breakdown(const Outgoing& call, const v1::BreakdownRequest& request,
                         Done<v1::BreakdownAnswer> done) = 0;
  virtual void Frequency(const Outgoing& call, const v1::FrequencyRequest& request,
                         Done<v1::FrequencyAnswer> done) = 0;
  virtual void Catalogue(const Outgoing& call, const v1::CatalogueRequest& request,
                         Done<v1::CatalogueAnswer> done) = 0;
  virtual void SimilarCases(const Outgoing& call, const v1::SimilarCasesRequest& request,
                            Done<v1::SimilarCasesAnswer> done) = 0;
  virtual void RequestContact(const Outgoing& call, const v1::ContactRequest& request,
                              Done<v1::ContactTicket> done) = 0;
  virtual void ContactStatus(const Outgoing& call, const v1::ContactStatusRequest& request,
                             Done<v1::ContactTicket> done) = 0;
  // The region's share of a national total (national.proto).
  virtual void NationalShare(const Outgoing& call, const v1::NationalShareRequest& request,
                             Done<v1::NationalShareAnswer> done) {
    (void)call;
    (void)request;
    done(absl::UnimplementedError("this region gives no shares of national totals"));
  }
  // The region's audit head, asked on the hub's own behalf (`call.on_behalf_of` is empty).
  virtual void AuditHead(const Outgoing& call, const v1::AuditHeadRequest& request,
                         Done<v1::AuditHeadReply> done) {
    (void)call;
    (void)request;
    done(absl::UnimplementedError("this region does not report its audit head"));
  }
};

struct Region {
  std::string id;
  std::shared_ptr<RegionClient> client;
  std::string refusal;  // why the hub does not ask it (then `client` is null)
};

}  // namespace pmdb::hub

#endif  // PMDB_NODE_HUB_REGION_CLIENT_H_
