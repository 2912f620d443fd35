// Owning pointers for htslib's handles, so a file, header or record is released on every path.
#pragma once

#include <htslib/hts.h>
#include <htslib/vcf.h>

#include <memory>

namespace pmdb::ingest {

struct HtsFileCloser {
  void operator()(htsFile* f) const { hts_close(f); }
};
struct HeaderFree {
  void operator()(bcf_hdr_t* h) const { bcf_hdr_destroy(h); }
};
struct RecordFree {
  void operator()(bcf1_t* r) const { bcf_destroy(r); }
};

using HtsFilePtr = std::unique_ptr<htsFile, HtsFileCloser>;
using HeaderPtr = std::unique_ptr<bcf_hdr_t, HeaderFree>;
using RecordPtr = std::unique_ptr<bcf1_t, RecordFree>;

}  // namespace pmdb::ingest
