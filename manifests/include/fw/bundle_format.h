// Offline bundle layout (manifests/docs/bundle-format.md) and the chunk index.
//
// A bundle is one POSIX tar archive whose entries appear in this order:
//   root/<N>.root.json ...   consecutive root versions, ascending (may be none)
//   timestamp.json           optional; if present, snapshot.json must follow
//   snapshot.json            optional (only with timestamp.json)
//   targets.json             required
//   chunk-index/<target>     SHA-256 of each chunk of the image, 32 bytes per chunk
//   image/<target>           the signed image, exactly the target's signed length
// <target> is the TUF target path; both names must carry the same one, and it
// must pass ValidateTargetName. After the image come the tar end-of-archive marker
// and, optionally, zero padding; any other byte after the marker is refused.
//
// The chunk index is signed indirectly: the target's custom.firmware holds its
// SHA-256 (chunk_index_sha256) and the chunk size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::bundle {

inline constexpr std::string_view kRootDir = "root/";
inline constexpr std::string_view kTimestampEntry = "timestamp.json";
inline constexpr std::string_view kSnapshotEntry = "snapshot.json";
inline constexpr std::string_view kTargetsEntry = "targets.json";
inline constexpr std::string_view kChunkIndexDir = "chunk-index/";
inline constexpr std::string_view kImageDir = "image/";

inline constexpr uint32_t kDefaultChunkSize = 64 * 1024;
inline constexpr uint32_t kMinChunkSize = 4 * 1024;
inline constexpr uint32_t kMaxChunkSize = 4 * 1024 * 1024;
inline constexpr uint32_t kMaxRootVersionsInBundle = 64;
inline constexpr size_t kChunkHashSize = 32;
// The longest signed image length a reader accepts: an image's payload is at most
// 1 GiB (image-format.md) and its header and TLV areas are far below 64 KiB.
inline constexpr uint64_t kMaxImageLength = (uint64_t{1} << 30) + (64 << 10);
// Target names: at most this many bytes (see ValidateTargetName).
inline constexpr size_t kMaxTargetNameBytes = 255;

// Number of chunks of an image of `length` bytes; exact for every length (no
// overflow near 2^64). `chunk_size` must be positive.
inline uint64_t ChunkCount(uint64_t length, uint32_t chunk_size) {
  return length / chunk_size + (length % chunk_size != 0 ? 1 : 0);
}

// The one rule for target names, shared by `fwsign repo add-target`, bundle
// creation and the bundle reader: 1..kMaxTargetNameBytes bytes of ASCII letters,
// digits and `. _ - + ~`, in components separated by single '/'; no empty, "." or
// ".." component (so no leading, trailing or doubled '/'). Non-ASCII (UTF-8) names
// and control characters are refused. The error (InvalidArgument) names the
// offending byte and its offset, with non-printable bytes shown as \xNN.
Status ValidateTargetName(std::string_view name);

// Refuses chunk sizes outside [kMinChunkSize, kMaxChunkSize].
Status ValidateChunkSize(uint64_t chunk_size);

// The chunk index of a file: SHA-256 of each `chunk_size` piece, concatenated.
Result<Bytes> ComputeChunkIndexFile(const std::string& path, uint32_t chunk_size);

}  // namespace fw::bundle
