#include "fw/server/journal_vault.h"

#include <sys/stat.h>

#include <array>
#include <cerrno>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/file_io.h"

namespace fw::server {
namespace {

constexpr std::string_view kSealPrefix = "ptfw-seal-v1:";

bool IsSealed(const std::string& stored) { return stored.compare(0, kSealPrefix.size(), kSealPrefix) == 0; }

class PlainVault final : public JournalVault {
 public:
  bool encrypts() const override { return false; }
  Result<std::string> Seal(const std::string&, const std::string& body) const override { return body; }
  Result<std::string> Open(const std::string& associated, const std::string& stored) const override {
    if (IsSealed(stored)) {
      return FailedPrecondition("journal segment " + associated +
                                " is stored encrypted but no journal.encryption_key_file is configured");
    }
    return stored;
  }
};

class AesVault final : public JournalVault {
 public:
  explicit AesVault(ByteSpan key) { std::copy(key.begin(), key.end(), key_.begin()); }
  bool encrypts() const override { return true; }

  Result<std::string> Seal(const std::string& associated, const std::string& body) const override {
    auto sealed = Aes256GcmSeal(key_, AsBytes(body), AsBytes(associated));
    if (!sealed.ok()) return sealed.status().WithContext("journal segment " + associated);
    return std::string(kSealPrefix) + Base64Encode(*sealed);
  }

  Result<std::string> Open(const std::string& associated, const std::string& stored) const override {
    if (!IsSealed(stored)) return stored;  // stored before encryption was switched on
    auto raw = Base64Decode(std::string_view(stored).substr(kSealPrefix.size()));
    if (!raw.ok())
      return Corrupt("journal segment " + associated + ": sealed text is not base64: " + raw.status().message());
    auto opened = Aes256GcmOpen(key_, *raw, AsBytes(associated));
    if (!opened.ok()) {
      return opened.status().WithContext("journal segment " + associated);
    }
    return std::string(opened->begin(), opened->end());
  }

 private:
  std::array<uint8_t, kAes256GcmKeyBytes> key_{};
};

}  // namespace

std::string SegmentAssociatedData(const std::string& serial, int64_t first_seq, int64_t last_seq) {
  return serial + ":" + std::to_string(first_seq) + ":" + std::to_string(last_seq);
}

Result<std::shared_ptr<const JournalVault>> MakeVault(const std::string& key_file) {
  if (key_file.empty()) return std::shared_ptr<const JournalVault>(std::make_shared<PlainVault>());
  const std::string what = "journal key file " + key_file;
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(key_file));
  struct stat st {};
  if (::fstat(f.fd(), &st) != 0) return IoError(what + ": " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return InvalidArgument(what + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return FailedPrecondition(what + " has mode " + mode + ": group and others must have no access (chmod 600)");
  }
  std::array<uint8_t, 80> buf{};
  size_t n = 0;
  while (n < buf.size()) {
    FW_ASSIGN_OR_RETURN(size_t got, f.Read(std::span<uint8_t>(buf).subspan(n)));
    if (got == 0) break;
    n += got;
  }
  std::string text(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  // Never echo the file's content: it is (nearly) a key.
  if (text.size() != 64 || text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return InvalidArgument(what +
                           " must hold exactly 64 hex digits (32 random bytes), optionally followed by a newline");
  }
  return MakeVaultWithKey(HexDecode(text).value());
}

Result<std::shared_ptr<const JournalVault>> MakeVaultWithKey(ByteSpan key) {
  if (key.size() != kAes256GcmKeyBytes) {
    return InvalidArgument("journal key of " + std::to_string(key.size()) + " bytes, need 32");
  }
  return std::shared_ptr<const JournalVault>(std::make_shared<AesVault>(key));
}

}  // namespace fw::server
