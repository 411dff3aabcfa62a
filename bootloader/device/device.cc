#include "fw/boot/device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>

#include "fw/boot/bank_writer.h"
#include "fw/image.h"

namespace fw::boot {
namespace {

// Streams `size` bytes, read by `fill` in chunks, into the bank through a BankWriter.
Status WriteStream(Flash& bank, uint64_t size, size_t chunk,
                   const std::function<Status(uint64_t, std::span<uint8_t>)>& fill) {
  FW_ASSIGN_OR_RETURN(BankWriter writer, BankWriter::Create(bank, size));
  std::vector<uint8_t> buf(std::max<size_t>(chunk, 1));
  for (uint64_t off = 0; off < size;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    FW_RETURN_IF_ERROR(fill(off, {buf.data(), n}));
    FW_RETURN_IF_ERROR(writer.Append(off, {buf.data(), n}));
    off += n;
  }
  return writer.Finish();
}

// Creates or checks the files behind the layout's regions.
Status PrepareRegionFiles(const Layout& layout, bool force) {
  std::map<std::string, uint64_t> need;
  for (const RegionSpec& r : layout.regions) need[r.path] = std::max(need[r.path], r.offset + r.size);
  for (const auto& [path, size] : need) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      if (!force) return FailedPrecondition(path + " already exists; pass --force to re-provision over it");
      if (S_ISBLK(st.st_mode)) continue;  // size checked when opened
      if (!S_ISREG(st.st_mode)) return InvalidArgument(path + " is neither a regular file nor a block device");
    } else if (errno != ENOENT) {
      return IoError("cannot stat " + path + ": " + ErrnoText(errno));
    }
  }
  for (const auto& [path, size] : need) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) continue;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("cannot create " + path + ": " + ErrnoText(errno));
    struct stat fst {};
    int rc = ::fstat(fd, &fst);
    if (rc == 0 && static_cast<uint64_t>(fst.st_size) < size) rc = ::ftruncate(fd, static_cast<off_t>(size));
    if (rc == 0) rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return IoError("cannot size " + path + ": " + ErrnoText(err));
    FW_RETURN_IF_ERROR(SyncParentDir(path));
  }
  return Status::Ok();
}

}  // namespace

std::string SlotName(uint8_t slot) { return std::string(1, SlotLetter(slot)); }

Result<uint8_t> ParseSlot(const std::string& text) {
  if (text == "A" || text == "a" || text == "0") return uint8_t{0};
  if (text == "B" || text == "b" || text == "1") return uint8_t{1};
  return InvalidArgument("slot '" + text + "' must be A or B");
}

Status BankCheckStatus(const BankCheck& c) {
  std::string what = BankCheckName(c);
  switch (c.code) {
    case BankError::kOk:
      return Status::Ok();
    case BankError::kFlash:
      return IoError(what);
    case BankError::kNoImage:
    case BankError::kImageTooLarge:
      return Corrupt(what);
    case BankError::kRecordMismatch:
      return VerificationFailed(what);
    case BankError::kImage:
      break;
  }
  using image::Error;
  const image::ErrorInfo& e = c.image;
  switch (e.code) {
    case Error::kSecurityCounterTooLow:
      return VerificationFailed(what + ": image has " + std::to_string(e.value) + ", device requires at least " +
                                std::to_string(e.limit));
    case Error::kHashMismatch:
    case Error::kNoSignature:
    case Error::kUnknownKey:
    case Error::kBadSignature:
    case Error::kWrongKeyType:
    case Error::kWrongHardware:
      return VerificationFailed(what);
    default:
      return Corrupt(what + " (at byte " + std::to_string(e.offset) + ")");
  }
}

