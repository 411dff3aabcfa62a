// uenv::Store: the copies of a U-Boot environment on Flash (see uboot_env.h).
#include <algorithm>

#include "fw/boot/uboot_env.h"

namespace fw::boot::uenv {
namespace {

uint64_t RoundUp(uint64_t v, uint64_t unit) { return (v + unit - 1) / unit * unit; }

Status FlashStatus(FlashError e, uint8_t copy, const char* what, uint64_t offset) {
  if (e == FlashError::kOk) return Status::Ok();
  return IoError("u-boot env copy " + std::to_string(copy) + ": " + what + " at offset " + std::to_string(offset) +
                 ": " + FlashErrorName(e));
}

}  // namespace

Store::Store(const StoreConfig& config) : config_(config) {}

Status Store::Validate() const {
  if (config_.copy[0] == nullptr) return InvalidArgument("u-boot env store: no flash for copy 0");
  const size_t h = HeaderSize(redundant());
  if (config_.size < h + 2 || config_.size > kMaxEnvSize) {
    return InvalidArgument("u-boot env store: copy size " + std::to_string(config_.size) + " is outside " +
                           std::to_string(h + 2) + ".." + std::to_string(kMaxEnvSize));
  }
  for (uint8_t i = 0; i < (redundant() ? 2 : 1); ++i) {
    Flash& f = *config_.copy[i];
    uint64_t need = RoundUp(config_.size, f.EraseBlockSize());
    if (need > f.Size()) {
      return InvalidArgument("u-boot env store: copy " + std::to_string(i) + " needs " + std::to_string(need) +
                             " bytes (size rounded up to the erase block of " + std::to_string(f.EraseBlockSize()) +
                             ") but its flash has " + std::to_string(f.Size()));
    }
  }
  return Status::Ok();
}

Result<Loaded> Store::Load() {
  FW_RETURN_IF_ERROR(Validate());
  Loaded out;
  const bool red = redundant();
  Env envs[2];
  bool valid[2] = {false, false};
  uint8_t flags[2] = {0, 0};
  Bytes buf(config_.size);
  for (uint8_t i = 0; i < (red ? 2 : 1); ++i) {
    FW_RETURN_IF_ERROR(FlashStatus(config_.copy[i]->Read(0, buf.data(), buf.size()), i, "reading", 0));
    auto decoded = DecodeCopy(buf, red);
    if (!decoded.ok()) {
      out.copies[i].error = decoded.status().message();
      continue;
    }
    valid[i] = out.copies[i].valid = true;
    flags[i] = out.copies[i].flags = decoded->flags;
    envs[i] = std::move(decoded->env);
  }
  if (!red) out.copies[1].error = "not configured (single environment)";
  std::optional<uint8_t> current = SelectCopy(config_.rule, valid, flags);
  if (!current) return out;
  out.found = true;
  out.copy = *current;
  out.flags = flags[*current];
  out.env = std::move(envs[*current]);
  return out;
}

// Erases the copy's erase blocks and programs `bytes` (padded with the erased value to
// the write alignment), block by block, then Sync and read back. Each erase and write is one Flash
// operation, so a power-cut sweep can stop between any two of them.
Status Store::WriteCopy(uint8_t index, const Bytes& bytes) {
  Flash& f = *config_.copy[index];
  const uint64_t eb = f.EraseBlockSize();
  const uint64_t erase_len = RoundUp(bytes.size(), eb);
  for (uint64_t off = 0; off < erase_len; off += eb) {
    FW_RETURN_IF_ERROR(FlashStatus(f.Erase(off, eb), index, "erasing", off));
  }
  Bytes padded = bytes;
  padded.resize(RoundUp(bytes.size(), f.WriteAlignment()), f.ErasedValue());
  for (uint64_t off = 0; off < padded.size(); off += eb) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(eb, padded.size() - off));
    FW_RETURN_IF_ERROR(FlashStatus(f.Write(off, padded.data() + off, n), index, "writing", off));
  }
  FW_RETURN_IF_ERROR(FlashStatus(f.Sync(), index, "syncing", 0));
  // Read back, like the boot-control store: a medium that silently dropped or altered the
  // write is an I/O error now, not a surprise at the next boot.
  Bytes check(bytes.size());
  FW_RETURN_IF_ERROR(FlashStatus(f.Read(0, check.data(), check.size()), index, "reading back", 0));
  if (check != bytes) {
    auto at = std::mismatch(check.begin(), check.end(), bytes.begin()).first - check.begin();
    return IoError("u-boot env copy " + std::to_string(index) + ": read-back differs at byte " + std::to_string(at));
  }
  return Status::Ok();
}

Status Store::Save(const Env& env) {
  FW_RETURN_IF_ERROR(Validate());
  if (!redundant()) {
    FW_ASSIGN_OR_RETURN(Bytes bytes, EncodeCopy(env, config_.size, false, 0));
    return WriteCopy(0, bytes);
  }
  FW_ASSIGN_OR_RETURN(Loaded cur, Load());
  // No valid copy: start over in copy 0 (flags 1 under both rules).
  const uint8_t target = cur.found ? static_cast<uint8_t>(1 - cur.copy) : 0;
  uint8_t flags = 1;
  if (cur.found && config_.rule == FlagsRule::kIncremental) flags = static_cast<uint8_t>(cur.flags + 1);
  FW_ASSIGN_OR_RETURN(Bytes bytes, EncodeCopy(env, config_.size, true, flags));
  FW_RETURN_IF_ERROR(WriteCopy(target, bytes));
  if (config_.rule != FlagsRule::kBoolean || !cur.found) return Status::Ok();

  // Boolean rule: mark the old copy obsolete (flags 0) now that the new one is durable.
  // Raw NOR would program the one byte 1→0; Flash refuses writes to programmed bytes
  // (ProgramNeedsErase()), so there the old copy is rewritten with flags 0: erased, it
  // is invalid and the new copy (flags 1) is in use; rewritten, it is valid but
  // obsolete. A cut at any step leaves the new copy in use. Where Flash overwrites
  // freely (files, block devices) only the write unit holding the flags byte changes.
  const uint8_t old = cur.copy;
  Flash& f = *config_.copy[old];
  if (f.ProgramNeedsErase()) {
    Bytes old_bytes(config_.size);
    FW_RETURN_IF_ERROR(FlashStatus(f.Read(0, old_bytes.data(), old_bytes.size()), old, "reading", 0));
    old_bytes[4] = kBooleanObsolete;
    return WriteCopy(old, old_bytes);
  }
  const uint32_t unit = f.WriteAlignment();
  const uint64_t at = 4 / unit * unit;
  Bytes chunk(unit);
  FW_RETURN_IF_ERROR(FlashStatus(f.Read(at, chunk.data(), unit), old, "reading", at));
  chunk[4 - at] = kBooleanObsolete;
  FW_RETURN_IF_ERROR(FlashStatus(f.Write(at, chunk.data(), unit), old, "marking obsolete", at));
  FW_RETURN_IF_ERROR(FlashStatus(f.Sync(), old, "syncing", 0));
  Bytes check(unit);
  FW_RETURN_IF_ERROR(FlashStatus(f.Read(at, check.data(), unit), old, "reading back", at));
  if (check != chunk) return IoError("u-boot env copy " + std::to_string(old) + ": read-back of the flags differs");
  return Status::Ok();
}

}  // namespace fw::boot::uenv
