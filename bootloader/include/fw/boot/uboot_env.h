// U-Boot environment codec and store — host side (never in the freestanding core).
//
// What: reads and writes U-Boot environments in the on-disk format U-Boot,
// libubootenv (fw_printenv/fw_setenv) and mkenvimage use (manifests/docs/uboot-env.md):
//   copy = CRC-32 (4 bytes, little-endian) [flags (1 byte), redundant only]
//          name=value\0 ... name=value\0 \0  padding (0xFF or 0x00) up to the copy size.
// The CRC (zlib's CRC-32) covers everything after the header, padding included; the
// flags byte is not covered. A redundant environment has two copies; which one is in
// use follows libubootenv's rules (FlagsRule). Store reads and writes the copies only
// through fw::boot::Flash, so the flash simulator's power cuts and torn writes apply.
//
// Limits (outside input is hostile): a copy is header + 2 .. kMaxEnvSize bytes; names
// are 1..kMaxNameSize bytes of printable ASCII without '='; values are valid UTF-8
// without control characters, at most kMaxValueSize bytes; names are unique. Decoding
// errors are ErrorCode::kCorrupt (exit 3 at the CLIs) with a message naming the
// problem and its byte offset or the variable; Env::Set/EncodeCopy refuse bad names,
// values or sizes with ErrorCode::kInvalidArgument (a caller's mistake, not outside input).
//
// Ownership: Env and DecodedCopy are values. Store holds the Flash pointers of its
// StoreConfig and owns nothing; the caller keeps the Flash objects alive.
// Thread safety: none — one caller at a time per Store.
// Failure model: errors are values (Status/Result). Load never writes. A Save that
// fails (I/O error, power cut) may have changed the copy it was writing, never the
// copy in use — so a later Load returns the old or the new environment (redundant);
// a single (non-redundant) environment is rewritten in place and is NOT power-cut safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "fw/boot/flash.h"
#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::boot::uenv {

// How the copy in use is chosen in a redundant environment — exactly libubootenv's
// libuboot_load() (and U-Boot's env_import_redund() for the incremental rule). A copy
// whose CRC fails is never chosen; of two valid copies:
//  kIncremental  files, block devices, UBI (every write goes to the other copy with
//                flags = in-use flags + 1, mod 256): flags 0x00 beats 0xFF (wrap-around),
//                then the higher flags win; equal flags → copy 0.
//  kBoolean      raw NOR (mtd; 1 = active, 0 = obsolete; a write programs the new copy
//                with 1, then marks the old copy 0): a copy with flags 0xFF (erased, never
//                marked) wins, copy 1 first; then the higher flags win; equal → copy 0.
enum class FlagsRule : uint8_t { kIncremental, kBoolean };

inline constexpr size_t kMaxEnvSize = 1 << 20;  // refuse larger copies
inline constexpr size_t kMaxNameSize = 64;
inline constexpr size_t kMaxValueSize = 4096;
inline constexpr uint8_t kBooleanActive = 1;
inline constexpr uint8_t kBooleanObsolete = 0;

// "incremental" / "boolean".
const char* FlagsRuleName(FlagsRule rule);
// Parses "incremental" / "boolean"; anything else → kInvalidArgument naming the value.
Result<FlagsRule> ParseFlagsRule(std::string_view text);

// Header bytes before the data: 4 (CRC) or 5 (CRC + flags).
constexpr size_t HeaderSize(bool redundant) { return redundant ? 5 : 4; }

// Checks a name / value against the limits above; the error names the variable.
Status ValidateName(std::string_view name);
Status ValidateValue(std::string_view name, std::string_view value);

// Variables, kept sorted by name (U-Boot writes them sorted). Names: 1..64 bytes, no '=',
// printable ASCII; values: valid UTF-8 without control characters, <= 4096 bytes.
class Env {
 public:
  std::optional<std::string> Get(std::string_view name) const;
  Status Set(std::string_view name, std::string_view value);  // validates; clear error
  void Erase(std::string_view name);
  const std::map<std::string, std::string, std::less<>>& vars() const { return vars_; }
  bool operator==(const Env&) const = default;

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

struct DecodedCopy {
  Env env;
  uint8_t flags = 0;
};

// One copy's bytes (its whole size): CRC-32 (zlib, LE) over everything after the header incl.
// padding, flags byte if redundant, name=value\0...\0\0. Errors name the problem
// ("crc mismatch", "no terminating empty string", "duplicate variable 'x'", ...).
// The bytes after the terminating "\0\0" are padding and are not interpreted (the CRC
// covers them). An environment with no variables is "\0\0" (U-Boot writes that too).
Result<DecodedCopy> DecodeCopy(ByteSpan bytes, bool redundant);

// The data section of `env` ("name=value\0...\0" plus the final "\0"; "\0\0" when empty).
Bytes EncodeData(const Env& env);

// header + data + padding (pad 0xFF or 0x00) to exactly `size` bytes; error if it does not fit.
Result<Bytes> EncodeCopy(const Env& env, size_t size, bool redundant, uint8_t flags, uint8_t pad = 0xFF);

// Which of two copies is in use. valid[i]: copy i decoded; flags[i]: its flags byte.
// Returns 0 or 1, or nullopt when neither is valid.
std::optional<uint8_t> SelectCopy(FlagsRule rule, const bool valid[2], const uint8_t flags[2]);

struct StoreConfig {
  Flash* copy[2] = {nullptr, nullptr};  // copy[1] == nullptr: single (non-redundant) env
  size_t size = 0;                      // bytes of each copy, from the start of its Flash
  FlagsRule rule = FlagsRule::kIncremental;
};

struct CopyStatus {
  bool valid = false;
  uint8_t flags = 0;
  std::string error;  // why the copy is not valid; empty when valid
};

struct Loaded {
  Env env;             // empty when !found
  bool found = false;  // false: no valid copy (both lost)
  uint8_t copy = 0;    // which copy is in use (the newer valid one)
  uint8_t flags = 0;   // the in-use copy's flags (0 for a single env)
  CopyStatus copies[2];
};

class Store {
 public:
  explicit Store(const StoreConfig& config);

  bool redundant() const { return config_.copy[1] != nullptr; }
  const StoreConfig& config() const { return config_; }

  // Checks the configuration: copy[0] set, size in [header + 2, kMaxEnvSize], each
  // copy's Flash large enough for the size rounded up to its erase block. Load and
  // Save call it first (kInvalidArgument naming the problem).
  Status Validate() const;

  // Never writes; reads the copies with Flash::Read. A copy that does not decode is
  // reported in copies[i] (not an error); a Flash read error is (kIoError).
  Result<Loaded> Load();

  // Writes `env`: redundant → into the copy NOT in use, flags = in-use flags + 1 (incremental,
  // wraps 0xFF→0x00) or boolean rule (new copy flags 1, then the old copy's flags byte
  // set to 0). Erase, program, Sync through Flash, so SimFlash power cuts apply.
  // Single env: erase + program in place (documented as not power-cut safe).
  // Pads with 0xFF. Fails (nothing written) when `env` does not fit in the copy size.
  Status Save(const Env& env);

 private:
  Status WriteCopy(uint8_t index, const Bytes& bytes);

  StoreConfig config_;
};

}  // namespace fw::boot::uenv
