#include "tar_stream.h"

#include <algorithm>
#include <cerrno>

namespace fw::bundle {
namespace {

constexpr size_t kBlock = 64 * 1024;

// Bundles are plain tar: name the usual compressions so the refusal is clear.
std::string NotTarMessage(ByteSpan head) {
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    return head.size() >= magic.size() && std::equal(magic.begin(), magic.end(), head.begin());
  };
  if (starts({0x1f, 0x8b})) return "a gzip-compressed file; bundles are uncompressed tar archives";
  if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00})) return "an xz-compressed file; bundles are uncompressed tar archives";
  if (starts({'B', 'Z', 'h'})) return "a bzip2-compressed file; bundles are uncompressed tar archives";
  if (starts({0x28, 0xb5, 0x2f, 0xfd})) return "a zstd-compressed file; bundles are uncompressed tar archives";
  return "not a tar archive";
}

}  // namespace

TarStream::TarStream(BundleSource& source) : source_(source), block_(kBlock) {}

TarStream::~TarStream() {
  if (a_) archive_read_free(a_);
}

Result<std::unique_ptr<TarStream>> TarStream::Open(BundleSource& source) {
  std::unique_ptr<TarStream> s(new TarStream(source));
  s->a_ = archive_read_new();
  if (!s->a_) return Internal("archive_read_new failed");
  archive_read_support_format_tar(s->a_);  // plain tar only: no compression filters, no other formats
  if (archive_read_open(s->a_, s.get(), nullptr, &TarStream::ReadBlock, nullptr) != ARCHIVE_OK) {
    if (!s->source_status_.ok()) return s->source_status_;
    const char* e = archive_error_string(s->a_);
    return Corrupt(NotTarMessage({s->magic_, s->magic_size_}) + " (" + (e ? e : "unrecognized format") + ")");
  }
  return s;
}

la_ssize_t TarStream::ReadBlock(archive* a, void* self, const void** buf) {
  auto* s = static_cast<TarStream*>(self);
  if (!s->source_status_.ok()) return -1;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(s->block_.size(), s->limit_ - s->delivered_));
  if (want == 0) return 0;
  auto n = s->source_.Read({s->block_.data(), want});
  if (!n.ok()) {
    s->source_status_ = n.status();
    archive_set_error(a, EIO, "%s", n.status().message().c_str());
    return -1;
  }
  if (s->delivered_ == 0) {
    s->magic_size_ = std::min(*n, sizeof s->magic_);
    std::copy_n(s->block_.data(), s->magic_size_, s->magic_);
  }
  s->block_start_ = s->delivered_;
  s->delivered_ += *n;
  *buf = s->block_.data();
  return static_cast<la_ssize_t>(*n);
}

Result<uint64_t> TarStream::Consumed() const {
  const la_int64_t at = archive_filter_bytes(a_, -1);
  if (at < 0) return Internal("libarchive did not report its position");
  return static_cast<uint64_t>(at);
}

Status TarStream::Error(const std::string& what) const {
  if (!source_status_.ok()) return source_status_;
  const char* e = archive_error_string(a_);
  return Corrupt(what + ": " + (e ? e : "unknown error"));
}

Status TarStream::CheckZero(uint64_t at, ByteSpan bytes, uint64_t from) const {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (at + i >= from && bytes[i] != 0) {
      return Corrupt("non-zero byte at offset " + std::to_string(at + i) +
                     " after the image entry: only the tar end-of-archive marker and zero padding may follow it");
    }
  }
  return Status::Ok();
}

Status TarStream::CheckZeroFrom(uint64_t from) {
  if (from < block_start_) return Internal("the bytes after the image were already passed on");
  FW_RETURN_IF_ERROR(CheckZero(block_start_, {block_.data(), delivered_ - block_start_}, from));
  std::vector<uint8_t> buf(kBlock);
  uint64_t at = delivered_;
  while (true) {
    auto n = source_.Read(buf);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    FW_RETURN_IF_ERROR(CheckZero(at, {buf.data(), *n}, from));
    at += *n;
  }
  if (at < from) return Corrupt("the image entry is truncated");
  return Status::Ok();
}

Result<bool> TarStream::PeekZeroFrom(uint64_t from, uint64_t size) {
  if (from < block_start_) return Internal("the bytes after the image were already passed on");
  uint64_t at = std::max(from, delivered_);
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(kBlock, size - std::min(size, at))));
  while (at < size) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - at));
    FW_ASSIGN_OR_RETURN(bool peeked, source_.PeekAt(at, {buf.data(), n}));
    if (!peeked) return false;
    FW_RETURN_IF_ERROR(CheckZero(at, {buf.data(), n}, from));
    at += n;
  }
  FW_RETURN_IF_ERROR(CheckZero(block_start_, {block_.data(), delivered_ - block_start_}, from));
  limit_ = std::min(limit_, from);  // checked: libarchive needs nothing from here on
  return true;
}

}  // namespace fw::bundle
