// pmdb catalogue: a national catalogue of allele frequencies, built through the hub as a
// sites-only VCF with every region's and the nation's AC, AN and AF.
#include <htslib/hts.h>
#include <htslib/vcf.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "node/base/strings.h"
#include "node/ingest/hts_handles.h"
#include "node/transport/status.h"
#include "pmdb/v1/federation.grpc.pb.h"
#include "query/limits.h"
#include "query/parser.h"
#include "security/released.h"
#include "tools/pmdb/commands.h"
#include "tools/pmdb/common.h"
#include "tools/pmdb/json.h"
#include "tools/pmdb/output.h"
#include "tools/pmdb/remote.h"

namespace pmdb::cli {
namespace {

using ingest::HeaderPtr;
using ingest::HtsFilePtr;
using ingest::RecordPtr;

constexpr double kDefaultRho = 0.25;
constexpr size_t kDefaultBatch = 500;

const CommandSpec& Spec() {
  static const CommandSpec spec = [] {
    CommandSpec s{
        "catalogue",
        "pmdb catalogue [--hub HOST:PORT] --sites SITES.vcf --assembly NAME --out CATALOGUE.vcf "
        "[--rho R | --sigma SD] [--cost] [--json]",
        "Builds a national catalogue of allele frequencies through the hub (a researcher's\n"
        "certificate): for every site of SITES.vcf (VCF or BCF, plain or bgzipped; a public\n"
        "list such as a reference panel's sites; genotypes in it are ignored) every region\n"
        "releases its allele count (AC) and number of called alleles (AN), and the hub adds them\n"
        "up. The result is a sites-only VCF that bcftools reads, with INFO fields AC, AN, AF\n"
        "(national) and AC_<region>, AN_<region>, AF_<region> ('-' in a region's id written\n"
        "'_'), and NREGIONS (how many regions the national numbers include).\n"
        "\n"
        "Every number is released through the regions' differential privacy: each AC and AN\n"
        "carries discrete Gaussian noise, and one person can change the AC and AN of every site\n"
        "they carry, so the whole catalogue costs rho = 4 * sites / sigma^2 of your budget at\n"
        "every region. Give what it may cost (--rho, default 0.25) and the noise follows, or the\n"
        "noise (--sigma) and the cost follows; the noise is never below a frequency answer's\n"
        "(twice the region's sigma). Numbers a region shows only as a small range (below its\n"
        "minimum count) are left empty ('.'), never written as a number. A region that does not\n"
        "answer a batch is left out of that batch's national numbers (see NREGIONS).\n"
        "\n"
        "The same catalogue asked again (the same sites, the same noise, on the same data) is the\n"
        "same release and costs nothing. Sites go in batches (--batch, default 500; at most the\n"
        "regions' [limits] max_criteria), cut from the sites sorted, so the same sites make the\n"
        "same batches whatever the file's order; each batch is one audited question at every\n"
        "region. A catalogue that failed half-way is finished by running it again: the batches\n"
        "already paid for are free.\n"
        "The output appears only when the whole catalogue is written.",
        {
            {"sites", "FILE", "the sites to look up: VCF or BCF; every ALT allele is one site"},
            {"assembly", "NAME", "the sites' assembly, as the regions name it (e.g. GRCh38)"},
            {"out", "FILE", "the catalogue: .vcf, .vcf.gz (bgzip) or .bcf"},
            {"rho", "R", "what the whole catalogue may cost at each region (default 0.25)"},
            {"sigma", "SD", "the noise on every AC and AN instead (the cost follows from it)"},
            {"batch", "N", "sites per question (default 500)"},
            {"cost", "", "only say what it would cost at each region; write nothing"},
            {"hub", "HOST:PORT", "the hub (default: $PMDB_HUB)"},
            {"timeout", "SECONDS", "give up on a batch after this long (default 30)"},
            {"json", "", "print a summary as JSON"},
        },
        "  pmdb catalogue --sites panel.sites.vcf.gz --assembly GRCh37 --out national.vcf.gz\n"
        "  pmdb catalogue --sites panel.sites.vcf.gz --assembly GRCh37 --rho 0.1 --cost\n"
        "  bcftools view -H -i 'AF>0.05' national.vcf.gz\n",
    };
    for (FlagSpec& f : CredentialFlags()) s.flags.push_back(std::move(f));
    return s;
  }();
  return spec;
}

struct Site {
  std::string chrom;  // as the sites file names it
  int64_t pos = 0;    // 1-based
  std::string ref, alt;
};

// Every ALT allele of every record of `path` that the query language can name (symbolic
// alleles, breakends and '*' cannot be: they are counted in `*skipped`).
absl::StatusOr<std::vector<Site>> ReadSites(const std::string& path, size_t* skipped) {
  HtsFilePtr fp(hts_open(path.c_str(), "r"));
  if (fp == nullptr) return absl::NotFoundError(StrCat(path, ": cannot open"));
  HeaderPtr hdr(bcf_hdr_read(fp.get()));
  if (hdr == nullptr) return absl::InvalidArgumentError(StrCat(path, ": not a VCF or BCF"));
  RecordPtr rec(bcf_init());
  std::vector<Site> sites;
  std::set<std::string> seen;
  *skipped = 0;
  int ret;
  while ((ret = bcf_read(fp.get(), hdr.get(), rec.get())) == 0) {
    if (bcf_unpack(rec.get(), BCF_UN_STR) != 0) {
      return absl::InvalidArgumentError(
          StrCat(path, ": a record near site ", sites.size() + 1, " cannot be read"));
    }
    const char* chrom = bcf_seqname(hdr.get(), rec.get());
    for (int a = 1; a < rec->n_allele; ++a) {
      Site s{chrom == nullptr ? "" : chrom, rec->pos + 1, rec->d.allele[0], rec->d.allele[a]};
      if (!query::IsChromName(s.chrom) || !query::IsAllele(s.ref) || !query::IsAllele(s.alt)) {
        ++*skipped;
        continue;
      }
      if (!seen.insert(StrCat(s.chrom, ":", s.pos, ":", s.ref, ":", s.alt)).second) continue;
      sites.push_back(std::move(s));
    }
  }
  if (ret < -1) {
    return absl::InvalidArgumentError(
        StrCat(path, ": a broken record after site ", sites.size(), " (htslib error ", ret, ")"));
  }
  if (sites.empty()) return absl::InvalidArgumentError(StrCat(path, ": no sites"));
  return sites;
}

v1::Criterion SiteCriterion(const Site& s, const std::string& assembly) {
  v1::Criterion c;
  v1::VariantCriterion* v = c.mutable_variant();
  v->set_assembly(assembly);
  v->set_chrom(s.chrom);
  v->set_pos(static_cast<uint32_t>(s.pos));
  v->set_ref(s.ref);
  v->set_alt(s.alt);
  return c;
}

// A released number as the catalogue writes it: the number when it is shown as one, nothing
// when it is a range (a small count) or missing.
std::optional<int32_t> Shown(const v1::ReleasedCount& c) {
  if (c.low() != c.high() || c.high() > static_cast<uint64_t>(INT32_MAX)) return std::nullopt;
  return static_cast<int32_t>(c.low());
}

struct SiteNumbers {
  std::optional<int32_t> ac, an;
};

struct Catalogue {
  std::vector<std::string> regions;  // in the hub's order
  // per site: the nation's, then each region's (by index in `regions`)
  std::vector<SiteNumbers> national;
  std::vector<std::vector<SiteNumbers>> by_region;
  std::vector<uint32_t> included;               // regions in the national numbers, per site
  std::map<std::string, double> rho;            // what each region charged
  std::map<std::string, std::string> problems;  // a region's first failure
  size_t partial_batches = 0;
};

// A region's id as a part of an INFO key, which VCF allows letters, digits, '_' and '.' only:
// "stockholm-gotland" -> "stockholm_gotland".
std::string InfoKeyOf(const std::string& region) {
  std::string key = region;
  for (char& c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') c = '_';
  }
  return key;
}

void AddInfoHeader(bcf_hdr_t* hdr, const std::string& id, const char* number, const char* type,
                   const std::string& description) {
  std::string line = StrCat("##INFO=<ID=", id, ",Number=", number, ",Type=", type,
                            ",Description=\"", description, "\">");
  bcf_hdr_append(hdr, line.c_str());
}

void PutInfo(bcf_hdr_t* hdr, bcf1_t* rec, const std::string& suffix, const SiteNumbers& n) {
  if (n.ac.has_value()) {
    int32_t v = *n.ac;
    bcf_update_info_int32(hdr, rec, ("AC" + suffix).c_str(), &v, 1);
  }
  if (n.an.has_value()) {
    int32_t v = *n.an;
    bcf_update_info_int32(hdr, rec, ("AN" + suffix).c_str(), &v, 1);
  }
  if (n.ac.has_value() && n.an.has_value() && *n.an > 0) {
    float af = static_cast<float>(std::min(1.0, static_cast<double>(*n.ac) / *n.an));
    bcf_update_info_float(hdr, rec, ("AF" + suffix).c_str(), &af, 1);
  }
}

// Writes the catalogue to `out` through a temporary file beside it, renamed into place once
// it is whole.
absl::Status WriteCatalogue(const std::string& out, const std::vector<Site>& sites,
                            const Catalogue& cat, const std::string& assembly, double sigma,
                            const std::string& hub) {
  std::string mode = "w";
  if (out.ends_with(".gz")) mode = "wz";
  if (out.ends_with(".bcf")) mode = "wb";
  const std::string temp = out + ".partial";
  HtsFilePtr fp(hts_open(temp.c_str(), mode.c_str()));
  if (fp == nullptr) return absl::PermissionDeniedError(StrCat(temp, ": cannot write"));
  HeaderPtr hdr(bcf_hdr_init("w"));
  bcf_hdr_append(hdr.get(), "##source=pmdb catalogue");
  bcf_hdr_append(hdr.get(), StrCat("##reference=", assembly).c_str());
  for (const std::string& line :
       {StrCat("##pmdb_catalogue_hub=", hub),
        StrCat("##pmdb_catalogue_made=", Rfc3339(std::time(nullptr))),
        StrCat("##pmdb_catalogue_noise_sd=", sigma),
        std::string("##pmdb_catalogue_mechanism=discrete Gaussian noise at every region, "
                    "zCDP rho = 4 * sites / noise_sd^2")}) {
    bcf_hdr_append(hdr.get(), line.c_str());
  }
  std::set<std::string> contigs;
  for (const Site& s : sites) {
    if (contigs.insert(s.chrom).second) {
      bcf_hdr_append(hdr.get(), StrCat("##contig=<ID=", s.chrom, ">").c_str());
    }
  }
  const std::string noise = StrCat(" (noise sd ", sigma, " per region; empty when small)");
  AddInfoHeader(hdr.get(), "AC", "A", "Integer",
                StrCat("National allele count: the sum of the regions' noised counts", noise));
  AddInfoHeader(hdr.get(), "AN", "1", "Integer",
                StrCat("National number of called alleles: the sum of the regions'", noise));
  AddInfoHeader(hdr.get(), "AF", "A", "Float", "National allele frequency, AC/AN");
  AddInfoHeader(hdr.get(), "NREGIONS", "1", "Integer",
                "How many regions the national AC and AN include");
  for (const std::string& r : cat.regions) {
    const std::string k = InfoKeyOf(r);
    AddInfoHeader(hdr.get(), "AC_" + k, "A", "Integer", StrCat("Allele count in ", r, noise));
    AddInfoHeader(hdr.get(), "AN_" + k, "1", "Integer",
                  StrCat("Number of called alleles in ", r, noise));
    AddInfoHeader(hdr.get(), "AF_" + k, "A", "Float", StrCat("Allele frequency in ", r));
  }
  if (bcf_hdr_sync(hdr.get()) != 0 || bcf_hdr_write(fp.get(), hdr.get()) != 0) {
    return absl::InternalError(StrCat(temp, ": cannot write the header"));
  }
  RecordPtr rec(bcf_init());
  for (size_t i = 0; i < sites.size(); ++i) {
    const Site& s = sites[i];
    bcf_clear(rec.get());
    rec->rid = bcf_hdr_name2id(hdr.get(), s.chrom.c_str());
    rec->pos = s.pos - 1;
    std::string alleles = StrCat(s.ref, ",", s.alt);
    bcf_update_alleles_str(hdr.get(), rec.get(), alleles.c_str());
    PutInfo(hdr.get(), rec.get(), "", cat.national[i]);
    int32_t included = static_cast<int32_t>(cat.included[i]);
    bcf_update_info_int32(hdr.get(), rec.get(), "NREGIONS", &included, 1);
    for (size_t r = 0; r < cat.regions.size(); ++r) {
      PutInfo(hdr.get(), rec.get(), "_" + InfoKeyOf(cat.regions[r]), cat.by_region[r][i]);
    }
    if (bcf_write(fp.get(), hdr.get(), rec.get()) != 0) {
      return absl::InternalError(StrCat(temp, ": cannot write site ", i + 1));
    }
  }
  if (hts_close(fp.release()) != 0) return absl::InternalError(StrCat(temp, ": cannot close"));
  std::error_code ec;
  std::filesystem::rename(temp, out, ec);
  if (ec) return absl::InternalError(StrCat(out, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

int RunCatalogue(int argc, char** argv) {
  int exit_code = 0;
  auto flags = ParseOrExit(Spec(), argc, argv, &exit_code);
  if (!flags) return exit_code;
  for (const char* required : {"sites", "assembly"}) {
    if (!flags->Has(required)) {
      return UsageError(Spec(), absl::InvalidArgumentError(StrCat("--", required, " is required")));
    }
  }
  const bool cost = flags->Bool("cost");
  if (!cost && !flags->Has("out")) {
    return UsageError(Spec(), absl::InvalidArgumentError("--out FILE is required (or --cost)"));
  }
  if (flags->Has("rho") && flags->Has("sigma")) {
    return UsageError(Spec(), absl::InvalidArgumentError("give --rho or --sigma, not both"));
  }
  uint32_t batch = kDefaultBatch;
  if (flags->Has("batch") &&
      (!ParseUint32(flags->Get("batch"), &batch) || batch == 0 || batch > query::kMaxCriteria)) {
    return UsageError(Spec(), absl::InvalidArgumentError(
                                  StrCat("--batch is a number from 1 to ", query::kMaxCriteria)));
  }
  auto number = [&](const char* name, double fallback) -> std::optional<double> {
    if (!flags->Has(name)) return fallback;
    char* end = nullptr;
    std::string text = flags->Get(name);
    double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0' || !std::isfinite(v) || v <= 0) return std::nullopt;
    return v;
  };
  auto rho = number("rho", kDefaultRho);
  auto sigma_flag = number("sigma", 0);
  if (!rho || !sigma_flag) {
    return UsageError(Spec(), absl::InvalidArgumentError("--rho and --sigma are numbers above 0"));
  }
  auto target = ChooseTarget(*flags, {Target::kHub});
  if (!target.ok()) return UsageError(Spec(), target.status());

  size_t skipped = 0;
  auto sites = ReadSites(flags->Get("sites"), &skipped);
  if (!sites.ok()) return Fail("catalogue", sites.status());
  const std::string assembly = flags->Get("assembly");
  // rho = 4 * sites / sigma^2 at every region.
  double sigma =
      flags->Has("sigma") ? *sigma_flag : 2 * std::sqrt(static_cast<double>(sites->size()) / *rho);
  sigma = std::ceil(sigma * 100 - 1e-6) / 100;

  auto connection = Connect(*flags, *target);
  if (!connection.ok()) return Fail("catalogue", connection.status());
  auto stub = v1::FederationService::NewStub(connection->channel);

  // The noise is never below a frequency answer's at any region (twice its sigma).
  {
    grpc::ClientContext context;
    context.set_deadline(target->Deadline());
    v1::FederationInfo info;
    absl::Status s = transport::FromGrpc(stub->Info(&context, v1::InfoRequest(), &info));
    if (!s.ok()) return Fail("catalogue", s);
    double floor = 0;
    for (const v1::RegionPart& p : info.regions()) {
      if (p.has_info()) floor = std::max(floor, 2 * p.info().disclosure().sigma());
    }
    if (sigma < floor) {
      if (flags->Has("sigma")) {
        return Fail("catalogue", absl::InvalidArgumentError(
                                     StrCat("--sigma ", sigma, " is below what the regions allow (",
                                            floor, ", a frequency answer's noise)")));
      }
      sigma = floor;  // it then costs less than --rho
    }
  }
  const double cost_rho = 4.0 * static_cast<double>(sites->size()) / (sigma * sigma);

  Catalogue cat;
  cat.national.resize(sites->size());
  cat.included.resize(sites->size());
  ProgressLine progress("catalogue");
  std::map<std::string, std::string> refusals;  // cost quotes: why a region would refuse
  // Batches are cut from the sites in a fixed order, not the file's: the same sites make the
  // same batches, each the same release, so a catalogue asked again (or finished after a
  // failure) costs nothing for the batches already paid for.
  std::vector<size_t> order(sites->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Site& x = (*sites)[a];
    const Site& y = (*sites)[b];
    return std::tie(x.chrom, x.pos, x.ref, x.alt) < std::tie(y.chrom, y.pos, y.ref, y.alt);
  });
  for (size_t from = 0; from < sites->size(); from += batch) {
    const size_t to = std::min(sites->size(), from + batch);
    v1::CatalogueRequest req;
    for (size_t k = from; k < to; ++k) {
      *req.add_sites() = SiteCriterion((*sites)[order[k]], assembly);
    }
    req.set_sigma(sigma);
    req.set_cost_only(cost);
    grpc::ClientContext context;
    context.set_deadline(target->Deadline());
    v1::FederatedCatalogue reply;
    absl::Status s = transport::FromGrpc(stub->Catalogue(&context, req, &reply));
    if (!s.ok()) {
      return Fail("catalogue", absl::Status(s.code(), StrCat("sites ", from + 1, "-", to, ": ",
                                                             std::string(s.message()))));
    }
    if (cat.regions.empty()) {
      for (const v1::RegionPart& p : reply.regions()) cat.regions.push_back(p.region());
      cat.by_region.assign(cat.regions.size(), std::vector<SiteNumbers>(sites->size()));
    }
    cat.partial_batches += reply.partial() ? 1 : 0;
    for (size_t r = 0; r < static_cast<size_t>(reply.regions_size()) && r < cat.regions.size();
         ++r) {
      const v1::RegionPart& p = reply.regions(static_cast<int>(r));
      if (p.status() != v1::REGION_OK || !p.has_catalogue()) {
        cat.problems.emplace(p.region(), StrCat(RegionStatusWord(p.status()),
                                                p.detail().empty() ? "" : ": ", p.detail()));
        continue;
      }
      cat.rho[p.region()] += p.catalogue().disclosure().rho();
      if (!p.catalogue().disclosure().refusal().empty()) {
        refusals.emplace(p.region(), p.catalogue().disclosure().refusal());
      }
      for (size_t k = from; k < to && !cost; ++k) {
        const v1::CatalogueSite& site = p.catalogue().sites(static_cast<int>(k - from));
        cat.by_region[r][order[k]] = {Shown(site.ac()), Shown(site.an())};
        ++cat.included[order[k]];
      }
    }
    for (size_t k = from; k < to && !cost && k - from < static_cast<size_t>(reply.sites_size());
         ++k) {
      const v1::CatalogueSite& site = reply.sites(static_cast<int>(k - from));
      cat.national[order[k]] = {Shown(site.ac()), Shown(site.an())};
    }
    progress.Update({.bytes_done = to, .bytes_total = sites->size(), .records = to});
  }
  progress.Done();

  if (!cost) {
    absl::Status written =
        WriteCatalogue(flags->Get("out"), *sites, cat, assembly, sigma, connection->target);
    if (!written.ok()) return Fail("catalogue", written);
  }
  if (flags->Bool("json")) {
    Json j;
    j.BeginObject();
    j.Key("sites").Uint(sites->size());
    j.Key("skipped").Uint(skipped);
    j.Key("noise_sd").Double(sigma);
    j.Key("rho").Double(cost_rho);
    j.Key("cost_only").Bool(cost);
    if (!cost) j.Key("out").String(flags->Get("out"));
    j.Key("partial_batches").Uint(cat.partial_batches);
    j.Key("regions").BeginArray();
    for (const std::string& r : cat.regions) {
      j.BeginObject();
      j.Key("region").String(r);
      j.Key("rho_charged").Double(cat.rho.count(r) ? cat.rho.at(r) : 0);
      auto problem = cat.problems.find(r);
      j.Key("status").String(problem == cat.problems.end() ? "ok" : problem->second);
      if (refusals.count(r)) j.Key("refusal").String(refusals.at(r));
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
    std::cout << j.str() << "\n";
    return cat.problems.size() == cat.regions.size() ? kExitFailure : 0;
  }
  if (cost) {
    std::cout << "would cost rho " << cost_rho << " at each region for "
              << WithThousands(sites->size()) << " sites, with noise sd " << sigma
              << " on every AC and AN\n";
  } else {
    std::cout << "catalogue of " << WithThousands(sites->size()) << " sites written to "
              << flags->Get("out") << "; noise sd " << sigma << " on every AC and AN\n";
  }
  if (skipped > 0) {
    std::cout << "skipped " << skipped
              << " alleles the query language cannot name (symbolic, breakends, '*')\n";
  }
  for (const std::string& r : cat.regions) {
    auto problem = cat.problems.find(r);
    std::cout << "  " << r << ": ";
    if (problem != cat.problems.end()) {
      std::cout << problem->second << "\n";
      continue;
    }
    if (refusals.count(r)) {
      std::cout << "would be refused: " << refusals.at(r) << "\n";
      continue;
    }
    std::cout << (cost ? "would charge" : "charged") << " rho " << cat.rho[r] << "\n";
  }
  if (cat.partial_batches > 0) {
    const size_t batches = (sites->size() + batch - 1) / batch;
    std::cout << "partial: some region did not answer in " << cat.partial_batches << " of "
              << batches << (batches == 1 ? " batch" : " batches")
              << "; each site's NREGIONS says how many regions its numbers cover\n";
  }
  return cat.problems.size() == cat.regions.size() ? kExitFailure : 0;
}

}  // namespace pmdb::cli
