// Offline bundle reader (format: manifests/docs/bundle-format.md).
//
// Reads the tar in one forward pass with bounded memory (the read-ahead slots plus
// the chunk index) and never makes a temporary copy of the image:
//  1. metadata entries are admitted through tuf::TrustedSet against the device's
//     trusted metadata (root.json, and timestamp/snapshot/targets if present for
//     rollback checks) before anything else is read;
//  2. the target named by chunk-index/<target> must be listed by the verified
//     targets metadata, pass the firmware policy (hardware id, security counter),
//     and its chunk index must match custom.firmware.chunk_index_sha256;
//  3. image/<target> must have exactly the signed length; each chunk is hashed and
//     handed to `on_chunk` only after it matched the signed chunk index. Reading
//     and hashing run ahead on a second thread (at most 4 MiB in flight), so they
//     overlap the sink's work; `on_chunk` is always called on the caller's thread,
//     in image order, with one or more whole verified chunks (about 1 MiB).
// Refused: links and any non-regular entry, absolute paths, "..", duplicate names,
// entries out of order, unknown entries, sizes beyond caps or the signed length,
// target names that fail ValidateTargetName, signed chunk sizes, lengths or versions
// out of range, anything after the image, non-zero bytes after the tar
// end-of-archive marker, compressed or non-tar input. Every refusal of the bundle's
// bytes is kCorrupt or kVerificationFailed (exit 3); kIoError/kNotFound only for a
// source that cannot be read.
//
// One pass (BundleReader): ReadHead stops after the metadata, the chunk index, the
// image entry's tar header (checked: a regular, non-sparse file, the expected name,
// exactly the signed length) and the image's first chunk (verified against the chunk
// index), so an installer can decide everything decidable from headers before it
// writes; ReadImage then continues the same stream, handing on the first chunk and
// the rest. The source (fw/bundle_source.h) is pulled forward only, each byte at most
// once. What follows the image must be zero padding: when the source knows its size
// and can peek, ReadHead checks that (and that the image is not truncated) before
// returning; otherwise ReadImage checks it when the stream gets there. A source's
// failure is reported as it is (kIoError), not as hostile input.
//
// Thread safety: none; one reader per bundle, used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/bundle_source.h"
#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::bundle {

struct ReaderOptions {
  std::string metadata_dir;       // the device's trusted TUF metadata (root.json required)
  tuf::FirmwarePolicy policy;     // hardware id, installed security counter
  Clock* clock = &SystemClock();  // reference time for expiry (WallSeconds)
};

struct VerifiedBundle {
  std::string target_path;
  tuf::TargetFile target;
  tuf::FirmwareFacts facts;
  // Metadata admitted from the bundle, raw bytes: root versions (ascending), and
  // timestamp/snapshot (may be empty) and targets.
  std::vector<std::string> new_roots;
  std::string timestamp, snapshot, targets;
};

// What head mode returns: the verified metadata and the image's first chunk
// (min(chunk_size, length) bytes, verified against the signed chunk index; it holds
// the image header).
struct BundleHead {
  VerifiedBundle bundle;
  Bytes first_chunk;
};

// Called with verified bytes in image order: their byte offset in the image and one
// or more whole chunks. After it fails it is not called again.
using ChunkSink = std::function<Status(uint64_t offset, ByteSpan chunk)>;
// Called once the metadata and chunk index are verified, before the first chunk.
using MetadataSink = std::function<Status(const VerifiedBundle&)>;

// One forward pass over a bundle: ReadHead, then (to go on) ReadImage. After an error,
// or after ReadImage, the reader is spent. Errors carry the context "bundle NAME".
class BundleReader {
 public:
  // Reads the first block of `source` (which must outlive the reader): compressed or
  // non-tar input is refused here. `options` is copied.
  static Result<std::unique_ptr<BundleReader>> Open(BundleSource& source, const ReaderOptions& options);
  ~BundleReader();
  BundleReader(const BundleReader&) = delete;
  BundleReader& operator=(const BundleReader&) = delete;

  // `on_metadata` is called once the metadata and the chunk index are verified.
  Result<BundleHead> ReadHead(const MetadataSink& on_metadata = {});
  // Every verified chunk, the first one included, in image order, then the end of the bundle.
  Result<VerifiedBundle> ReadImage(const ChunkSink& on_chunk);

 private:
  class Impl;
  explicit BundleReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The whole pass at once.
Result<VerifiedBundle> ReadBundle(BundleSource& source, const ReaderOptions& options, const ChunkSink& on_chunk,
                                  const MetadataSink& on_metadata = {});
Result<VerifiedBundle> ReadBundleFile(const std::string& path, const ReaderOptions& options, const ChunkSink& on_chunk,
                                      const MetadataSink& on_metadata = {});
Result<VerifiedBundle> ReadBundleMemory(ByteSpan bundle, const ReaderOptions& options, const ChunkSink& on_chunk,
                                        const MetadataSink& on_metadata = {});

// ReadHead alone.
Result<BundleHead> ReadBundleHeadFile(const std::string& path, const ReaderOptions& options);
Result<BundleHead> ReadBundleHeadMemory(ByteSpan bundle, const ReaderOptions& options);

}  // namespace fw::bundle
