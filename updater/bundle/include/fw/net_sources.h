// Bundle sources over the network (library fw_bundle_net): the streaming installer's inputs.
// Nothing here verifies anything on its own authority: every byte these sources hand out goes
// through the bundle reader (fw/bundle_reader.h), which checks metadata, the chunk index and each
// chunk against signed metadata before the installer writes it. The sources only make sure a
// network fault costs a retry instead of the install.
//
// 1. StreamBundleSource: an offline bundle (tar, bundle-format.md) read from a ByteStream, e.g. a
//    bundle file on a web server (`fwupdate install https://host/pos-fw-1.3.0.tar`).
// 2. OpenTargetStream: a bundle assembled on the fly from a TUF repository (what the agent and
//    `fwupdate install --repository URL --target NAME` use; docs/agent.md, "Streaming"):
//      root/<N>.root.json for every root version above `device_root_version` the updater's
//      metadata directory holds (tuf::Updater keeps each admitted root as root.history/N.root.json),
//      timestamp.json, snapshot.json, targets.json (the bytes as stored by the refresh),
//      chunk-index/<target> (fetched from the repository's content-addressed chunk-index file,
//      see manifests/docs/tuf.md "Chunk index files"),
//      image/<target> (streamed from the repository's target file).
//    The tar headers are generated (ustar, deterministic); the reader sees a normal bundle.
//    Before handing out a chunk of the image the source hashes it against the chunk index; a
//    mismatch (a corrupted byte in transit) re-fetches that chunk (Seek), at most
//    `max_chunk_refetches` times per chunk, and never returns the bad bytes. A dropped connection
//    resumes from the first byte not yet returned (HttpStream).
// Ownership: sources own their streams. Thread safety: none (BundleSource's rules).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fw/bundle_source.h"
#include "fw/byte_stream.h"
#include "fw/http_stream.h"

namespace fw::bundle {

// Name() = the stream's name; Size() = the stream's size when known; cannot peek.
std::unique_ptr<BundleSource> StreamBundleSource(std::unique_ptr<net::ByteStream> stream);

// Opens a URL as a stream (HttpStream::Open in production; tests inject memory streams).
using StreamOpener = std::function<Result<std::unique_ptr<net::ByteStream>>(const std::string& url)>;
StreamOpener HttpStreamOpener(net::StreamOptions options, Clock& clock = SystemClock());

struct TargetStreamSpec {
  std::string metadata_dir;          // a refreshed tuf::Updater's metadata directory
  uint32_t device_root_version = 0;  // roots above it are put in the stream
  std::string target_path;           // the TUF target path (top-level targets only)
  std::string target_base_url;       // REPO/targets/ (a trailing '/' is added)
  uint32_t max_chunk_refetches = 3;  // per chunk
  StreamOpener open;                 // required
};

struct TargetStreamStats {
  uint64_t chunks_refetched = 0;  // chunks that failed their hash and were fetched again
};

// Reads the metadata and resolves the target (kNotFound if the top-level targets do not list it;
// kCorrupt/kVerificationFailed if the stored metadata does not parse); fetches the chunk index
// (bounded by the signed length, checked against custom.firmware.chunk_index_sha256) now; opens the
// image stream lazily at the first image byte.
Result<std::unique_ptr<BundleSource>> OpenTargetStream(const TargetStreamSpec& spec,
                                                       TargetStreamStats* stats = nullptr);

}  // namespace fw::bundle
