#include "node/ingest/vcf_ingest.h"

#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/kseq.h>
#include <htslib/kstring.h>
#include <htslib/vcf.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "node/base/crash_point.h"
#include "node/base/strings.h"
#include "node/ingest/hts_handles.h"
#include "node/ingest/subjects.h"
#include "node/storage/keys.h"
#include "node/vocab/codes.h"

namespace pmdb::ingest {
namespace {

namespace keys = storage::keys;
using storage::Bitmap;

// The one place where htslib's record error codes become words.
std::string DescribeBcfError(int errcode) {
  std::vector<std::string> what;
  if (errcode & BCF_ERR_CTG_UNDEF) what.push_back("its CHROM is not declared in the header");
  if (errcode & BCF_ERR_TAG_UNDEF)
    what.push_back("it uses an INFO or FORMAT tag the header does not define");
  if (errcode & BCF_ERR_NCOLS)
    what.push_back("its number of columns or FORMAT values does not match the header");
  if (errcode & BCF_ERR_LIMITS) what.push_back("a value exceeds htslib's limits");
  if (errcode & BCF_ERR_CHAR) what.push_back("it contains an invalid character");
  if (errcode & BCF_ERR_CTG_INVALID) what.push_back("its CHROM name is invalid");
  if (errcode & BCF_ERR_TAG_INVALID)
    what.push_back("a tag's values do not match its header definition");
  if (what.empty()) return "the record is malformed";
  std::string out = what[0];
  for (size_t i = 1; i < what.size(); ++i) StrAppend(&out, "; ", what[i]);
  return out;
}

// Number of header lines of a text VCF, so that record errors can name their line.
absl::StatusOr<uint64_t> CountHeaderLines(const std::string& path) {
  HtsFilePtr fp(hts_open(path.c_str(), "r"));
  if (!fp) return absl::NotFoundError(StrCat(path, ": cannot open"));
  kstring_t line = {0, 0, nullptr};
  uint64_t n = 0;
  while (hts_getline(fp.get(), KS_SEP_LINE, &line) >= 0) {
    if (line.l == 0 || line.s[0] != '#') break;
    ++n;
  }
  free(line.s);
  return n;
}

// Says which header line of a text VCF is wrong when htslib refuses the header.
std::string DiagnoseHeader(const std::string& path) {
  HtsFilePtr fp(hts_open(path.c_str(), "r"));
  std::string problem = "the VCF header could not be parsed";
  if (!fp) return problem;
  kstring_t line = {0, 0, nullptr};
  uint64_t n = 0;
  while (hts_getline(fp.get(), KS_SEP_LINE, &line) >= 0) {
    ++n;
    std::string_view l(line.s, line.l);
    if (n == 1 && !l.starts_with("##fileformat=VCF")) {
      problem = "line 1: a VCF must start with ##fileformat=VCFv4.x";
      break;
    }
    if (l.starts_with("##")) continue;
    if (l.starts_with("#CHROM\t")) {
      size_t columns = Split(l, '\t').size();
      problem = columns == 9
                    ? StrCat("line ", n,
                             ": the #CHROM line has a FORMAT column but no "
                             "sample columns")
                    : StrCat("the header (lines 1-", n, ") has a line htslib cannot parse");
    } else if (l.find("#CHROM") != std::string_view::npos) {
      problem = StrCat("line ", n,
                       ": the #CHROM line must start at the beginning of the line "
                       "and separate its columns with tabs");
    } else {
      problem = StrCat("line ", n, ": the header ends without a #CHROM line");
    }
    break;
  }
  free(line.s);
  return problem;
}

absl::StatusOr<std::unordered_map<std::string, std::string>> LoadSampleMap(
    const std::string& path) {
  std::unordered_map<std::string, std::string> map;
  if (path.empty()) return map;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat(path, ": cannot open sample map"));
  std::string line;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view l = Trim(line);
    if (l.empty() || l.front() == '#') continue;
    std::vector<std::string_view> f = Split(l, '\t');
    if (f.size() != 2 || f[0].empty() || f[1].empty()) {
      return absl::InvalidArgumentError(
          StrCat(path, ":", line_no, ": expected 'sample<TAB>subject'"));
    }
    if (!map.emplace(std::string(f[0]), std::string(f[1])).second) {
      return absl::InvalidArgumentError(StrCat(path, ":", line_no, ": sample mapped twice"));
    }
  }
  return map;
}

