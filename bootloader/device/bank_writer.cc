#include "fw/boot/bank_writer.h"

#include <algorithm>

namespace fw::boot {

Result<BankWriter> BankWriter::Create(Flash& bank, uint64_t image_size) {
  const uint64_t align = bank.WriteAlignment();
  const uint64_t padded = (image_size + align - 1) / align * align;
  if (image_size == 0) return InvalidArgument("the image is empty");
  if (padded > bank.Size()) {
    return InvalidArgument("image of " + std::to_string(image_size) + " bytes does not fit the " +
                           std::to_string(bank.Size()) + "-byte bank");
  }
  return BankWriter(bank, image_size);
}

Status BankWriter::EraseThrough(uint64_t end) {
  const uint64_t block = bank_->EraseBlockSize();
  if (!bank_->ProgramNeedsErase()) {  // files / block devices: writes overwrite in place
    erased_end_ = std::max(erased_end_, (end + block - 1) / block * block);
    return Status::Ok();
  }
  while (erased_end_ < end) {
    if (FlashError e = bank_->Erase(erased_end_, block); e != FlashError::kOk) {
      return IoError("erasing bank at " + std::to_string(erased_end_) + ": " + FlashErrorName(e));
    }
    erased_end_ += block;
  }
  return Status::Ok();
}

Status BankWriter::Program(uint64_t offset, const uint8_t* data, size_t len) {
  FW_RETURN_IF_ERROR(EraseThrough(offset + len));
  if (FlashError e = bank_->Write(offset, data, len); e != FlashError::kOk) {
    return IoError("writing bank at " + std::to_string(offset) + ": " + FlashErrorName(e));
  }
  return Status::Ok();
}

Status BankWriter::Append(uint64_t offset, ByteSpan data) {
  if (offset != appended_) {
    return Internal("bank writer: chunk at " + std::to_string(offset) + ", expected " + std::to_string(appended_));
  }
  if (data.size() > image_size_ - appended_) {
    return InvalidArgument("bank writer: more bytes than the image's " + std::to_string(image_size_));
  }
  const size_t align = bank_->WriteAlignment();
  size_t used = 0;
  // Complete a pending partial unit first.
  if (!pending_.empty()) {
    size_t take = std::min(align - pending_.size(), data.size());
    pending_.insert(pending_.end(), data.begin(), data.begin() + static_cast<long>(take));
    used = take;
    if (pending_.size() == align) {
      FW_RETURN_IF_ERROR(Program(appended_ + used - align, pending_.data(), align));
      pending_.clear();
    }
  }
  // Whole units straight from the caller's buffer; keep the remainder.
  size_t whole = (data.size() - used) / align * align;
  if (whole > 0) FW_RETURN_IF_ERROR(Program(appended_ + used, data.data() + used, whole));
  pending_.insert(pending_.end(), data.begin() + static_cast<long>(used + whole), data.end());
  appended_ += data.size();
  return Status::Ok();
}

Status BankWriter::Finish() {
  if (appended_ != image_size_) {
    return Internal("bank writer: finished after " + std::to_string(appended_) + " of " + std::to_string(image_size_) +
                    " bytes");
  }
  if (!pending_.empty()) {
    const size_t align = bank_->WriteAlignment();
    const uint64_t at = appended_ - pending_.size();
    pending_.resize(align, bank_->ErasedValue());
    FW_RETURN_IF_ERROR(Program(at, pending_.data(), align));
    pending_.clear();
  }
  if (FlashError e = bank_->Sync(); e != FlashError::kOk)
    return IoError(std::string("syncing bank: ") + FlashErrorName(e));
  return Status::Ok();
}

}  // namespace fw::boot
