#include "node/server/config.h"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>
#include <optional>

#include "node/base/strings.h"
#include "query/parser.h"

namespace pmdb::server {
namespace {

// Reads one table's keys, remembering which were used so the rest can be reported.
class Section {
 public:
  Section(const toml::table* table, std::string name, std::string file, std::string dir)
      : table_(table), name_(std::move(name)), file_(std::move(file)), dir_(std::move(dir)) {}

  bool present() const { return table_ != nullptr; }

  absl::Status String(const char* key, std::string* out, bool required = false) {
    used_.insert(key);
    const toml::node* n = Find(key);
    if (n == nullptr) return required ? Missing(key) : absl::OkStatus();
    auto v = n->value<std::string>();
    if (!v) return Wrong(key, "a string", n);
    *out = *v;
    return absl::OkStatus();
  }

  absl::Status Path(const char* key, std::string* out, bool required = false) {
    absl::Status s = String(key, out, required);
    if (s.ok() && !out->empty() && (*out)[0] != '/') {
      *out = (std::filesystem::path(dir_) / *out).lexically_normal().string();
    }
    return s;
  }

  absl::Status Uint(const char* key, uint32_t* out, uint32_t min, uint32_t max) {
    used_.insert(key);
    const toml::node* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    auto v = n->value<int64_t>();
    if (!v || *v < min || *v > max) {
      return Wrong(key, StrCat("an integer from ", min, " to ", max).c_str(), n);
    }
    *out = static_cast<uint32_t>(*v);
    return absl::OkStatus();
  }

  // A decimal number from `min` to `max`, stored as an integer in units of 1/scale (sigma in
  // hundredths, rho in millionths), so sums stay exact.
  absl::Status Scaled(const char* key, uint64_t* out, uint64_t scale, double min, double max) {
    used_.insert(key);
    const toml::node* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    std::optional<double> v;
    if (auto i = n->value_exact<int64_t>()) v = static_cast<double>(*i);
    if (auto d = n->value_exact<double>()) v = *d;
    if (!v || !(*v >= min && *v <= max)) {
      return Wrong(key, StrCat("a number from ", min, " to ", max).c_str(), n);
    }
    *out = static_cast<uint64_t>(std::llround(*v * static_cast<double>(scale)));
    return absl::OkStatus();
  }

  absl::Status Bool(const char* key, bool* out) {
    used_.insert(key);
    const toml::node* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    auto v = n->value<bool>();
    if (!v) return Wrong(key, "true or false", n);
    *out = *v;
    return absl::OkStatus();
  }

  absl::Status Strings(const char* key, std::vector<std::string>* out) {
    used_.insert(key);
    const toml::node* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return Wrong(key, "an array of strings", n);
    out->clear();
    for (const toml::node& item : *arr) {
      auto v = item.value<std::string>();
      if (!v) return Wrong(key, "an array of strings", &item);
      out->push_back(*v);
    }
    return absl::OkStatus();
  }

  absl::Status StringSet(const char* key, const std::vector<std::string>& allowed,
                         std::set<std::string>* out) {
    used_.insert(key);
    const toml::node* n = Find(key);
    if (n == nullptr) return absl::OkStatus();
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return Wrong(key, "an array of strings", n);
    out->clear();
    for (const toml::node& item : *arr) {
      auto v = item.value<std::string>();
      if (!v || std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
        std::string list;
        for (const std::string& a : allowed) StrAppend(&list, list.empty() ? "" : ", ", a);
        return Wrong(key, StrCat("a list of: ", list).c_str(), &item);
      }
      out->insert(*v);
    }
    return absl::OkStatus();
  }

  // Subtables are "used" by whoever reads them.
  void Use(const char* key) { used_.insert(key); }

  absl::Status NoUnknownKeys() const {
    if (table_ == nullptr) return absl::OkStatus();
    for (const auto& [key, node] : *table_) {
      if (used_.count(std::string(key.str())) == 0) {
        return absl::InvalidArgumentError(
            StrCat(file_, ":", node.source().begin.line, ": unknown key ",
                   name_.empty() ? "" : StrCat(name_, "."), key.str()));
      }
    }
    return absl::OkStatus();
  }