// Per-site genotype accumulation for one ALT allele.
struct AlleleBits {
  std::vector<uint32_t> het, hom, hemi;
  std::map<uint32_t, std::vector<uint32_t>> extra_copies;  // delta -> ordinals
};

void AddBitsIfAny(storage::WriteBatch& batch, const std::string& key,
                  const std::vector<uint32_t>& ordinals) {
  if (ordinals.empty()) return;
  Bitmap b;
  b.AddMany(ordinals);
  b.Optimize();
  batch.AddBits(key, b);
}

class VcfIngester {
 public:
  VcfIngester(storage::Store& store, const VcfIngestOptions& options, const ProgressFn& progress)
      : store_(store), options_(options), progress_(progress) {}

  absl::StatusOr<IngestSummary> Run() {
    auto started = std::chrono::steady_clock::now();
    const std::string& path = options_.path;
    summary_.kind = "vcf";
    summary_.source = path;
    summary_.dataset = options_.dataset;
    if (options_.dataset.empty()) return absl::InvalidArgumentError("--dataset is required");
    auto assembly = vocab::NormalizeAssembly(options_.assembly);
    if (!assembly.ok()) return assembly.status();
    summary_.assembly = *assembly;

    hts_set_log_level(HTS_LOG_OFF);  // every problem is reported by us, with its location
    HtsFilePtr fp(hts_open(path.c_str(), "r"));
    if (!fp) return absl::NotFoundError(StrCat(path, ": cannot open (", strerror(errno), ")"));
    const htsFormat* format = hts_get_format(fp.get());
    if (format->category != variant_data || (format->format != vcf && format->format != bcf)) {
      return absl::InvalidArgumentError(StrCat(path, ": not a VCF or BCF file"));
    }
    bool text = format->format == vcf;
    uint64_t header_lines = 0;
    if (text) {
      auto n = CountHeaderLines(path);
      if (!n.ok()) return n.status();
      header_lines = *n;
    }
    HeaderPtr hdr(bcf_hdr_read(fp.get()));
    if (!hdr) {
      return absl::InvalidArgumentError(
          StrCat(path, ": ", text ? DiagnoseHeader(path) : "the BCF header could not be parsed"));
    }
    int nsamples = bcf_hdr_nsamples(hdr.get());
    if (nsamples == 0) {
      return absl::InvalidArgumentError(
          StrCat(path,
                 ": no sample columns; pmdb stores the genotypes of individuals, and a "
                 "sites-only VCF has none"));
    }
    if (bcf_hdr_id2int(hdr.get(), BCF_DT_ID, "GT") < 0 ||
        !bcf_hdr_idinfo_exists(hdr.get(), BCF_HL_FMT, bcf_hdr_id2int(hdr.get(), BCF_DT_ID, "GT"))) {
      return absl::InvalidArgumentError(
          StrCat(path,
                 ": the header declares no FORMAT/GT field, so there are no genotypes to "
                 "store"));
    }

    // Everything below reads one snapshot and writes one staged write under the write lock.
    auto lock = store_.WriteLock();
    auto view = store_.Snapshot();
    auto dataset_status = CheckDataset(*view);
    if (!dataset_status.ok()) return dataset_status;
    auto sample_map = LoadSampleMap(options_.sample_map_path);
    if (!sample_map.ok()) return sample_map.status();
    auto registry = SubjectRegistry::Load(*view);
    if (!registry.ok()) return registry.status();

    std::vector<uint32_t> ordinals(nsamples, kSkip);
    std::unordered_map<std::string, int> seen_subjects;
    Bitmap genotyped;
    uint64_t opted_out = 0;
    for (int i = 0; i < nsamples; ++i) {
      std::string sample = hdr->samples[i];
      auto mapped = sample_map->find(sample);
      std::string subject = mapped == sample_map->end() ? sample : mapped->second;
      if (!IsValidUtf8(subject)) {
        // Stored, it would make the person's record unreadable (protobuf strings are UTF-8).
        return absl::InvalidArgumentError(
            StrCat(path, ": sample column ", i + 1, " has a name that is not valid UTF-8"));
      }
      auto [it, inserted] = seen_subjects.emplace(subject, i);
      if (!inserted) {
        return absl::InvalidArgumentError(StrCat(path, ": sample columns ", it->second + 1, " and ",
                                                 i + 1, " belong to the same subject"));
      }
      auto ordinal = registry->Ordinal(subject);
      if (!ordinal.ok()) return ordinal.status();
      if (!ordinal->has_value()) {
        ++opted_out;
        continue;
      }
      ordinals[i] = **ordinal;
      genotyped.Add(**ordinal);
    }
    if (opted_out > 0) summary_.skipped["samples of subjects who opted out"] = opted_out;
    genotyped.Optimize();

    // Sites are staged part by part as the batch fills, so memory does not grow with them;
    // the caller still sees the whole file or nothing.
    storage::StagedWrite staged = store_.BeginStaged();
    registry->ReadFlushedFrom(&staged);
    storage::WriteBatch batch = store_.NewBatch();
    {
      // The new people's records go first, so that a million samples are not held to the end.
      BitAccumulator joined;
      registry->Flush(batch, joined, staged.parts());
      joined.Finish(batch);
    }
    RecordPtr rec(bcf_init());
    uint64_t record_index = 0;
    uint64_t total_bytes = 0;
    std::error_code ec;
    total_bytes = std::filesystem::file_size(path, ec);
    int pass_id = bcf_hdr_id2int(hdr.get(), BCF_DT_ID, "PASS");

    while (true) {
      rec->errcode = 0;
      int ret = bcf_read(fp.get(), hdr.get(), rec.get());
      ++record_index;
      std::string where = text ? StrCat(path, ":", header_lines + record_index)
                               : StrCat(path, ": record ", record_index);
      if (ret == -1 && rec->errcode == 0) break;  // end of file
      // htslib recovers from a CHROM or tag missing in the header by declaring it, as bcftools
      // does; such records are kept and counted.
      int recovered = rec->errcode & (BCF_ERR_CTG_UNDEF | BCF_ERR_TAG_UNDEF);
      if (ret < -1 || (ret == -1 && rec->errcode != 0) || (rec->errcode & ~recovered) != 0) {
        return absl::InvalidArgumentError(
            StrCat(where, ": ",
                   rec->errcode ? DescribeBcfError(rec->errcode & ~recovered)
                                : std::string("the record could not be parsed")));
      }
      if (recovered & BCF_ERR_CTG_UNDEF)
        ++summary_.notes["records on a CHROM the header does not declare (accepted)"];
      if (recovered & BCF_ERR_TAG_UNDEF)
        ++summary_.notes["records with tags the header does not define (accepted)"];
      ++summary_.records_read;
      if (bcf_unpack(rec.get(), BCF_UN_ALL) != 0) {
        return absl::InvalidArgumentError(StrCat(where, ": the record could not be unpacked"));
      }
      if (rec->pos < 0 || rec->pos + 1 > UINT32_MAX) {
        return absl::InvalidArgumentError(StrCat(where, ": POS is out of range"));
      }
      bool filtered = false;
      for (int f = 0; f < rec->d.n_flt; ++f) filtered |= rec->d.flt[f] != pass_id;
      if (filtered && !options_.include_filtered) {
        ++summary_.skipped["FILTER not PASS (use --include-filtered to keep)"];
        continue;
      }
      if (rec->n_allele < 2) {
        ++summary_.skipped["no ALT allele"];
        continue;
      }
      // GT is read in place from htslib's packed FORMAT data: copying it out as int32 first
      // (bcf_get_genotypes) costs more than everything else pmdb does per genotype.
      bcf_fmt_t* gt = bcf_get_fmt(hdr.get(), rec.get(), "GT");
      if (gt == nullptr || gt->n <= 0) {
        ++summary_.skipped["no GT values in the record"];
        continue;
      }
      absl::Status status;
      switch (gt->type) {
        case BCF_BT_INT8:
          status = IngestRecord(*hdr, *rec, reinterpret_cast<const int8_t*>(gt->p), gt->n,
                                static_cast<int8_t>(bcf_int8_vector_end), ordinals, genotyped,
                                batch, where);
          break;
        case BCF_BT_INT16:
          status = IngestRecord(*hdr, *rec, reinterpret_cast<const int16_t*>(gt->p), gt->n,
                                static_cast<int16_t>(bcf_int16_vector_end), ordinals, genotyped,
                                batch, where);
          break;
        case BCF_BT_INT32:
          status = IngestRecord(*hdr, *rec, reinterpret_cast<const int32_t*>(gt->p), gt->n,
                                static_cast<int32_t>(bcf_int32_vector_end), ordinals, genotyped,
                                batch, where);
          break;
        default:
          status = absl::InvalidArgumentError(StrCat(where, ": GT is not an integer field"));
      }
      if (!status.ok()) return status;
      if (batch.ByteSize() >= options_.part_bytes) {
        summary_.batch_bytes += batch.ByteSize();
        absl::Status part = staged.Stage(batch);
        if (!part.ok()) return part;
      }
      if (progress_ && record_index % 1024 == 0) {
        uint64_t done = fp->is_bgzf ? static_cast<uint64_t>(bgzf_tell(fp->fp.bgzf) >> 16)
                                    : static_cast<uint64_t>(htell(fp->fp.hfile));
        progress_({done, total_bytes, summary_.records_read});
      }
    }

    BitAccumulator bits;
    for (uint32_t o : ordinals) {
      if (o != kSkip) bits.Add(keys::DatasetMembers(options_.dataset), o);
    }
    summary_.individuals_new = registry->new_count();
    summary_.individuals_updated = registry->touched_count() - registry->new_count();
    registry->Finish(batch, bits);
    bits.Finish(batch);
    WriteDataset(nsamples - opted_out, batch);
    summary_.batch_bytes += batch.ByteSize();
    if (progress_) progress_({total_bytes, total_bytes, summary_.records_read});

    CrashPoint("ingest.before_commit");
    absl::Status written = staged.Commit(batch);
    if (!written.ok()) return written;
    summary_.parts = staged.parts();
    CrashPoint("ingest.after_commit");
    summary_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return summary_;
  }

