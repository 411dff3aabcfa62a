// Signed firmware images on the host: sign, inspect, verify files.
//
// Wraps the freestanding core (image_format.h) with OpenSSL crypto, file I/O and
// readable error messages ("image fw.img: payload size 2147483648 (offset 8)
// runs beyond the end of the image (1088 bytes available)").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/signer.h"
#include "fw/status.h"

namespace fw {

struct SemVer {
  uint16_t major = 0;
  uint16_t minor = 0;
  uint16_t patch = 0;
  uint32_t build = 0;

  // "2.1.0" or "2.1.0+7" (build number after '+').
  static Result<SemVer> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const SemVer&) const = default;
};

struct ImageTlv {
  uint16_t type = 0;
  bool is_protected = false;
  Bytes value;
};

struct ImageSignature {
  KeyType type = KeyType::kEd25519;
  Digest key_id{};
  Bytes signature;
};

struct ImageInfo {
  uint16_t format_version = 0;
  uint64_t payload_size = 0;
  SemVer version;
  uint32_t security_counter = 0;
  uint32_t flags = 0;
  std::string hardware_id;
  uint64_t image_size = 0;
  uint64_t payload_offset = 0;
  uint64_t hashed_size = 0;  // header + payload + protected TLVs
  Digest hash{};             // as recorded in the hash TLV
  std::vector<ImageSignature> signatures;
  std::vector<ImageTlv> other_tlvs;  // description and unknown non-critical TLVs
  std::optional<std::string> description;
  std::optional<Digest> signer_key_id;  // set by VerifyImageFile
};

struct ImageSpec {
  SemVer version;
  uint32_t security_counter = 0;
  std::string hardware_id;
  std::optional<std::string> description;
};

// Validates `spec` (hardware id 1..24 printable ASCII, description size).
Status ValidateImageSpec(const ImageSpec& spec);

// Streams `payload_path` into a signed image at `out_path`, signed by every signer in
// `signers` (at least one; Ed25519 or ECDSA P-256). Writes through OutputFile: on any
// error, a failing signer included, nothing is left.
Status SignImageFile(const std::string& payload_path, const ImageSpec& spec, const std::vector<const Signer*>& signers,
                     const std::string& out_path);

// Parses the structure (header, bounds, TLVs) without checking hash or signatures.
Result<ImageInfo> InspectImageFile(const std::string& path);

// Full verification: structure, SHA-256, and a signature by one of `trusted`.
// Optional policy: hardware id and minimum security counter.
struct ImagePolicy {
  std::optional<std::string> hardware_id;
  uint32_t min_security_counter = 0;
};
Result<ImageInfo> VerifyImageFile(const std::string& path, const std::vector<PublicKey>& trusted,
                                  const ImagePolicy& policy = {});

}  // namespace fw