 private:
  const toml::node* Find(const char* key) const {
    return table_ == nullptr ? nullptr : table_->get(key);
  }
  absl::Status Missing(const char* key) const {
    return absl::InvalidArgumentError(StrCat(file_, ": [", name_, "] needs ", key));
  }
  absl::Status Wrong(const char* key, const char* expected, const toml::node* n) const {
    return absl::InvalidArgumentError(
        StrCat(file_, ":", n->source().begin.line, ": ", name_, ".", key, " must be ", expected));
  }

  const toml::table* table_;
  std::string name_;
  std::string file_;
  std::string dir_;
  std::set<std::string> used_;
};

struct Document {
  toml::table root;
  std::string file;
  std::string dir;
  Section Sub(Section& parent, const toml::table* base, const char* key) {
    parent.Use(key);
    const toml::node* n = base == nullptr ? nullptr : base->get(key);
    return Section(n == nullptr ? nullptr : n->as_table(), key, file, dir);
  }
};

absl::StatusOr<Document> Parse(const std::string& path) {
  Document doc;
  doc.file = path;
  doc.dir = std::filesystem::absolute(path).parent_path().string();
  try {
    doc.root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    if (!std::filesystem::exists(path)) {
      return absl::NotFoundError(StrCat(path, ": no such configuration file"));
    }
    return absl::InvalidArgumentError(StrCat(path, ":", e.source().begin.line, ":",
                                             e.source().begin.column, ": ",
                                             std::string(e.description())));
  }
  return doc;
}

absl::Status ReadTls(Document& doc, Section& root, security::TlsFiles* tls) {
  Section s = doc.Sub(root, &doc.root, "tls");
  if (!s.present()) return absl::InvalidArgumentError(StrCat(doc.file, ": needs a [tls] table"));
  uint32_t refresh = static_cast<uint32_t>(tls->refresh_seconds);
  for (absl::Status st : {s.Path("cert", &tls->cert, true), s.Path("key", &tls->key, true),
                          s.Path("ca", &tls->ca, true), s.Path("crl", &tls->crl),
                          s.Uint("refresh_seconds", &refresh, 1, 86400), s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  tls->refresh_seconds = static_cast<int>(refresh);
  return absl::OkStatus();
}

absl::Status ReadLimits(Document& doc, Section& root, transport::ConnectionLimits* limits,
                        query::QueryLimits* question, uint32_t* max_message_mb) {
  Section s = doc.Sub(root, &doc.root, "limits");
  uint32_t bytes = static_cast<uint32_t>(question->max_bytes);
  uint32_t nesting = static_cast<uint32_t>(question->max_depth);
  uint32_t criteria = static_cast<uint32_t>(question->max_criteria);
  for (absl::Status st :
       {s.Uint("max_connections", &limits->max_connections, 0, 10000000),
        s.Uint("max_connections_per_address", &limits->per_address, 1, 10000000),
        s.Uint("handshake_timeout_ms", &limits->handshake_timeout_ms, 100, 600000),
        s.Uint("idle_timeout_s", &limits->idle_timeout_s, 1, 86400 * 7),
        s.Uint("max_question_bytes", &bytes, 256, 1 << 20),
        s.Uint("max_nesting", &nesting, 1, static_cast<uint32_t>(query::kMaxDepth)),
        s.Uint("max_criteria", &criteria, 1, 100000),
        s.Uint("max_message_mb", max_message_mb, 1, 1024), s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  question->max_bytes = bytes;
  question->max_depth = static_cast<int>(nesting);
  question->max_criteria = criteria;
  return absl::OkStatus();
}

// [metrics] listen: the operations endpoint's address (metrics and probes); absent: none.
absl::Status ReadMetrics(Document& doc, Section& root, std::string* listen) {
  Section s = doc.Sub(root, &doc.root, "metrics");
  for (absl::Status st : {s.String("listen", listen), s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

// [beacon] (config.h): at the hub also the vocabularies and the MME disclaimer.
absl::Status ReadBeacon(Document& doc, Section& root, BeaconConfig* beacon, bool hub) {
  Section b = doc.Sub(root, &doc.root, "beacon");
  if (!hub) {
    for (const char* key : {"hpo", "icd10", "disclaimer"}) {
      if (doc.root["beacon"][key]) {
        return absl::InvalidArgumentError(StrCat(doc.file, ": beacon.", key,
                                                 " is for the hub's Beacon; a node's public tier "
                                                 "takes no filters and no matchmaking"));
      }
    }
  }
  for (absl::Status st :
       {b.String("id", &beacon->id), b.String("name", &beacon->name),
        b.String("organization", &beacon->organization), b.String("contact", &beacon->contact),
        b.String("url", &beacon->url), b.String("environment", &beacon->environment),
        b.Path("hpo", &beacon->hpo), b.Path("icd10", &beacon->icd10),
        b.String("disclaimer", &beacon->disclaimer), b.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  const std::string& env = beacon->environment;
  if (env != "prod" && env != "test" && env != "dev" && env != "staging") {
    return absl::InvalidArgumentError(
        StrCat(doc.file, ": beacon.environment is '", env,
               "'; it is \"prod\", \"test\", \"dev\" or \"staging\""));
  }
  return absl::OkStatus();
}

// [https] (config.h): the hub's standard APIs and page, a node's operators' page.
absl::Status ReadHttps(Document& doc, Section& root, HttpsConfig* https) {
  Section s = doc.Sub(root, &doc.root, "https");
  for (absl::Status st :
       {s.String("listen", &https->listen), s.Uint("max_body_kb", &https->max_body_kb, 1, 4096),
        s.Uint("read_timeout_ms", &https->read_timeout_ms, 100, 600000),
        s.Uint("max_connections", &https->max_connections, 1, 100000),
        s.Uint("max_connections_per_address", &https->max_connections_per_address, 1, 100000),
        s.Strings("cors_origins", &https->cors_origins), s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  for (const std::string& origin : https->cors_origins) {
    if (origin == "*") {
      return absl::InvalidArgumentError(
          StrCat(doc.file,
                 ": https.cors_origins may not be \"*\": the browser sends the user's "
                 "certificate, so every site's pages could ask (and spend their budget) as "
                 "them; name the origins of the pages you host"));
    }
  }
  return absl::OkStatus();
}

// [public] (a node): the anonymous public tier, on when `listen` is given.
absl::Status ReadPublic(Document& doc, Section& root, PublicHttpsConfig* https,
                        core::PublicTier* tier) {
  Section s = doc.Sub(root, &doc.root, "public");
  uint64_t sigma = tier->scale.sigma_centi;
  for (absl::Status st :
       {s.String("listen", &https->listen), s.Path("cert", &https->cert),
        s.Path("key", &https->key),
        s.Uint("requests_per_minute", &https->requests_per_minute, 1, 100000),
        s.Uint("max_connections", &https->max_connections, 1, 100000),
        s.Uint("max_connections_per_address", &https->max_connections_per_address, 1, 100000),
        s.Scaled("sigma", &sigma, 100, 1, 1000), s.Uint("threshold", &tier->threshold, 1, 1000000),
        s.Scaled("budget", &tier->budget_micros, 1000000, 0.000001, 100),
        s.Uint("period_days", &tier->period_days, 1, 365),
        s.Scaled("share", &tier->share_millionths, 1000000, 0.000001, 1), s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  tier->scale.sigma_centi = static_cast<uint32_t>(sigma);
  tier->enabled = !https->listen.empty();
  if (https->cert.empty() != https->key.empty()) {
    return absl::InvalidArgumentError(
        StrCat(doc.file, ": public.cert and public.key go together (or neither: the node's own)"));
  }
  return absl::OkStatus();
}

// [log] format: how calls and gRPC's own messages are logged on stderr.
absl::Status ReadLog(Document& doc, Section& root, std::string* format) {
  Section s = doc.Sub(root, &doc.root, "log");
  for (absl::Status st : {s.String("format", format), s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  if (*format != "json" && *format != "text" && *format != "off") {
    return absl::InvalidArgumentError(
        StrCat(doc.file, ": log.format is '", *format, "'; it is \"json\", \"text\" or \"off\""));
  }
  return absl::OkStatus();
}

absl::Status ReadDisclosure(Document& doc, Section& root, security::DisclosureRules* rules) {
  Section s = doc.Sub(root, &doc.root, "disclosure");
  uint64_t sigma = rules->scale.sigma_centi;
  for (absl::Status st :
       {s.Uint("min_count", &rules->min_count, 1, 1000),
        s.Bool("differential_privacy", &rules->differential_privacy),
        s.Scaled("sigma", &sigma, 100, 0.5, 1000), s.Uint("noise", &rules->noise, 0, 100),
        s.Uint("daily_budget", &rules->daily_budget, 1, 100000000),
        s.Uint("near_repeat_limit", &rules->near_repeat_limit, 0, 100000000),
        s.Bool("close_side_channels", &rules->close_side_channels),
        s.Uint("response_quantum_ms", &rules->response_quantum_ms, 0, 10000),
        s.Uint("national_collusion", &rules->national_collusion, 0, 100), s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  rules->scale.sigma_centi = static_cast<uint32_t>(sigma);
  if (rules->differential_privacy && rules->noise > 0) {
    return absl::InvalidArgumentError(
        StrCat(doc.file,
               ": disclosure.noise is the thresholds-only mode's noise; with differential "
               "privacy on, set disclosure.sigma instead"));
  }
  return absl::OkStatus();
}

bool ValidId(std::string_view id);

// [privacy] (the budgets' period and sizes) and [[projects]] (who may ask, and how much).
absl::Status ReadPrivacy(Document& doc, Section& root, security::PrivacyBudgets* budgets) {
  Section s = doc.Sub(root, &doc.root, "privacy");
  for (absl::Status st :
       {s.Uint("period_days", &budgets->period_days, 1, 3660),
        s.Scaled("researcher_budget", &budgets->researcher_micros, 1000000, 0, 1000),
        s.Scaled("region_budget", &budgets->region_micros, 1000000, 0, 100000),
        s.Scaled("researcher_yearly_budget", &budgets->researcher_yearly_micros, 1000000, 0,
                 100000),
        s.Scaled("region_yearly_budget", &budgets->region_yearly_micros, 1000000, 0, 1000000),
        s.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  root.Use("projects");
  const toml::node* node = doc.root.get("projects");
  if (node == nullptr) return absl::OkStatus();
  const toml::array* arr = node->as_array();
  if (arr == nullptr) {
    return absl::InvalidArgumentError(
        StrCat(doc.file, ":", node->source().begin.line, ": projects must be [[projects]] tables"));
  }
  std::set<std::string> ids, members;
  for (const toml::node& item : *arr) {
    Section p(item.as_table(), "projects", doc.file, doc.dir);
    if (!p.present()) {
      return absl::InvalidArgumentError(StrCat(doc.file, ":", item.source().begin.line,
                                               ": projects must be [[projects]] tables"));
    }
    security::Project project;
    std::vector<std::string> names;
    for (absl::Status st :
         {p.String("id", &project.id, true), p.Strings("members", &names),
          p.Scaled("budget", &project.budget_micros, 1000000, 0, 100000),
          p.Uint("period_days", &project.period_days, 1, 3660),
          p.Scaled("share", &project.share_millionths, 1000000, 0.000001, 1), p.NoUnknownKeys()}) {
      if (!st.ok()) return st;
    }
    int line = item.source().begin.line;
    if (!ValidId(project.id) || !ids.insert(project.id).second) {
      return absl::InvalidArgumentError(
          StrCat(doc.file, ":", line, ": project id '", project.id, "' is invalid or repeated"));
    }
    for (const std::string& m : names) {
      if (!ValidId(m)) {
        return absl::InvalidArgumentError(
            StrCat(doc.file, ":", line, ": project ", project.id, " member '", m,
                   "' must be a researcher name (spiffe://<federation>/researcher/<name>)"));
      }
      if (!members.insert(m).second) {
        return absl::InvalidArgumentError(StrCat(doc.file, ":", line, ": researcher ", m,
                                                 " is in two projects; one project pays"));
      }
      project.members.insert(m);
    }
    budgets->projects.push_back(std::move(project));
  }
  uint64_t shares = 0;
  for (const security::Project& p : budgets->projects) shares += p.share_millionths;
  if (shares > 1000000) {
    return absl::InvalidArgumentError(
        StrCat(doc.file, ": the projects' shares of the region budget add up to ",
               security::FormatMicros(shares), ", more than 1"));
  }
  return absl::OkStatus();
}

bool ValidId(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<NodeConfig> LoadNodeConfig(const std::string& path) {
  auto doc = Parse(path);
  if (!doc.ok()) return doc.status();
  NodeConfig c;
  Section root(&doc->root, "", doc->file, doc->dir);
  Section node = doc->Sub(root, &doc->root, "node");
  if (!node.present()) return absl::InvalidArgumentError(StrCat(path, ": needs a [node] table"));
  for (absl::Status st :
       {node.String("region", &c.settings.region, true), node.String("listen", &c.listen),
        node.Path("db", &c.db, true), node.Uint("min_free_mb", &c.min_free_mb, 1, 1 << 20),
        node.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  if (!ValidId(c.settings.region)) {
    return absl::InvalidArgumentError(
        StrCat(path, ": node.region '", c.settings.region,
               "' must be lower-case letters, digits, '-', '_', '.'"));
  }
  absl::Status s = ReadTls(*doc, root, &c.tls);
  if (!s.ok()) return s;
  s = ReadLimits(*doc, root, &c.limits, &c.question_limits, &c.max_message_mb);
  if (!s.ok()) return s;
  s = ReadMetrics(*doc, root, &c.metrics_listen);
  if (!s.ok()) return s;
  s = ReadLog(*doc, root, &c.log_format);
  if (!s.ok()) return s;
  s = ReadDisclosure(*doc, root, &c.settings.disclosure);
  if (!s.ok()) return s;
  s = ReadPrivacy(*doc, root, &c.settings.privacy);
  if (!s.ok()) return s;
  s = ReadPublic(*doc, root, &c.public_https, &c.settings.public_tier);
  if (!s.ok()) return s;
  s = ReadBeacon(*doc, root, &c.beacon, /*hub=*/false);
  if (!s.ok()) return s;
  s = ReadHttps(*doc, root, &c.https);
  if (!s.ok()) return s;
  {
    Section sh = doc->Sub(root, &doc->root, "shards");
    for (absl::Status st :
         {sh.String("etcd", &c.shards.etcd),
          sh.Uint("deadline_ms", &c.shards.deadline_ms, 100, 600000),
          sh.Uint("refresh_ms", &c.shards.refresh_ms, 100, 600000),
          sh.Uint("leader_wait_ms", &c.shards.leader_wait_ms, 0, 600000), sh.NoUnknownKeys()}) {
      if (!st.ok()) return st;
    }
    if (!c.shards.etcd.empty() && !c.shards.etcd.starts_with("https://") &&
        !c.shards.etcd.starts_with("http://")) {
      return absl::InvalidArgumentError(
          StrCat(path, ": shards.etcd is '", c.shards.etcd,
                 "'; it is https://HOST:PORT (or http:// on loopback)"));
    }
  }

  Section sharing = doc->Sub(root, &doc->root, "sharing");
  s = sharing.Bool("participate", &c.settings.participate);
  if (!s.ok()) return s;
  const toml::node* sharing_node = doc->root.get("sharing");
  const toml::table* sharing_table = sharing_node == nullptr ? nullptr : sharing_node->as_table();
  // Roles that may receive aggregates through the hub; without a [sharing.<role>] table a role
  // gets nothing.
  for (const char* role : {"researcher"}) {
    Section r = doc->Sub(sharing, sharing_table, role);
    if (!r.present()) continue;
    core::Sharing share;
    share.kinds = {"count", "breakdown", "frequency"};
    share.criteria = std::set<std::string>(query::LeafKinds().begin(), query::LeafKinds().end());
    for (absl::Status st :
         {r.StringSet("kinds", {"count", "breakdown", "frequency"}, &share.kinds),
          r.StringSet("criteria", query::LeafKinds(), &share.criteria), r.NoUnknownKeys()}) {
      if (!st.ok()) return st;
    }
    c.settings.sharing[role] = std::move(share);
  }
  // Clinicians get similar cases (and contact requests) only where [sharing.clinician] exists.
  Section clin = doc->Sub(sharing, sharing_table, "clinician");
  if (clin.present()) {
    core::ClinicianSharing& cs = c.settings.clinician;
    uint32_t ttl_hours = static_cast<uint32_t>(cs.reference_ttl_seconds / 3600);
    uint64_t min_score = static_cast<uint64_t>(std::llround(cs.min_score * 1000));
    for (absl::Status st :
         {clin.String("contact", &cs.contact, true),
          clin.Uint("reference_ttl_hours", &ttl_hours, 1, 24 * 366),
          clin.Uint("max_top", &cs.max_top, 1, 1000),
          clin.Uint("daily_searches", &cs.daily_searches, 1, 1'000'000'000),
          clin.Uint("min_phenotypes", &cs.min_phenotypes, 0, 100),
          clin.Scaled("min_score", &min_score, 1000, 0, 1),
          clin.Uint("per_person_matches", &cs.per_person_matches, 0, 1'000'000),
          clin.Uint("per_person_days", &cs.per_person_days, 1, 3660), clin.NoUnknownKeys()}) {
      if (!st.ok()) return st;
    }
    cs.reference_ttl_seconds = int64_t{ttl_hours} * 3600;
    cs.min_score = static_cast<double>(min_score) / 1000;
    c.settings.sharing["clinician"].kinds = {"similar"};
  }
  s = sharing.NoUnknownKeys();
  if (!s.ok()) return s;
  s = root.NoUnknownKeys();
  if (!s.ok()) return s;
  return c;
}

absl::StatusOr<HubConfig> LoadHubConfig(const std::string& path) {
  auto doc = Parse(path);
  if (!doc.ok()) return doc.status();
  HubConfig c;
  Section root(&doc->root, "", doc->file, doc->dir);
  Section hub = doc->Sub(root, &doc->root, "hub");
  if (!hub.present()) return absl::InvalidArgumentError(StrCat(path, ": needs a [hub] table"));
  uint32_t deadline = static_cast<uint32_t>(c.deadline_ms);
  uint32_t witness = static_cast<uint32_t>(c.witness_interval_s);
  for (absl::Status st : {hub.String("listen", &c.listen), hub.Path("db", &c.db, true),
                          hub.Uint("min_free_mb", &c.min_free_mb, 1, 1 << 20),
                          hub.Uint("deadline_ms", &deadline, 10, 600000),
                          hub.Uint("witness_interval_s", &witness, 1, 86400),
                          hub.Bool("national", &c.national), hub.NoUnknownKeys()}) {
    if (!st.ok()) return st;
  }
  c.deadline_ms = static_cast<int>(deadline);
  c.witness_interval_s = static_cast<int>(witness);
  absl::Status s = ReadTls(*doc, root, &c.tls);
  if (!s.ok()) return s;
  s = ReadLimits(*doc, root, &c.limits, &c.question_limits, &c.max_message_mb);
  if (!s.ok()) return s;
  s = ReadMetrics(*doc, root, &c.metrics_listen);
  if (!s.ok()) return s;
  s = ReadLog(*doc, root, &c.log_format);
  if (!s.ok()) return s;
  s = ReadHttps(*doc, root, &c.https);
  if (!s.ok()) return s;
  s = ReadBeacon(*doc, root, &c.beacon, /*hub=*/true);
  if (!s.ok()) return s;
  s = ReadDisclosure(*doc, root, &c.disclosure);
  if (!s.ok()) return s;
  root.Use("regions");
  const toml::node* regions = doc->root.get("regions");
  const toml::array* arr = regions == nullptr ? nullptr : regions->as_array();
  if (arr == nullptr || arr->empty()) {
    return absl::InvalidArgumentError(StrCat(path, ": needs at least one [[regions]] entry"));
  }
  std::set<std::string> seen;
  for (const toml::node& item : *arr) {
    Section r(item.as_table(), "regions", doc->file, doc->dir);
    RegionEndpoint e;
    for (absl::Status st :
         {r.String("id", &e.id, true), r.String("address", &e.address, true), r.NoUnknownKeys()}) {
      if (!st.ok()) return st;
    }
    if (!ValidId(e.id) || !seen.insert(e.id).second) {
      return absl::InvalidArgumentError(StrCat(path, ":", item.source().begin.line, ": region id '",
                                               e.id, "' is invalid or repeated"));
    }
    c.regions.push_back(std::move(e));
  }
  s = root.NoUnknownKeys();
  if (!s.ok()) return s;
  return c;
}

}  // namespace pmdb::server