 private:
  static constexpr uint32_t kSkip = UINT32_MAX;

  absl::Status CheckDataset(const storage::ReadView& view) {
    auto existing = view.Get(storage::Family::kMeta, keys::MetaDataset(options_.dataset));
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      if (!dataset_.ParseFromString(**existing)) {
        return absl::DataLossError("the dataset record in the store is unreadable");
      }
      if (dataset_.assembly() != summary_.assembly) {
        return absl::FailedPreconditionError(StrCat(
            "dataset ", options_.dataset, " holds ", dataset_.assembly(), " data; refusing to add ",
            summary_.assembly, " data to it (use another --dataset)"));
      }
    } else {
      dataset_.set_id(options_.dataset);
      dataset_.set_assembly(summary_.assembly);
    }
    return absl::OkStatus();
  }

  void WriteDataset(uint64_t samples, storage::WriteBatch& batch) {
    dataset_.add_sources(std::filesystem::path(options_.path).filename().string());
    dataset_.set_sample_count(std::max<uint64_t>(dataset_.sample_count(), samples));
    dataset_.set_variant_count(dataset_.variant_count() + summary_.variants);
    batch.Put(storage::Family::kMeta, keys::MetaDataset(options_.dataset),
              dataset_.SerializeAsString());
  }

  // GT values as htslib packs them: (allele + 1) << 1 | phased, 0 for a missing allele, and
  // `vector_end` after the last allele of a sample with fewer than `max_ploidy`.
  template <typename T>
  absl::Status IngestRecord(const bcf_hdr_t& hdr, bcf1_t& rec, const T* gt, int max_ploidy,
                            T vector_end, const std::vector<uint32_t>& ordinals,
                            const Bitmap& genotyped, storage::WriteBatch& batch,
                            const std::string& where) {
    int n_allele = rec.n_allele;
    std::vector<AlleleBits> alleles(n_allele);
    // Alleles that get no variant of their own ('*', '.') count no genotypes either.
    std::vector<bool> stored(n_allele, true);
    for (int a = 1; a < n_allele; ++a) {
      std::string_view alt = rec.d.allele[a];
      stored[a] = !(alt == "*" || alt == "." || alt.empty());
    }
    std::map<uint32_t, std::vector<uint32_t>> called_counts;  // called alleles (!= 2) -> ordinals
    std::vector<uint32_t> copies(n_allele, 0);
    const size_t n = ordinals.size();
    for (size_t s = 0; s < n; ++s) {
      const T* g = gt + s * max_ploidy;
      if (max_ploidy == 2) {
        // Diploid reference calls (0/0, 0|0) add nothing; most samples are one, so skip eight
        // at a time where the values are bytes.
        if constexpr (sizeof(T) == 1) {
          constexpr uint64_t kMask = 0xFEFEFEFEFEFEFEFEull, kRef = 0x0202020202020202ull;
          while (s + 8 <= n) {
            uint64_t a, b;
            std::memcpy(&a, g, 8);
            std::memcpy(&b, g + 8, 8);
            if ((a & kMask) != kRef || (b & kMask) != kRef) break;
            s += 8;
            g += 16;
          }
          if (s >= n) break;
        }
        if ((g[0] >> 1) == 1 && (g[1] >> 1) == 1) continue;
      }
      if (ordinals[s] == kSkip) continue;
      uint32_t ploidy = 0, called = 0;
      std::fill(copies.begin(), copies.end(), 0);
      for (int k = 0; k < max_ploidy && g[k] != vector_end; ++k) {
        ++ploidy;
        if ((g[k] >> 1) == 0) continue;  // missing allele
        int a = (g[k] >> 1) - 1;
        if (a < 0 || a >= n_allele) {
          return absl::InvalidArgumentError(StrCat(where, ": a GT refers to allele ", a,
                                                   " but the record has ", n_allele - 1,
                                                   " ALT allele(s)"));
        }
        ++called;
        ++copies[a];
      }
      uint32_t o = ordinals[s];
      if (called != 2) called_counts[called].push_back(o);
      if (called == 0) ++summary_.no_calls;
      for (int a = 1; a < n_allele; ++a) {
        uint32_t c = copies[a];
        if (c == 0) continue;
        if (stored[a]) ++summary_.genotypes;
        AlleleBits& ab = alleles[a];
        if (ploidy == 1) {
          ab.hemi.push_back(o);
        } else if (c == ploidy) {
          ab.hom.push_back(o);
          if (c > 2) ab.extra_copies[c - 2].push_back(o);
        } else {
          ab.het.push_back(o);
          if (c > 1) ab.extra_copies[c - 1].push_back(o);
        }
      }
    }

    std::string chrom = vocab::NormalizeChrom(bcf_seqname(&hdr, &rec));
    uint32_t pos = static_cast<uint32_t>(rec.pos + 1);
    for (int a = 1; a < n_allele; ++a) {
      std::string_view alt = rec.d.allele[a];
      if (alt == "*") {
        ++summary_.skipped["spanning-deletion ALT '*' (the deletion is stored at its own record)"];
        continue;
      }
      if (alt == "." || alt.empty()) {
        ++summary_.skipped["no ALT allele"];
        continue;
      }
      vocab::Allele trimmed = vocab::TrimAlleles(pos, rec.d.allele[0], alt);
      std::string vkey =
          keys::Variant({summary_.assembly, chrom, trimmed.pos, trimmed.ref, trimmed.alt});
      batch.Put(storage::Family::kVariants, vkey, "");
      batch.AddBits(keys::Genotype(vkey, keys::kGenotyped), genotyped);
      const AlleleBits& ab = alleles[a];
      AddBitsIfAny(batch, keys::Genotype(vkey, keys::kHet), ab.het);
      AddBitsIfAny(batch, keys::Genotype(vkey, keys::kHom), ab.hom);
      AddBitsIfAny(batch, keys::Genotype(vkey, keys::kHemi), ab.hemi);
      for (const auto& [delta, ords] : ab.extra_copies) {
        AddBitsIfAny(batch, keys::Genotype(vkey, keys::ExtraCopiesKind(delta)), ords);
      }
      for (const auto& [called, ords] : called_counts) {
        AddBitsIfAny(batch, keys::Genotype(vkey, keys::AlleleNumberKind(called)), ords);
      }
      ++summary_.variants;
    }
    return absl::OkStatus();
  }

  storage::Store& store_;
  const VcfIngestOptions& options_;
  const ProgressFn& progress_;
  IngestSummary summary_;
  v1::DatasetInfo dataset_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> VcfSubjects(const VcfIngestOptions& options) {
  hts_set_log_level(HTS_LOG_OFF);
  HtsFilePtr fp(hts_open(options.path.c_str(), "r"));
  if (!fp) {
    return absl::NotFoundError(StrCat(options.path, ": cannot open (", strerror(errno), ")"));
  }
  HeaderPtr hdr(bcf_hdr_read(fp.get()));
  if (!hdr) return absl::InvalidArgumentError(StrCat(options.path, ": no readable VCF header"));
  auto sample_map = LoadSampleMap(options.sample_map_path);
  if (!sample_map.ok()) return sample_map.status();
  std::vector<std::string> out;
  for (int i = 0; i < bcf_hdr_nsamples(hdr.get()); ++i) {
    std::string sample = hdr->samples[i];
    auto mapped = sample_map->find(sample);
    out.push_back(mapped == sample_map->end() ? sample : mapped->second);
  }
  return out;
}

absl::StatusOr<IngestSummary> IngestVcf(storage::Store& store, const VcfIngestOptions& options,
                                        const ProgressFn& progress) {
  return VcfIngester(store, options, progress).Run();
}

}  // namespace pmdb::ingest
