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
// bytes is kCorrupt or kVerificationFailed (exit 3); kIoError/kNotFound only for
// files that cannot be read.
//
// Head mode (ReadBundleHead*) stops after the metadata, the chunk index, the image
// entry's tar header (checked: regular file, expected name, exactly the signed
// length) and the image's first chunk (verified against the chunk index), so an
// installer can decide everything decidable from headers before it writes.
//
// The reader writes nothing. On success it returns the admitted metadata bytes so
// the installer can persist them once the update is committed. If `on_chunk`
// fails, or a later check fails, the caller must discard what it wrote (the
// installer writes to the inactive bank and marks it bootable only on success).
//
// Thread safety: none; one call per bundle.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::bundle {

struct ReaderOptions {
  std::string metadata_dir;    // the device's trusted TUF metadata (root.json required)
  tuf::FirmwarePolicy policy;  // hardware id, installed security counter
  std::optional<int64_t> now;  // reference time for expiry; default: time()
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

Result<VerifiedBundle> ReadBundleFile(const std::string& path, const ReaderOptions& options, const ChunkSink& on_chunk,
                                      const MetadataSink& on_metadata = {});
Result<VerifiedBundle> ReadBundleMemory(ByteSpan bundle, const ReaderOptions& options, const ChunkSink& on_chunk,
                                        const MetadataSink& on_metadata = {});

Result<BundleHead> ReadBundleHeadFile(const std::string& path, const ReaderOptions& options);
Result<BundleHead> ReadBundleHeadMemory(ByteSpan bundle, const ReaderOptions& options);

}  // namespace fw::bundle
