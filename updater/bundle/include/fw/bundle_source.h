// Where a bundle's bytes come from: a sequential byte source the bundle reader
// (fw/bundle_reader.h) pulls from, once, front to back.
//
// Contract:
//   - Read(buf) fills up to buf.size() bytes from the current position and moves it on;
//     it returns how many (fewer than asked is fine), 0 only at the end. A source that
//     cannot go on (a medium or network failure mid-way) returns an error, kIoError
//     by preference; the reader reports it as it is (not as hostile input) and does
//     not call Read again.
//   - Name() is what messages and the flash history call the bundle (a path, a URL);
//     empty for an anonymous source (messages then say just "bundle").
//   - Size() is the total size in bytes when the source knows it (a file), nullopt
//     otherwise (a stream of unknown length). With it, the reader refuses a truncated
//     image before the first chunk is handed on.
//   - PeekAt(offset, buf) is optional: it reads exactly buf.size() bytes at `offset`,
//     beyond every byte Read has returned, without moving the position, and returns
//     true; a source that can only go forward (HTTP) returns false. The reader uses
//     it once, for the bytes after the image, so that a plan can refuse trailing bytes
//     before anything is written, and then never reads those bytes with Read: each
//     byte of the bundle is pulled at most once. Without it, those bytes are checked
//     when the stream reaches them (after the image was handed on).
// Ownership: the caller owns the source and keeps it alive while a reader uses it.
// Thread safety: none. The reader calls a source from one thread at a time (not
// always the one that made it: its read-ahead thread reads the image).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::bundle {

class BundleSource {
 public:
  virtual ~BundleSource() = default;
  virtual Result<size_t> Read(std::span<uint8_t> buf) = 0;
  virtual const std::string& Name() const = 0;
  virtual std::optional<uint64_t> Size() const = 0;
  virtual Result<bool> PeekAt(uint64_t offset, std::span<uint8_t> buf) {
    (void)offset;
    (void)buf;
    return false;
  }
};

// A local file, opened now (a missing or unreadable file is an I/O error naming it);
// its name is `path` as given. Knows its size and can peek.
Result<std::unique_ptr<BundleSource>> OpenFileSource(const std::string& path);

// Bytes in memory (not copied: they must outlive the source). Knows its size and can peek.
std::unique_ptr<BundleSource> MemorySource(ByteSpan bytes, std::string name = "");

// Opens the bundle when the caller is ready to read it (e.g. the installer, once it
// holds the terminal lock and the device may be updated at all).
using SourceOpener = std::function<Result<std::unique_ptr<BundleSource>>()>;
SourceOpener FileSourceOpener(std::string path);

}  // namespace fw::bundle