Status OpStatus(const OpResult& r) {
  std::string what = OpErrorName(r.code);
  switch (r.code) {
    case OpError::kOk:
      return Status::Ok();
    case OpError::kFlash:
      return IoError(what + ": " + FlashErrorName(r.flash));
    case OpError::kBadSlot:
    case OpError::kBadTries:
    case OpError::kBadProof:
      return InvalidArgument(what);
    case OpError::kInvalidState:
      return Corrupt(what);
    case OpError::kVerifyFailed:
      return BankCheckStatus(r.bank).WithContext(what);
    case OpError::kActiveSlot:
    case OpError::kTrialPending:
    case OpError::kNotPrepared:
    case OpError::kNoTrial:
    case OpError::kTrialNotBooted:
    case OpError::kWouldBrick:
    case OpError::kNoState:
      return FailedPrecondition(what);
  }
  return Internal(what);
}

Result<std::unique_ptr<Device>> Device::Open(const std::string& layout_path) {
  std::unique_ptr<Device> d(new Device());
  FW_ASSIGN_OR_RETURN(d->layout_, Layout::Load(layout_path));
  for (size_t i = 0; i < kRegionCount; ++i) {
    const RegionId id = static_cast<RegionId>(i);
    const RegionSpec& r = d->layout_.region(id);
    auto f = FileFlash::Open(r.path, r.offset, d->layout_.RegionGeometry(id));
    if (!f.ok()) return f.status().WithContext(std::string("region ") + std::string(RegionName(id)));
    d->flashes_[i] = std::move(*f);
  }
  FW_ASSIGN_OR_RETURN(d->trust_, TrustStore::Read(d->region(RegionId::kTrustStore)));
  d->hash_ = std::make_unique<HostHash>();
  d->keys_ = std::make_unique<HostKeyRing>(d->trust_.boot_keys);
  d->scratch_.resize(kVerifyBufferSize);
  BootEnv env;
  env.control[0] = &d->region(RegionId::kBootControl0);
  env.control[1] = &d->region(RegionId::kBootControl1);
  env.bank[0] = &d->region(RegionId::kBankA);
  env.bank[1] = &d->region(RegionId::kBankB);
  env.hash = d->hash_.get();
  env.keys = d->keys_.get();
  env.hardware_id = d->trust_.hardware_id.c_str();
  env.scratch = d->scratch_.data();
  env.scratch_size = d->scratch_.size();
  d->boot_ = std::make_unique<Bootloader>(env);
  const BootBackendType* type = FindBootBackendType(d->layout_.boot_control.type);
  if (type == nullptr) return Internal("unknown boot-control type " + d->layout_.boot_control.type);
  d->backend_ = type->open(env, d->layout_.boot_control);
  return d;
}

Status WriteImageToBank(Flash& bank, ByteSpan image, size_t chunk) {
  return WriteStream(bank, image.size(), chunk, [&](uint64_t off, std::span<uint8_t> out) {
    std::memcpy(out.data(), image.data() + off, out.size());
    return Status::Ok();
  });
}

