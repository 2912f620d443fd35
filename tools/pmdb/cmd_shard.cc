// pmdb shard: a region whose store is split across machines (node/shard): add shards to its
// shard map in etcd, list them, and run one.
#include <csignal>
#include <iostream>

#include "node/base/strings.h"
#include "node/server/config.h"
#include "node/server/server.h"
#include "node/shard/move.h"
#include "node/shard/shard_map.h"
#include "node/storage/store.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"

namespace pmdb::cli {
namespace {

const CommandSpec& Spec() {
  static const CommandSpec spec{
      "shard",
      "pmdb shard add|list|serve|move|remove --etcd URL --region REGION [options]",
      "A region that outgrows one machine splits its store by ranges of individual ordinals\n"
      "(multiples of 65,536, one bitmap container) across shard processes; its node asks every\n"
      "shard, adds their exact answers and applies the disclosure rules once. The shard map and\n"
      "each shard's membership live in etcd (docs/operations.md, \"A sharded region\").\n"
      "\n"
      "  add    adds a shard to the map: the next range after the newest shard's, which takes\n"
      "         the region's new people from then on (--name, --size; --db makes a store on\n"
      "         this machine that shard's, ready for pmdb ingest)\n"
      "  list   the shards, their ranges and addresses, and whether each is up (--json)\n"
      "  move   moves the people of ordinals --at to the end of shard --name's range (its store\n"
      "         --db) into a new shard --to with a new store --to-db: a shard that grew too\n"
      "         large splits; --at at its first ordinal moves it whole. Both stopped; running\n"
      "         it again finishes an interrupted move\n"
      "  remove takes back a shard that was added but never served\n"
      "  serve  runs one shard (--name, --db, --listen, the region's shard certificate) until\n"
      "         SIGINT or SIGTERM: its store becomes the shard of its range, it answers the\n"
      "         region's node only, and keeps its membership in etcd alive\n"
      "\n"
      "A node with [shards] etcd in its configuration answers from the shards, and takes ingests\n"
      "and opt-outs as for one store (pmdb ingest|consent --node): each upload goes to the shard\n"
      "that holds its people, new people to the newest shard, opt-outs to every shard. One node\n"
      "leads a region at a time (it keeps the region's budgets and audit log); list shows which.",
      {{"etcd", "URL", "etcd's endpoint: https://HOST:2379 (mutual TLS) or http://127.0.0.1:PORT"},
       {"region", "REGION", "the region whose shards these are"},
       {"name", "NAME", "the shard (a-z, 0-9, '-', '_')"},
       {"size", "N", "add, serve --join: ordinals in the new shard's range (default 1048576)"},
       {"db", "DIR", "serve, move: the shard's store; add: a new store to make that shard's now"},
       {"listen", "HOST:PORT", "serve: where to listen (default 127.0.0.1:0)"},
       {"advertise", "HOST:PORT", "serve: where the node reaches it (default: --listen's)"},
       {"join", "", "serve: add the shard to the map when it is not there (a StatefulSet pod)"},
       {"metrics", "HOST:PORT", "serve: the operations endpoint (/metrics, /livez, /readyz)"},
       {"log", "FORMAT", "serve: json (default), text or off"},
       {"cert", "FILE",
        "https etcd: the region's node (or shard) certificate; serve: the shard certificate "
        "(spiffe://FED/region/REGION/shard)"},
       {"key", "FILE", "its key"},
       {"ca", "FILE", "the federation CA certificate"},
       {"crl", "FILE",
        "the federation CA's revocation list: serve refuses callers whose certificate is on it "
        "(a node's revoked certificate), and it is re-read as the CA publishes it"},
       {"to", "NAME", "move: the new shard"},
       {"to-db", "DIR", "move: the new shard's store (a new directory)"},
       {"at", "ORDINAL", "move: the first ordinal that moves (a multiple of 65536)"},
       {"json", "", "list, add, move: as JSON"}},
      "  pmdb shard add --etcd http://127.0.0.1:2379 --region vast --name s2\n"
      "  pmdb shard list --etcd http://127.0.0.1:2379 --region vast\n"
      "  pmdb shard move --etcd http://127.0.0.1:2379 --region vast --name s1 --db /var/lib/s1 \\\n"
      "      --at 524288 --to s1b --to-db /var/lib/s1b\n"
      "  pmdb shard serve --etcd http://127.0.0.1:2379 --region vast --name s2 --db /var/lib/s2 "
      "\\\n"
      "      --listen 10.0.0.12:7443 --cert shard.crt --key shard.key --ca ca.crt --crl ca.crl\n",
      /*takes_positional=*/true,
  };
  return spec;
}

security::TlsFiles TlsOf(const Flags& flags) {
  return {.cert = flags.Get("cert"),
          .key = flags.Get("key"),
          .ca = flags.Get("ca"),
          .crl = flags.Has("crl") ? flags.Get("crl") : ""};
}

absl::StatusOr<uint64_t> SizeOf(const Flags& flags) {
  if (!flags.Has("size")) return shard::kDefaultShardSize;
  uint64_t size = 0;
  if (!absl::SimpleAtoi(flags.Get("size"), &size) || size == 0 || size % 65536 != 0) {
    return absl::InvalidArgumentError(StrCat(
        "--size is a multiple of 65536 (one bitmap container); got '", flags.Get("size"), "'"));
  }
  return size;
}

}  // namespace

int RunShard(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  if (flags->positional().size() != 1) {
    return UsageError(Spec(),
                      absl::InvalidArgumentError("give one of add, list, serve, move, remove"));
  }
  const std::string action = flags->positional()[0];
  for (const char* needed : {"etcd", "region"}) {
    if (!flags->Has(needed)) {
      return UsageError(Spec(), absl::InvalidArgumentError(StrCat("--", needed, " is required")));
    }
  }
  const std::string region = flags->Get("region");
  auto size = SizeOf(*flags);
  if (!size.ok()) return UsageError(Spec(), size.status());

  if (action == "serve") {
    for (const char* needed : {"name", "db", "cert", "key", "ca"}) {
      if (!flags->Has(needed)) {
        return UsageError(Spec(), absl::InvalidArgumentError(StrCat("serve needs --", needed)));
      }
    }
    server::ShardServeConfig config;
    config.region = region;
    config.name = flags->Get("name");
    config.listen = flags->Get("listen", config.listen);
    config.advertise = flags->Get("advertise");
    config.db = flags->Get("db");
    config.etcd = flags->Get("etcd");
    config.join = flags->Bool("join");
    config.size = *size;
    config.tls = TlsOf(*flags);
    config.metrics_listen = flags->Get("metrics");
    config.log_format = flags->Get("log", config.log_format);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto started = server::StartShard(config);
    if (!started.ok()) return Fail("shard", started.status());
    std::cout << "pmdb shard: shard " << config.name << " of region " << region
              << " listening on port " << (*started)->port() << std::endl;
    if ((*started)->ops_port() != 0) {
      std::cout << "pmdb shard: operations endpoint on port " << (*started)->ops_port()
                << " (/metrics, /livez, /readyz)" << std::endl;
    }
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "pmdb shard: stopping (signal " << sig << ")\n";
    (*started)->Shutdown(std::chrono::seconds(5));
    (*started)->Wait();
    started->reset();
    return 0;
  }

  auto etcd = shard::Etcd::Connect({.endpoint = flags->Get("etcd"), .tls = TlsOf(*flags)});
  if (!etcd.ok()) return Fail("shard", etcd.status());
  const bool json = flags->Bool("json");
  if (action == "add") {
    if (!flags->Has("name")) {
      return UsageError(Spec(), absl::InvalidArgumentError("add needs --name"));
    }
    auto added = shard::AddShard(*etcd, region, flags->Get("name"), shard::kPendingAddress, *size);
    if (!added.ok()) return Fail("shard", added.status());
    if (flags->Has("db")) {
      // The shard's store, made the shard of its range now so that its people can be ingested
      // before it first serves.
      auto store = OpenStore(flags->Get("db"), /*create=*/true);
      absl::Status made =
          store.ok() ? storage::MakeShard(**store, added->first_ordinal(), added->end_ordinal())
                     : store.status();
      if (!made.ok()) {
        // Nothing half-done: the entry goes again.
        absl::Status undone = shard::RemovePendingShard(*etcd, region, added->name());
        if (!undone.ok()) {
          std::cerr << "pmdb shard: the new entry could not be taken back: " << undone << "\n";
        }
        return Fail("shard", made);
      }
    }
    if (json) {
      Json j;
      j.BeginObject()
          .Key("name")
          .String(added->name())
          .Key("first_ordinal")
          .Uint(added->first_ordinal())
          .Key("end_ordinal")
          .Uint(added->end_ordinal())
          .EndObject();
      std::cout << j.str() << "\n";
    } else {
      std::cout << "added shard " << added->name() << " of region " << region << ": ordinals "
                << added->first_ordinal() << " to " << added->end_ordinal()
                << "; new people go to it from now on. Start it with pmdb shard serve.\n";
    }
    return 0;
  }
  if (action == "remove") {
    if (!flags->Has("name")) {
      return UsageError(Spec(), absl::InvalidArgumentError("remove needs --name"));
    }
    absl::Status removed = shard::RemovePendingShard(*etcd, region, flags->Get("name"));
    if (!removed.ok()) return Fail("shard", removed);
    std::cout << "removed shard " << flags->Get("name") << " (it had never served)\n";
    return 0;
  }
  if (action == "move") {
    for (const char* needed : {"name", "db", "to", "to-db", "at"}) {
      if (!flags->Has(needed)) {
        return UsageError(Spec(), absl::InvalidArgumentError(StrCat("move needs --", needed)));
      }
    }
    uint32_t at = 0;
    if (!absl::SimpleAtoi(flags->Get("at"), &at)) {
      return UsageError(Spec(), absl::InvalidArgumentError(
                                    StrCat("--at is an ordinal; got '", flags->Get("at"), "'")));
    }
    auto report = shard::MoveRange(*etcd,
                                   {.region = region,
                                    .from = flags->Get("name"),
                                    .from_db = flags->Get("db"),
                                    .to = flags->Get("to"),
                                    .to_db = flags->Get("to-db"),
                                    .at = at},
                                   [json](const std::string& line) {
                                     if (!json) std::cerr << "pmdb shard: " << line << "\n";
                                   });
    if (!report.ok()) return Fail("shard", report.status());
    if (json) {
      Json j;
      j.BeginObject()
          .Key("first_ordinal")
          .Uint(report->first)
          .Key("end_ordinal")
          .Uint(report->end)
          .Key("individuals")
          .Uint(report->individuals)
          .Key("bitmaps")
          .Uint(report->bitmaps)
          .Key("resumed")
          .Bool(report->resumed)
          .EndObject();
      std::cout << j.str() << "\n";
    } else {
      std::cout << "moved ordinals " << report->first << " to " << report->end << " ("
                << report->individuals << " people) from " << flags->Get("name") << " to "
                << flags->Get("to") << "; start it with pmdb shard serve --name "
                << flags->Get("to") << " --db " << flags->Get("to-db") << "\n";
    }
    return 0;
  }
  if (action == "list") {
    auto map = shard::ReadShardMap(*etcd, region);
    if (!map.ok()) return Fail("shard", map.status());
    auto leader = shard::RegionLeader(*etcd, region);
    if (!leader.ok()) return Fail("shard", leader.status());
    if (json) {
      Json j;
      j.BeginObject().Key("region").String(region).Key("leader");
      if (leader->has_value()) {
        j.String(**leader);
      } else {
        j.Null();
      }
      j.Key("shards").BeginArray();
      for (const shard::ShardInfo& s : *map) {
        j.BeginObject()
            .Key("name")
            .String(s.entry.name())
            .Key("address")
            .String(s.entry.address())
            .Key("first_ordinal")
            .Uint(s.entry.first_ordinal())
            .Key("end_ordinal")
            .Uint(s.entry.end_ordinal())
            .Key("up")
            .Bool(s.alive)
            .EndObject();
      }
      j.EndArray().EndObject();
      std::cout << j.str() << "\n";
      return 0;
    }
    if (map->empty()) {
      std::cout << "region " << region << " has no shards (pmdb shard add makes one)\n";
      return 0;
    }
    std::cout << "region " << region << ": " << map->size() << " shard"
              << (map->size() == 1 ? "" : "s") << ", "
              << (leader->has_value() ? "led by " + **leader : std::string("no node leads it"))
              << "\n";
    for (size_t i = 0; i < map->size(); ++i) {
      const shard::ShardInfo& s = (*map)[i];
      std::cout << "  " << s.entry.name() << "  " << s.entry.address() << "  ordinals "
                << s.entry.first_ordinal() << "-" << s.entry.end_ordinal() << "  "
                << (s.alive ? "up" : "DOWN") << (i + 1 == map->size() ? "  (newest)" : "") << "\n";
    }
    return 0;
  }
  return UsageError(Spec(),
                    absl::InvalidArgumentError(
                        StrCat("unknown action '", action, "': add, list, serve, move or remove")));
}

}  // namespace pmdb::cli
