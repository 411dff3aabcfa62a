// Internal to fw_bundle: libarchive's plain-tar reader fed from a BundleSource, and
// the check of what follows the image entry (zero padding only).
//
// Pulls the source forward in 64 KiB blocks, each byte once: libarchive is handed a
// block at a time, and the last block stays readable here, so the bytes after the
// image can be checked without reading anything twice. A source failure is kept and
// reported as it is (Error()), not as hostile input.
// Thread safety: none; one thread at a time (the reader's read-ahead thread reads the
// image through it).
#pragma once

#include <archive.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fw/bundle_source.h"
#include "fw/status.h"

namespace fw::bundle {

class TarStream {
 public:
  // Opens the tar stream: libarchive reads the first block now, so compressed or
  // non-tar input is refused here (kCorrupt, naming a known compression).
  static Result<std::unique_ptr<TarStream>> Open(BundleSource& source);
  ~TarStream();
  TarStream(const TarStream&) = delete;
  TarStream& operator=(const TarStream&) = delete;

  archive* get() const { return a_; }
  BundleSource& source() const { return source_; }
  // What libarchive has consumed: at an entry's header's end, where its data starts.
  Result<uint64_t> Consumed() const;
  // libarchive is never handed bytes at or beyond `end`.
  void Limit(uint64_t end) { limit_ = end; }
  // Why libarchive failed: the source's error if it failed, else kCorrupt(what: libarchive's reason).
  Status Error(const std::string& what) const;

  // Bytes from `from` (not before the current block) to the source's end must be
  // zero; reads the rest of the stream. Ending before `from` is a truncated image.
  Status CheckZeroFrom(uint64_t from);
  // The same before the image is read, from a source of `size` bytes, with PeekAt:
  // false (nothing pulled) when the source cannot peek.
  Result<bool> PeekZeroFrom(uint64_t from, uint64_t size);

 private:
  explicit TarStream(BundleSource& source);
  static la_ssize_t ReadBlock(archive* a, void* self, const void** buf);
  Status CheckZero(uint64_t at, ByteSpan bytes, uint64_t from) const;

  BundleSource& source_;
  archive* a_ = nullptr;
  std::vector<uint8_t> block_;  // the block last handed to libarchive: [block_start_, delivered_)
  uint64_t block_start_ = 0;
  uint64_t delivered_ = 0;
  uint64_t limit_ = std::numeric_limits<uint64_t>::max();
  Status source_status_;  // the source's failure, if any
  uint8_t magic_[8] = {};
  size_t magic_size_ = 0;
};

}  // namespace fw::bundle