Status Provision(const std::string& layout_path, const ProvisionSpec& spec) {
  // 1. Check everything before writing anything.
  FW_ASSIGN_OR_RETURN(Layout layout, Layout::Load(layout_path));
  if (spec.boot_keys.empty()) return InvalidArgument("at least one boot verification key is required");
  if (spec.boot_keys.size() > kMaxTrustedKeys) return InvalidArgument("too many boot keys");
  TrustStore trust;
  trust.hardware_id = spec.hardware_id;
  trust.boot_keys = spec.boot_keys;
  {
    ImageSpec check;
    check.hardware_id = spec.hardware_id;
    FW_RETURN_IF_ERROR(ValidateImageSpec(check));
  }
  if (trust.Serialize().size() + 8 > layout.region(RegionId::kTrustStore).size) {
    return InvalidArgument("the trust store does not fit the trust_store region");
  }
  ImagePolicy policy;
  policy.hardware_id = spec.hardware_id;
  FW_ASSIGN_OR_RETURN(ImageInfo info, VerifyImageFile(spec.image_path, spec.boot_keys, policy));
  if (info.image_size > layout.region(RegionId::kBankA).size) {
    return InvalidArgument("image " + spec.image_path + " (" + std::to_string(info.image_size) +
                           " bytes) does not fit bank A (" + std::to_string(layout.region(RegionId::kBankA).size) +
                           " bytes)");
  }
  FW_ASSIGN_OR_RETURN(File image, File::OpenRead(spec.image_path));
  FW_RETURN_IF_ERROR(PrepareRegionFiles(layout, spec.force));
  // The files now exist: compare their identity again (a path that did not exist at load
  // time was compared by name only).
  FW_RETURN_IF_ERROR(CheckDistinctStorage(layout).WithContext(layout_path));

  // 2. Write: boot control erased first (so a half-provisioned device never reads
  // as provisioned), trust store, bank A, bank B's first block, then the record.
  std::unique_ptr<FileFlash> f[kRegionCount];
  for (size_t i = 0; i < kRegionCount; ++i) {
    const RegionId id = static_cast<RegionId>(i);
    auto opened = FileFlash::Open(layout.region(id).path, layout.region(id).offset, layout.RegionGeometry(id));
    if (!opened.ok()) return opened.status().WithContext("region " + std::string(RegionName(id)));
    f[i] = std::move(*opened);
  }
  auto region = [&](RegionId id) -> FileFlash& { return *f[static_cast<size_t>(id)]; };
  for (RegionId id : {RegionId::kBootControl0, RegionId::kBootControl1}) {
    FlashError e = region(id).Erase(0, region(id).Size());
    if (e == FlashError::kOk) e = region(id).Sync();
    if (e != FlashError::kOk) return IoError("erasing " + std::string(RegionName(id)) + ": " + FlashErrorName(e));
  }
  FW_RETURN_IF_ERROR(trust.Write(region(RegionId::kTrustStore)));
  FW_RETURN_IF_ERROR_CTX(WriteStream(region(RegionId::kBankA), info.image_size, kVerifyBufferSize,
                                     [&](uint64_t off, std::span<uint8_t> out) { return image.ReadAt(off, out); }),
                         "bank A");
  FileFlash& bank_b = region(RegionId::kBankB);
  if (FlashError e = bank_b.Erase(0, bank_b.EraseBlockSize());
      e != FlashError::kOk || bank_b.Sync() != FlashError::kOk) {
    return IoError(std::string("erasing bank B: ") + FlashErrorName(e));
  }

  BootState state;
  state.active_slot = 0;
  state.booted_slot = kNoSlot;
  state.min_security_counter = info.security_counter;
  state.slots[0].state = SlotState::kConfirmed;
  state.slots[0].version = {info.version.major, info.version.minor, info.version.patch, info.version.build};
  state.slots[0].security_counter = info.security_counter;
  BootEnv env;  // the backend writes only the boot-control regions
  env.control[0] = &region(RegionId::kBootControl0);
  env.control[1] = &region(RegionId::kBootControl1);
  env.bank[0] = &region(RegionId::kBankA);
  env.bank[1] = &bank_b;
  const BootBackendType* type = FindBootBackendType(layout.boot_control.type);
  if (type == nullptr) return Internal("unknown boot-control type " + layout.boot_control.type);
  if (OpResult r = type->open(env, layout.boot_control)->Overwrite(state); !r.ok()) {
    return OpStatus(r).WithContext("writing the boot state (" + layout.boot_control.type + ")");
  }

  // 3. Read it back through the same path a boot takes.
  FW_ASSIGN_OR_RETURN(auto device, Device::Open(layout_path));
  BankCheck c = device->bootloader().VerifyBank(0, state.min_security_counter, nullptr);
  if (!c.ok()) return BankCheckStatus(c).WithContext("bank A after provisioning");
  return Status::Ok();
}

}  // namespace fw::boot
