#include "security/ca.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "node/base/strings.h"

namespace pmdb::security {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kDay = 24 * 3600;
constexpr int64_t kCrlValidity = 30 * kDay;

std::string Path(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

absl::Status AppendLine(const std::string& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
  out.close();
  if (!out) return absl::PermissionDeniedError(StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Rows of a tab-separated file; a missing file has none.
std::vector<std::vector<std::string>> ReadRows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (Trim(line).empty()) continue;
    std::vector<std::string> row;
    for (std::string_view f : Split(line, '\t')) row.emplace_back(f);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

absl::StatusOr<CertificateAuthority> CertificateAuthority::Init(const std::string& dir,
                                                                const std::string& federation,
                                                                uint32_t days) {
  auto probe = ParseIdentity(StrCat("spiffe://", federation, "/hub"));
  if (!probe.ok()) {
    return absl::InvalidArgumentError(
        StrCat("federation name '", federation,
               "' must be lower-case letters, digits, '-', '_' or '.'"));
  }
  std::error_code ec;
  if (fs::exists(Path(dir, "ca.key"), ec)) {
    return absl::AlreadyExistsError(StrCat(dir, " already holds a CA (ca.key); refusing to "
                                                "overwrite it"));
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(StrCat("cannot create ", dir, ": ", ec.message()));
  auto key = GenerateP256Key();
  if (!key.ok()) return key.status();
  CertificateSpec spec;
  spec.common_name = StrCat(federation, " federation root CA");
  spec.uris = {StrCat("spiffe://", federation)};
  spec.is_ca = true;
  spec.not_after_seconds = static_cast<int64_t>(days) * kDay;
  auto cert = MakeCertificate(spec, key->get(), nullptr, nullptr);
  if (!cert.ok()) return cert.status();
  for (absl::Status s : {WritePrivateKey(Path(dir, "ca.key"), key->get()),
                         WriteCertificate(Path(dir, "ca.crt"), cert->get())}) {
    if (!s.ok()) return s;
  }
  std::ofstream(Path(dir, "federation")) << federation << "\n";
  CertificateAuthority ca(dir, federation, std::move(*cert), std::move(*key));
  if (auto s = ca.RefreshCrl(); !s.ok()) return s;
  return ca;
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Open(const std::string& dir) {
  std::ifstream in(Path(dir, "federation"));
  std::string federation;
  if (!(in >> federation)) {
    return absl::NotFoundError(StrCat("no CA in ", dir, " (create one with `pmdb ca init`)"));
  }
  auto cert = ReadCertificate(Path(dir, "ca.crt"));
  if (!cert.ok()) return cert.status();
  auto key = ReadPrivateKey(Path(dir, "ca.key"));
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return absl::FailedPreconditionError(StrCat(dir, ": ca.key does not belong to ca.crt"));
  }
  return CertificateAuthority(dir, federation, std::move(*cert), std::move(*key));
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::Issue(const IssueRequest& request,
                                                              const std::string& out_prefix) {
  auto id = ParseIdentity(request.identity);
  if (!id.ok()) return id.status();
  if (id->federation != federation_) {
    return absl::InvalidArgumentError(StrCat("identity ", request.identity,
                                             " is not in federation ", federation_));
  }
  if (!id->is_server() && (!request.dns.empty() || !request.ips.empty())) {
    return absl::InvalidArgumentError(
        StrCat("--dns and --ip are for hub and node certificates; ", request.identity, " is a ",
               RoleName(id->role)));
  }
  if (request.days == 0) return absl::InvalidArgumentError("--days must be at least 1");
  auto key = GenerateP256Key();
  if (!key.ok()) return key.status();
  CertificateSpec spec;
  spec.common_name = request.identity;
  spec.uris = {request.identity};
  spec.dns = request.dns;
  spec.ips = request.ips;
  spec.server_auth = id->is_server();
  spec.client_auth = true;
  spec.not_after_seconds = static_cast<int64_t>(request.days) * kDay;
  auto cert = MakeCertificate(spec, key->get(), cert_.get(), key_.get());
  if (!cert.ok()) return cert.status();
  for (absl::Status s : {WritePrivateKey(out_prefix + ".key", key->get()),
                         WriteCertificate(out_prefix + ".crt", cert->get())}) {
    if (!s.ok()) return s;
  }
  IssuedCertificate issued{SerialHex(cert->get()), request.identity, NotAfter(cert->get())};
  if (auto s = AppendLine(Path(dir_, "issued.tsv"),
                          StrCat(issued.serial_hex, "\t", issued.identity, "\t", issued.not_after));
      !s.ok()) {
    return s;
  }
  return issued;
}

absl::Status CertificateAuthority::Revoke(const std::string& serial_hex) {
  std::string serial = ToUpper(serial_hex);
  bool known = false;
  for (const auto& row : ReadRows(Path(dir_, "issued.tsv"))) known |= row[0] == serial;
  if (!known) {
    return absl::NotFoundError(StrCat("serial ", serial, " was not issued by the CA in ", dir_));
  }
  for (const auto& row : ReadRows(Path(dir_, "revoked.tsv"))) {
    if (row[0] == serial) return absl::OkStatus();  // already revoked
  }
  if (auto s = AppendLine(Path(dir_, "revoked.tsv"),
                          StrCat(serial, "\t", static_cast<int64_t>(std::time(nullptr))));
      !s.ok()) {
    return s;
  }
  return RefreshCrl();
}

absl::Status CertificateAuthority::RefreshCrl() {
  std::vector<Revocation> revoked;
  for (const auto& row : ReadRows(Path(dir_, "revoked.tsv"))) {
    revoked.push_back({row[0], row.size() > 1 ? std::stoll(row[1]) : 0});
  }
  auto crl = MakeCrl(cert_.get(), key_.get(), revoked, kCrlValidity);
  if (!crl.ok()) return crl.status();
  // Write beside and rename, so a node re-reading the CRL never sees half a file.
  std::string tmp = Path(dir_, "ca.crl.tmp");
  if (auto s = WriteCrl(tmp, crl->get()); !s.ok()) return s;
  std::error_code ec;
  fs::rename(tmp, Path(dir_, "ca.crl"), ec);
  if (ec) return absl::PermissionDeniedError(StrCat("cannot replace ca.crl: ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<IssuedCertificate>> CertificateAuthority::List() const {
  std::map<std::string, bool> revoked;
  for (const auto& row : ReadRows(Path(dir_, "revoked.tsv"))) revoked[row[0]] = true;
  std::vector<IssuedCertificate> out;
  for (const auto& row : ReadRows(Path(dir_, "issued.tsv"))) {
    if (row.size() < 3) return absl::DataLossError(StrCat(dir_, "/issued.tsv is malformed"));
    out.push_back({row[0], row[1], std::stoll(row[2]), revoked.contains(row[0])});
  }
  return out;
}

}  // namespace pmdb::security
